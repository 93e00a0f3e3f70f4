/* The profile data model: one batch = one OTLP ExportProfilesServiceRequest.
 *
 *   batch ─ resources[] ─ scopes[] ─ profiles[] ─ samples[]
 *     └── dict: string, function, mapping, location, stack, attribute, link tables
 *
 * Every table of the dictionary holds its zero entry at index 0 and never a duplicate:
 * entries are interned (opd_dict_*) and an index is returned. Strings and byte blobs
 * of the batch live in its arena; arrays are heap vectors owned by the batch.
 *
 * Ownership: a batch has an atomic reference count. consume() moves the caller's
 * reference; a fanout hands read-only references to several exporters with
 * opd_batch_ref(). A batch marked readonly must not be changed; clone it first.
 * Pointers returned by opd_*_add_* stay valid until the next add on the same parent. */
#ifndef OPD_PROFILES_H
#define OPD_PROFILES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena -------------------------------------------------------------------------- */

struct opd_arena_chunk;

struct opd_arena {
    struct opd_arena_chunk *head;
    size_t bytes; /* total bytes handed out */
};

void opd_arena_init(struct opd_arena *a);
void opd_arena_fini(struct opd_arena *a);
/* Returns 8-byte aligned memory owned by the arena, or NULL. */
void *opd_arena_alloc(struct opd_arena *a, size_t n);
char *opd_arena_strdup(struct opd_arena *a, const char *s);
char *opd_arena_strndup(struct opd_arena *a, const char *s, size_t n);

/* ---- values ------------------------------------------------------------------------- */

enum opd_value_type {
    OPD_VAL_EMPTY = 0,
    OPD_VAL_STR,
    OPD_VAL_BOOL,
    OPD_VAL_INT,
    OPD_VAL_DOUBLE,
    OPD_VAL_BYTES,
};

struct opd_value {
    enum opd_value_type type;
    union {
        const char *str; /* arena */
        bool b;
        int64_t i;
        double d;
        struct {
            const uint8_t *data; /* arena */
            size_t len;
        } bytes;
    } u;
};

/* An inline key/value (resource and scope attributes use inline keys and values; see
 * the Collector gotcha in the reference notes). */
struct opd_kv {
    const char *key; /* arena */
    struct opd_value value;
};

struct opd_attrs {
    struct opd_kv *v;
    size_t n, cap;
};

/* ---- dictionary tables --------------------------------------------------------------- */

struct opd_value_type_ref {
    int32_t type_strindex;
    int32_t unit_strindex;
};

struct opd_function {
    int32_t name_strindex;
    int32_t system_name_strindex;
    int32_t filename_strindex;
    int64_t start_line;
};

struct opd_mapping {
    uint64_t memory_start;
    uint64_t memory_limit;
    uint64_t file_offset;
    int32_t filename_strindex;
    const int32_t *attr_indices; /* arena once interned */
    size_t n_attr;
};

struct opd_line {
    int32_t function_index;
    int64_t line;
    int64_t column;
};

struct opd_location {
    int32_t mapping_index;
    uint64_t address;
    const struct opd_line *lines; /* inlined frames first; arena once interned */
    size_t n_lines;
    const int32_t *attr_indices; /* arena once interned */
    size_t n_attr;
};

struct opd_stack {
    const int32_t *location_indices; /* leaf first; arena once interned */
    size_t n;
};

/* KeyValueAndUnit. String values are stored inline (value.type == OPD_VAL_STR). */
struct opd_attribute {
    int32_t key_strindex;
    struct opd_value value;
    int32_t unit_strindex;
};

struct opd_link {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    bool set; /* false for the zero entry (encoded with empty byte strings) */
};

struct opd_intern; /* hash index over one table, private to dict.c */

struct opd_dict {
    struct opd_arena *arena; /* the owning batch's arena */

    const char **strings;
    size_t n_strings, cap_strings;
    struct opd_function *functions;
    size_t n_functions, cap_functions;
    struct opd_mapping *mappings;
    size_t n_mappings, cap_mappings;
    struct opd_location *locations;
    size_t n_locations, cap_locations;
    struct opd_stack *stacks;
    size_t n_stacks, cap_stacks;
    struct opd_attribute *attributes;
    size_t n_attributes, cap_attributes;
    struct opd_link *links;
    size_t n_links, cap_links;

    struct opd_intern *ix_strings, *ix_functions, *ix_mappings, *ix_locations, *ix_stacks,
        *ix_attributes, *ix_links;
};

/* Interning. Each returns the entry's index (>= 0; 0 for the zero value) or -ENOMEM.
 * Input arrays and strings are copied into the batch arena. */
int32_t opd_dict_string(struct opd_dict *d, const char *s);
int32_t opd_dict_stringn(struct opd_dict *d, const char *s, size_t len);
int32_t opd_dict_function(struct opd_dict *d, const struct opd_function *f);
int32_t opd_dict_mapping(struct opd_dict *d, const struct opd_mapping *m);
int32_t opd_dict_location(struct opd_dict *d, const struct opd_location *l);
int32_t opd_dict_stack(struct opd_dict *d, const int32_t *location_indices, size_t n);
int32_t opd_dict_attribute(struct opd_dict *d, const struct opd_attribute *a);
int32_t opd_dict_link(struct opd_dict *d, const uint8_t trace_id[16], const uint8_t span_id[8]);
/* Conveniences: interns the key (and a string value) then the attribute. */
int32_t opd_dict_attr_str(struct opd_dict *d, const char *key, const char *value);
int32_t opd_dict_attr_int(struct opd_dict *d, const char *key, int64_t value);

/* Returns the string at index i, or "" when out of range. */
const char *opd_dict_str(const struct opd_dict *d, int32_t i);

/* ---- resources, scopes, profiles, samples ------------------------------------------- */

struct opd_sample {
    int32_t stack_index;
    int32_t link_index;
    int32_t *attr_indices;
    size_t n_attr;
    int64_t *values;
    size_t n_values;
    uint64_t *timestamps;
    size_t n_timestamps;
};

struct opd_profile {
    struct opd_value_type_ref sample_type;
    struct opd_value_type_ref period_type;
    int64_t period;
    uint64_t time_unix_nano;
    uint64_t duration_nano;
    uint8_t profile_id[16];
    bool has_profile_id;
    uint32_t dropped_attributes_count;
    const char *original_payload_format; /* arena or NULL */
    const uint8_t *original_payload;     /* arena or NULL */
    size_t original_payload_len;
    int32_t *attr_indices;
    size_t n_attr;
    struct opd_sample *samples;
    size_t n_samples, cap_samples;
};

struct opd_scope {
    const char *name;       /* arena or NULL */
    const char *version;    /* arena or NULL */
    const char *schema_url; /* arena or NULL */
    struct opd_attrs attrs;
    uint32_t dropped_attributes_count;
    struct opd_profile *profiles;
    size_t n_profiles, cap_profiles;
};

struct opd_resource {
    struct opd_attrs attrs;
    uint32_t dropped_attributes_count;
    const char *schema_url; /* arena or NULL */
    struct opd_scope *scopes;
    size_t n_scopes, cap_scopes;
};

struct opd_batch {
    _Atomic int refs;
    bool readonly;
    struct opd_arena arena;
    struct opd_dict dict;
    struct opd_resource *resources;
    size_t n_resources, cap_resources;
};

/* Creates an empty batch (refs = 1) whose dictionary holds the seven zero entries.
 * NULL with errno = ENOMEM on failure. */
struct opd_batch *opd_batch_create(void);
/* Takes one more reference. */
struct opd_batch *opd_batch_ref(struct opd_batch *b);
/* Drops one reference; the last frees the batch. NULL is a no-op. */
void opd_batch_unref(struct opd_batch *b);
/* Deep copy with refs = 1, not readonly. NULL with errno on failure. */
struct opd_batch *opd_batch_clone(const struct opd_batch *b);

/* Appends to the batch's lists. NULL on -ENOMEM. */
struct opd_resource *opd_batch_add_resource(struct opd_batch *b);
struct opd_scope *opd_resource_add_scope(struct opd_batch *b, struct opd_resource *r,
                                         const char *name, const char *version);
struct opd_profile *opd_scope_add_profile(struct opd_batch *b, struct opd_scope *s);
/* Copies tmpl (and its arrays) into a new sample of p; returns 0 or -ENOMEM. */
int opd_profile_add_sample(struct opd_batch *b, struct opd_profile *p,
                           const struct opd_sample *tmpl);

/* Merges the samples of p that have the same identity (stack, link and attribute set) and
 * carry values but no timestamps, in equally many elements, into the first of them: values
 * are summed element by element (every value of ours is additive: counts, nanoseconds,
 * bytes). Sorts each sample's attribute indices (their order has no meaning). Keeps the
 * order of the samples that remain. Returns how many samples were merged away, or -ENOMEM
 * (p unchanged but for the attribute order). */
long opd_profile_merge_samples(struct opd_profile *p);

/* Sets (replacing an existing key) an inline attribute; strings copied into the arena.
 * Returns 0 or -ENOMEM. */
int opd_attrs_set_str(struct opd_batch *b, struct opd_attrs *a, const char *key,
                      const char *value);
int opd_attrs_set_int(struct opd_batch *b, struct opd_attrs *a, const char *key, int64_t value);
int opd_attrs_set(struct opd_batch *b, struct opd_attrs *a, const char *key,
                  const struct opd_value *value);
/* Returns the value of key, or NULL. */
const struct opd_value *opd_attrs_get(const struct opd_attrs *a, const char *key);
/* Removes key if present; returns true when it was there. */
bool opd_attrs_remove(struct opd_attrs *a, const char *key);

/* Number of samples the batch represents: in profiles that count samples
 * (opd_profile_counts_samples), the sum of each sample's values, or its number of
 * timestamps; in every other profile, one per Sample record. */
uint64_t opd_batch_sample_count(const struct opd_batch *b);
/* True when p's values are sample counts (CPU samples, as "samples"/"count"): not
 * nanoseconds, bytes, or allocation object counts, which weigh something else. */
bool opd_profile_counts_samples(const struct opd_batch *b, const struct opd_profile *p);

/* Number of Profile messages in the batch. */
size_t opd_batch_profile_count(const struct opd_batch *b);

/* Appends every resource of src to dst, re-interning src's dictionary entries into dst's
 * dictionary. src is not changed. Returns 0 or -ENOMEM (dst may then hold part of src). */
int opd_batch_merge(struct opd_batch *dst, const struct opd_batch *src);

/* Checks the invariants: zero entries, every index in range, unique keys per attribute
 * list, samples non-empty. Returns 0, or -EINVAL with a message in err. */
int opd_batch_check(const struct opd_batch *b, char *err, size_t errlen);

/* ---- encodings (otlp/proto.c, otlp/json.c) ------------------------------------------ */

/* Encodes b as a protobuf ExportProfilesServiceRequest into a new buffer (*out, freed
 * with free()). Returns 0 or -errno. */
int opd_proto_encode(const struct opd_batch *b, uint8_t **out, size_t *len);
/* Decodes a protobuf ExportProfilesServiceRequest; NULL with errno (EINVAL: malformed,
 * message in err when err is not NULL). */
struct opd_batch *opd_proto_decode(const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Encodes b as one line of OTLP/JSON (protobuf JSON mapping, no trailing newline) into a
 * new NUL-terminated buffer freed with free(). Returns 0 or -errno. */
int opd_json_encode(const struct opd_batch *b, char **out, size_t *len);
/* Decodes one OTLP/JSON ExportProfilesServiceRequest (64-bit integers as strings or
 * numbers). NULL with errno = EINVAL and a message in err on bad input. */
struct opd_batch *opd_json_decode(const char *buf, size_t len, char *err, size_t errlen);

/* One pprof profile of a batch (see opd_pprof_encode). */
struct opd_pprof {
    const struct opd_resource *resource; /* whose process it profiles */
    /* What it measures: its period type ("cpu", "memory"), else its first sample type
     * ("off_cpu"). Valid during the callback. */
    const char *name;
    uint64_t time_unix_nano;
    const uint8_t *data; /* gzipped profile.proto; valid during the callback */
    size_t len;
};

/* Called for each pprof profile; a non-zero return stops the encoding and is returned. */
typedef int (*opd_pprof_fn)(const struct opd_pprof *p, void *arg);

/* Encodes b (not changed) as pprof profile.proto files, gzipped, as `go tool pprof` reads
 * them: one per resource and group of its profiles that share period type, period, time and
 * duration but not sample type, each profile of the group one sample type (a process's
 * memory profiles are one heap profile: -sample_index=alloc_space|alloc_objects|
 * inuse_space). Details in otlp/pprof_encode.c. Returns 0, fn's non-zero value, or
 * -ENOMEM. */
int opd_pprof_encode(const struct opd_batch *b, opd_pprof_fn fn, void *arg);

#endif
