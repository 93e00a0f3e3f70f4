/* Private to otlp/: the open-addressing hash index behind each dictionary table, and the
 * raw table appends that interning and the decoders share. */
#ifndef OPD_OTLP_INTERN_H
#define OPD_OTLP_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp/profiles.h"

/* True when table entry idx equals the candidate key. */
typedef bool (*opd_intern_eq_fn)(const struct opd_dict *d, int32_t idx, const void *key);

/* Creates an empty index; NULL with errno = ENOMEM. */
struct opd_intern *opd_intern_create(void);
/* Frees the index; NULL is a no-op. */
void opd_intern_destroy(struct opd_intern *ix);
/* Returns the index of the entry equal to key, or -1. */
int32_t opd_intern_find(const struct opd_intern *ix, uint32_t hash, opd_intern_eq_fn eq,
                        const struct opd_dict *d, const void *key);
/* Makes room for one more insert, so the insert that follows cannot fail. 0 or -ENOMEM. */
int opd_intern_reserve(struct opd_intern *ix);
/* Records idx under hash; needs a successful opd_intern_reserve() first. */
void opd_intern_insert(struct opd_intern *ix, uint32_t hash, int32_t idx);

/* Hashing helpers: fold bytes or a 64-bit word into a running 64-bit state. */
uint64_t opd_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t opd_hash_u64(uint64_t h, uint64_t v);
uint32_t opd_hash_final(uint64_t h);

/* Sets up d (using arena a) with the seven zero entries. 0 or -ENOMEM; on failure d is
 * left finalizable. */
int opd_dict_init(struct opd_dict *d, struct opd_arena *a);
/* Frees the tables and indexes (not the arena). */
void opd_dict_fini(struct opd_dict *d);

/* Appends an entry without looking for a duplicate (decoders build a raw dictionary
 * this way, then check it and re-intern it). Arrays and strings are copied into the
 * arena. Return the new index or -ENOMEM. */
int32_t opd_dict_push_string(struct opd_dict *d, const char *s, size_t len);
int32_t opd_dict_push_function(struct opd_dict *d, const struct opd_function *f);
int32_t opd_dict_push_mapping(struct opd_dict *d, const struct opd_mapping *m);
int32_t opd_dict_push_location(struct opd_dict *d, const struct opd_location *l);
int32_t opd_dict_push_stack(struct opd_dict *d, const int32_t *loc, size_t n);
int32_t opd_dict_push_attribute(struct opd_dict *d, const struct opd_attribute *a);
int32_t opd_dict_push_link(struct opd_dict *d, const uint8_t trace_id[16],
                           const uint8_t span_id[8]);

/* Copies v into the arena (strings and bytes). 0 or -ENOMEM. */
int opd_value_copy(struct opd_arena *a, struct opd_value *dst, const struct opd_value *src);
/* Value equality by type and content (doubles by bit pattern). */
bool opd_value_equal(const struct opd_value *x, const struct opd_value *y);

/* True when the profile has a profile id; all zeros counts as none (it is invalid, and
 * the Collector treats it as empty). */
bool opd_profile_id_set(const struct opd_profile *p);

/* Checks with the decoders' leniency: zero entries and index ranges only (what merging
 * needs to be safe); strict adds the rest of opd_batch_check(). */
int opd_batch_check_mode(const struct opd_batch *b, bool strict, char *err, size_t errlen);

/* Decoders: a raw batch starts with empty tables, filled verbatim with opd_dict_push_*
 * (an input table left empty stands for its zero entry alone). opd_batch_finish_raw()
 * checks it and re-interns it into a fresh batch (dropping duplicates); it always consumes
 * raw. NULL with errno = EINVAL or ENOMEM. */
struct opd_batch *opd_batch_create_raw(void);
struct opd_batch *opd_batch_finish_raw(struct opd_batch *raw, char *err, size_t errlen);

#endif
