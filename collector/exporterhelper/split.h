/* Request splitting: a batch whose protobuf encoding exceeds a byte bound is cut into
 * parts by resource / scope / profile / sample ranges, each part a complete request with
 * its own dictionary holding only what its samples reference (so every part passes the
 * receiver's invariant checks on its own). */
#ifndef OPD_EH_SPLIT_H
#define OPD_EH_SPLIT_H

#include <stddef.h>
#include <stdint.h>

struct opd_batch;

/* Called once per encoded part, in sample order; takes ownership of buf (free()).
 * Returns 0 to go on or -errno to stop. */
typedef int (*opd_split_emit_fn)(void *arg, uint8_t *buf, size_t len, uint64_t items);

/* Encodes b with opd_proto_encode (json = 0) or opd_json_encode (json = 1) and emits it,
 * or, when larger than max_bytes, emits parts no larger than max_bytes (a single sample
 * bigger than the bound is emitted alone). Returns the number of parts (>= 1), or -errno
 * (-ENOMEM, an encoder error or the emitter's). */
int opd_split_encode(const struct opd_batch *b, size_t max_bytes, int json, opd_split_emit_fn emit,
                     void *arg);

/* Builds a new batch with the samples [lo, hi) of b (counted over all resources, scopes
 * and profiles in order) and a minimal dictionary. NULL with errno on failure. */
struct opd_batch *opd_split_range(const struct opd_batch *b, size_t lo, size_t hi);

/* Total number of Sample messages in b. */
size_t opd_split_sample_msgs(const struct opd_batch *b);

struct opd_exporterhelper;
struct opd_metric;

/* The consume path shared by the OTLP exporters: takes ownership of b, drops it when it
 * holds no samples (a Collector drops such requests), encodes it as protobuf or OTLP/JSON in
 * parts of at most max_request_bytes, each with its own dictionary, and submits every part.
 * split (may be NULL) counts the extra parts. Returns 0, the first part's submit error, or
 * the encoding error (logged under logname). */
int opd_eh_consume_batch(struct opd_exporterhelper *eh, struct opd_batch *b,
                         size_t max_request_bytes, int json, const char *logname,
                         struct opd_metric *split);

#endif
