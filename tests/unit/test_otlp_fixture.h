/* Shared by the otlp unit tests: a realistic batch and a field-by-field comparison. */
#ifndef OPD_TEST_OTLP_FIXTURE_H
#define OPD_TEST_OTLP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "otlp/profiles.h"

/* Two processes (resources), one scope each, a CPU profile (samples/count, period
 * cpu/nanoseconds) with kernel + native stacks, thread.name sample attributes,
 * profile.frame.type location attributes, mappings with build ids, one trace link.
 * Returns NULL (errno = ENOMEM) when an allocation fails. */
struct opd_batch *otlp_fixture_batch(void);

/* The fixture plus every optional field: profile id, original payload, dropped counts,
 * double/bool/bytes dictionary attributes with a unit, scope attributes and schema url. */
struct opd_batch *otlp_fixture_rich(void);

/* Adds n_samples samples over n_stacks distinct stacks of the given depth to a new
 * batch (deterministic). NULL on allocation failure. */
struct opd_batch *otlp_fixture_synthetic(size_t n_samples, size_t n_stacks, size_t depth);

/* Fails the running cmocka test unless a and b hold the same data, field by field and
 * index by index. */
void otlp_assert_batch_equal(const struct opd_batch *a, const struct opd_batch *b);

/* Reads a whole file into a NUL-terminated malloc'ed buffer; NULL on error. */
char *otlp_read_file(const char *path, size_t *len);

#endif
