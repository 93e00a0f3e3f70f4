/* The batch dictionary: seven tables with the zero value at index 0, each entry unique.
 * Interning hashes the candidate, looks it up in the table's index and appends a copy
 * (arrays and strings in the batch arena) only when it is new. */
#include "otlp/intern.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "collector/mem.h"

/* A per-process random seed: decoded input cannot be crafted to collide in the hash
 * indexes. Indices do not depend on it (they follow insertion order). */
static uint64_t hash_seed_value;

static void hash_seed_init(void)
{
    uint64_t s = 0;
    struct timespec ts;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&s;
    }
    hash_seed_value = s | 1;
}

static uint64_t hash_seed(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, hash_seed_init);
    return hash_seed_value;
}

#define HASH_SEED hash_seed()

/* ---- values ---------------------------------------------------------------------------- */

int opd_value_copy(struct opd_arena *a, struct opd_value *dst, const struct opd_value *src)
{
    *dst = *src;
    switch (src->type) {
    case OPD_VAL_STR:
        dst->u.str = opd_arena_strdup(a, src->u.str ? src->u.str : "");
        return dst->u.str ? 0 : -ENOMEM;
    case OPD_VAL_BYTES: {
        uint8_t *p;

        if (!src->u.bytes.len) {
            dst->u.bytes.data = NULL;
            return 0;
        }
        p = opd_arena_alloc(a, src->u.bytes.len);
        if (!p)
            return -ENOMEM;
        memcpy(p, src->u.bytes.data, src->u.bytes.len);
        dst->u.bytes.data = p;
        return 0;
    }
    default:
        return 0;
    }
}

bool opd_value_equal(const struct opd_value *x, const struct opd_value *y)
{
    if (x->type != y->type)
        return false;
    switch (x->type) {
    case OPD_VAL_EMPTY:
        return true;
    case OPD_VAL_STR:
        return strcmp(x->u.str ? x->u.str : "", y->u.str ? y->u.str : "") == 0;
    case OPD_VAL_BOOL:
        return x->u.b == y->u.b;
    case OPD_VAL_INT:
        return x->u.i == y->u.i;
    case OPD_VAL_DOUBLE:
        return memcmp(&x->u.d, &y->u.d, sizeof(double)) == 0;
    case OPD_VAL_BYTES:
        return x->u.bytes.len == y->u.bytes.len &&
               (!x->u.bytes.len || memcmp(x->u.bytes.data, y->u.bytes.data, x->u.bytes.len) == 0);
    }
    return false;
}

static uint64_t value_hash(uint64_t h, const struct opd_value *v)
{
    h = opd_hash_u64(h, (uint64_t)v->type);
    switch (v->type) {
    case OPD_VAL_STR: {
        const char *s = v->u.str ? v->u.str : "";

        return opd_hash_bytes(h, s, strlen(s));
    }
    case OPD_VAL_BOOL:
        return opd_hash_u64(h, v->u.b);
    case OPD_VAL_INT:
        return opd_hash_u64(h, (uint64_t)v->u.i);
    case OPD_VAL_DOUBLE: {
        uint64_t bits;

        memcpy(&bits, &v->u.d, sizeof(bits));
        return opd_hash_u64(h, bits);
    }
    case OPD_VAL_BYTES:
        return opd_hash_bytes(h, v->u.bytes.data, v->u.bytes.len);
    default:
        return h;
    }
}

static bool i32_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (!na || memcmp(a, b, na * sizeof(*a)) == 0);
}

/* ---- raw appends ----------------------------------------------------------------------- */

static const int32_t *arena_i32(struct opd_arena *a, const int32_t *v, size_t n, int *err)
{
    int32_t *p;

    *err = 0;
    if (!n)
        return NULL;
    if (n > SIZE_MAX / sizeof(*v)) {
        *err = -ENOMEM;
        return NULL;
    }
    p = opd_arena_alloc(a, n * sizeof(*v));
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    memcpy(p, v, n * sizeof(*v));
    return p;
}

/* Every table stays addressable by an int32 index. */
#define TABLE_FULL(n) ((n) >= (size_t)INT32_MAX)

int32_t opd_dict_push_string(struct opd_dict *d, const char *s, size_t len)
{
    const char **slot;
    char *copy;

    if (TABLE_FULL(d->n_strings) || opd_vec_reserve((void **)&d->strings, &d->cap_strings,
                                                    d->n_strings + 1, sizeof(*d->strings)))
        return -ENOMEM;
    copy = opd_arena_strndup(d->arena, s, len);
    if (!copy)
        return -ENOMEM;
    slot = &d->strings[d->n_strings];
    *slot = copy;
    return (int32_t)d->n_strings++;
}

int32_t opd_dict_push_function(struct opd_dict *d, const struct opd_function *f)
{
    if (TABLE_FULL(d->n_functions) || opd_vec_reserve((void **)&d->functions, &d->cap_functions,
                                                      d->n_functions + 1, sizeof(*d->functions)))
        return -ENOMEM;
    d->functions[d->n_functions] = *f;
    return (int32_t)d->n_functions++;
}

int32_t opd_dict_push_mapping(struct opd_dict *d, const struct opd_mapping *m)
{
    struct opd_mapping c = *m;
    int err;

    if (TABLE_FULL(d->n_mappings) || opd_vec_reserve((void **)&d->mappings, &d->cap_mappings,
                                                     d->n_mappings + 1, sizeof(*d->mappings)))
        return -ENOMEM;
    c.attr_indices = arena_i32(d->arena, m->attr_indices, m->n_attr, &err);
    if (err)
        return err;
    d->mappings[d->n_mappings] = c;
    return (int32_t)d->n_mappings++;
}

int32_t opd_dict_push_location(struct opd_dict *d, const struct opd_location *l)
{
    struct opd_location c = *l;
    struct opd_line *lines = NULL;
    int err;

    if (TABLE_FULL(d->n_locations) || opd_vec_reserve((void **)&d->locations, &d->cap_locations,
                                                      d->n_locations + 1, sizeof(*d->locations)))
        return -ENOMEM;
    if (l->n_lines) {
        if (l->n_lines > SIZE_MAX / sizeof(*lines))
            return -ENOMEM;
        lines = opd_arena_alloc(d->arena, l->n_lines * sizeof(*lines));
        if (!lines)
            return -ENOMEM;
        memcpy(lines, l->lines, l->n_lines * sizeof(*lines));
    }
    c.lines = lines;
    c.attr_indices = arena_i32(d->arena, l->attr_indices, l->n_attr, &err);
    if (err)
        return err;
    d->locations[d->n_locations] = c;
    return (int32_t)d->n_locations++;
}

int32_t opd_dict_push_stack(struct opd_dict *d, const int32_t *loc, size_t n)
{
    struct opd_stack c = {.n = n};
    int err;

    if (TABLE_FULL(d->n_stacks) ||
        opd_vec_reserve((void **)&d->stacks, &d->cap_stacks, d->n_stacks + 1, sizeof(*d->stacks)))
        return -ENOMEM;
    c.location_indices = arena_i32(d->arena, loc, n, &err);
    if (err)
        return err;
    d->stacks[d->n_stacks] = c;
    return (int32_t)d->n_stacks++;
}

int32_t opd_dict_push_attribute(struct opd_dict *d, const struct opd_attribute *a)
{
    struct opd_attribute c = *a;

    if (TABLE_FULL(d->n_attributes) || opd_vec_reserve((void **)&d->attributes, &d->cap_attributes,
                                                       d->n_attributes + 1, sizeof(*d->attributes)))
        return -ENOMEM;
    if (opd_value_copy(d->arena, &c.value, &a->value))
        return -ENOMEM;
    d->attributes[d->n_attributes] = c;
    return (int32_t)d->n_attributes++;
}

int32_t opd_dict_push_link(struct opd_dict *d, const uint8_t trace_id[16], const uint8_t span_id[8])
{
    struct opd_link *l;
    static const uint8_t zero[16];

    if (TABLE_FULL(d->n_links) ||
        opd_vec_reserve((void **)&d->links, &d->cap_links, d->n_links + 1, sizeof(*d->links)))
        return -ENOMEM;
    l = &d->links[d->n_links];
    memcpy(l->trace_id, trace_id, 16);
    memcpy(l->span_id, span_id, 8);
    l->set = memcmp(trace_id, zero, 16) != 0 || memcmp(span_id, zero, 8) != 0;
    return (int32_t)d->n_links++;
}

/* ---- hashing and equality per table ---------------------------------------------------- */

struct str_key {
    const char *s;
    size_t len;
};

static bool eq_string(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct str_key *k = key;
    const char *e = d->strings[idx];

    return strncmp(e, k->s, k->len) == 0 && e[k->len] == '\0';
}

static uint32_t hash_function(const struct opd_function *f)
{
    uint64_t h = HASH_SEED;

    h = opd_hash_u64(h, (uint32_t)f->name_strindex);
    h = opd_hash_u64(h, (uint32_t)f->system_name_strindex);
    h = opd_hash_u64(h, (uint32_t)f->filename_strindex);
    h = opd_hash_u64(h, (uint64_t)f->start_line);
    return opd_hash_final(h);
}

static bool eq_function(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct opd_function *a = &d->functions[idx], *b = key;

    return a->name_strindex == b->name_strindex &&
           a->system_name_strindex == b->system_name_strindex &&
           a->filename_strindex == b->filename_strindex && a->start_line == b->start_line;
}

static uint32_t hash_mapping(const struct opd_mapping *m)
{
    uint64_t h = HASH_SEED;

    h = opd_hash_u64(h, m->memory_start);
    h = opd_hash_u64(h, m->memory_limit);
    h = opd_hash_u64(h, m->file_offset);
    h = opd_hash_u64(h, (uint32_t)m->filename_strindex);
    h = opd_hash_bytes(h, m->attr_indices, m->n_attr * sizeof(int32_t));
    return opd_hash_final(h);
}

static bool eq_mapping(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct opd_mapping *a = &d->mappings[idx], *b = key;

    return a->memory_start == b->memory_start && a->memory_limit == b->memory_limit &&
           a->file_offset == b->file_offset && a->filename_strindex == b->filename_strindex &&
           i32_equal(a->attr_indices, a->n_attr, b->attr_indices, b->n_attr);
}

static uint32_t hash_location(const struct opd_location *l)
{
    uint64_t h = HASH_SEED;
    size_t i;

    h = opd_hash_u64(h, (uint32_t)l->mapping_index);
    h = opd_hash_u64(h, l->address);
    h = opd_hash_u64(h, l->n_lines);
    for (i = 0; i < l->n_lines; i++) {
        h = opd_hash_u64(h, (uint32_t)l->lines[i].function_index);
        h = opd_hash_u64(h, (uint64_t)l->lines[i].line);
        h = opd_hash_u64(h, (uint64_t)l->lines[i].column);
    }
    h = opd_hash_bytes(h, l->attr_indices, l->n_attr * sizeof(int32_t));
    return opd_hash_final(h);
}

static bool eq_location(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct opd_location *a = &d->locations[idx], *b = key;
    size_t i;

    if (a->mapping_index != b->mapping_index || a->address != b->address ||
        a->n_lines != b->n_lines ||
        !i32_equal(a->attr_indices, a->n_attr, b->attr_indices, b->n_attr))
        return false;
    for (i = 0; i < a->n_lines; i++)
        if (a->lines[i].function_index != b->lines[i].function_index ||
            a->lines[i].line != b->lines[i].line || a->lines[i].column != b->lines[i].column)
            return false;
    return true;
}

static bool eq_stack(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct opd_stack *a = &d->stacks[idx], *b = key;

    return i32_equal(a->location_indices, a->n, b->location_indices, b->n);
}

static uint32_t hash_attribute(const struct opd_attribute *a)
{
    uint64_t h = HASH_SEED;

    h = opd_hash_u64(h, (uint32_t)a->key_strindex);
    h = opd_hash_u64(h, (uint32_t)a->unit_strindex);
    return opd_hash_final(value_hash(h, &a->value));
}

static bool eq_attribute(const struct opd_dict *d, int32_t idx, const void *key)
{
    const struct opd_attribute *a = &d->attributes[idx], *b = key;

    return a->key_strindex == b->key_strindex && a->unit_strindex == b->unit_strindex &&
           opd_value_equal(&a->value, &b->value);
}

static uint32_t hash_link(const uint8_t *ids)
{
    return opd_hash_final(opd_hash_bytes(HASH_SEED, ids, 24));
}

static bool eq_link(const struct opd_dict *d, int32_t idx, const void *key)
{
    const uint8_t *ids = key;

    return memcmp(d->links[idx].trace_id, ids, 16) == 0 &&
           memcmp(d->links[idx].span_id, ids + 16, 8) == 0;
}

/* ---- interning ------------------------------------------------------------------------- */

/* Looks key up; on a miss reserves index room first so that a failed append leaves the
 * table and its index consistent. */
#define INTERN(d, ix, hash, eq, key, push_expr)                                                    \
    do {                                                                                           \
        int32_t found_ = opd_intern_find((ix), (hash), (eq), (d), (key));                          \
        int32_t idx_;                                                                              \
                                                                                                   \
        if (found_ >= 0)                                                                           \
            return found_;                                                                         \
        if (opd_intern_reserve(ix))                                                                \
            return -ENOMEM;                                                                        \
        idx_ = (push_expr);                                                                        \
        if (idx_ < 0)                                                                              \
            return idx_;                                                                           \
        opd_intern_insert((ix), (hash), idx_);                                                     \
        return idx_;                                                                               \
    } while (0)

int32_t opd_dict_stringn(struct opd_dict *d, const char *s, size_t len)
{
    struct str_key k;
    uint32_t h;

    if (!s)
        s = "";
    /* Strings are C strings: an embedded NUL ends them. */
    k.len = strnlen(s, len);
    k.s = s;
    h = opd_hash_final(opd_hash_bytes(HASH_SEED, s, k.len));
    INTERN(d, d->ix_strings, h, eq_string, &k, opd_dict_push_string(d, s, k.len));
}

int32_t opd_dict_string(struct opd_dict *d, const char *s)
{
    return opd_dict_stringn(d, s, s ? strlen(s) : 0);
}

int32_t opd_dict_function(struct opd_dict *d, const struct opd_function *f)
{
    uint32_t h = hash_function(f);

    INTERN(d, d->ix_functions, h, eq_function, f, opd_dict_push_function(d, f));
}

int32_t opd_dict_mapping(struct opd_dict *d, const struct opd_mapping *m)
{
    uint32_t h = hash_mapping(m);

    INTERN(d, d->ix_mappings, h, eq_mapping, m, opd_dict_push_mapping(d, m));
}

int32_t opd_dict_location(struct opd_dict *d, const struct opd_location *l)
{
    uint32_t h = hash_location(l);

    INTERN(d, d->ix_locations, h, eq_location, l, opd_dict_push_location(d, l));
}

int32_t opd_dict_stack(struct opd_dict *d, const int32_t *location_indices, size_t n)
{
    struct opd_stack k = {.location_indices = location_indices, .n = n};
    uint32_t h = opd_hash_final(opd_hash_bytes(HASH_SEED, location_indices, n * sizeof(int32_t)));

    INTERN(d, d->ix_stacks, h, eq_stack, &k, opd_dict_push_stack(d, location_indices, n));
}

int32_t opd_dict_attribute(struct opd_dict *d, const struct opd_attribute *a)
{
    uint32_t h = hash_attribute(a);

    INTERN(d, d->ix_attributes, h, eq_attribute, a, opd_dict_push_attribute(d, a));
}

int32_t opd_dict_link(struct opd_dict *d, const uint8_t trace_id[16], const uint8_t span_id[8])
{
    uint8_t ids[24];
    uint32_t h;

    memcpy(ids, trace_id, 16);
    memcpy(ids + 16, span_id, 8);
    h = hash_link(ids);
    INTERN(d, d->ix_links, h, eq_link, ids, opd_dict_push_link(d, trace_id, span_id));
}

int32_t opd_dict_attr_str(struct opd_dict *d, const char *key, const char *value)
{
    struct opd_attribute a = {.value = {.type = OPD_VAL_STR, .u.str = value ? value : ""}};

    a.key_strindex = opd_dict_string(d, key);
    if (a.key_strindex < 0)
        return a.key_strindex;
    return opd_dict_attribute(d, &a);
}

int32_t opd_dict_attr_int(struct opd_dict *d, const char *key, int64_t value)
{
    struct opd_attribute a = {.value = {.type = OPD_VAL_INT, .u.i = value}};

    a.key_strindex = opd_dict_string(d, key);
    if (a.key_strindex < 0)
        return a.key_strindex;
    return opd_dict_attribute(d, &a);
}

const char *opd_dict_str(const struct opd_dict *d, int32_t i)
{
    if (i < 0 || (size_t)i >= d->n_strings)
        return "";
    return d->strings[i];
}

/* ---- lifetime -------------------------------------------------------------------------- */

int opd_dict_init(struct opd_dict *d, struct opd_arena *a)
{
    static const struct opd_function zf;
    static const struct opd_mapping zm;
    static const struct opd_location zl;
    static const struct opd_attribute za;
    static const uint8_t zid[16];

    memset(d, 0, sizeof(*d));
    d->arena = a;
    if (!(d->ix_strings = opd_intern_create()) || !(d->ix_functions = opd_intern_create()) ||
        !(d->ix_mappings = opd_intern_create()) || !(d->ix_locations = opd_intern_create()) ||
        !(d->ix_stacks = opd_intern_create()) || !(d->ix_attributes = opd_intern_create()) ||
        !(d->ix_links = opd_intern_create()))
        return -ENOMEM;
    if (opd_dict_string(d, "") != 0 || opd_dict_function(d, &zf) != 0 ||
        opd_dict_mapping(d, &zm) != 0 || opd_dict_location(d, &zl) != 0 ||
        opd_dict_stack(d, NULL, 0) != 0 || opd_dict_attribute(d, &za) != 0 ||
        opd_dict_link(d, zid, zid) != 0)
        return -ENOMEM;
    return 0;
}

void opd_dict_fini(struct opd_dict *d)
{
    opd_free(d->strings);
    opd_free(d->functions);
    opd_free(d->mappings);
    opd_free(d->locations);
    opd_free(d->stacks);
    opd_free(d->attributes);
    opd_free(d->links);
    opd_intern_destroy(d->ix_strings);
    opd_intern_destroy(d->ix_functions);
    opd_intern_destroy(d->ix_mappings);
    opd_intern_destroy(d->ix_locations);
    opd_intern_destroy(d->ix_stacks);
    opd_intern_destroy(d->ix_attributes);
    opd_intern_destroy(d->ix_links);
    memset(d, 0, sizeof(*d));
}
