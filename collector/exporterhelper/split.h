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

#endif
