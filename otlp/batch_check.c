/* Invariant checks over a batch, and the last step of decoding: check the raw tables a
 * decoder filled, then re-intern them into a clean batch. */
#include "otlp/intern.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

struct checker {
    const struct opd_batch *b;
    const struct opd_dict *d;
    bool strict;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct checker *c, const char *fmt, ...)
{
    va_list ap;

    if (c->err && c->errlen) {
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool in_range(int32_t i, size_t n)
{
    return i >= 0 && (size_t)i < n;
}

#define CHECK_IDX(c, i, n, what, ...)                                                              \
    do {                                                                                           \
        if (!in_range((i), (n)))                                                                   \
            return fail((c), what " index %d out of range [0,%zu)", ##__VA_ARGS__, (int)(i),       \
                        (size_t)(n));                                                              \
    } while (0)

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Checks an attribute index list: ranges, and in strict mode unique keys. */
static int check_attr_list(struct checker *c, const int32_t *v, size_t n, const char *where)
{
    const struct opd_dict *d = c->d;
    int32_t *keys = NULL;
    size_t i;
    int err = 0;

    for (i = 0; i < n; i++)
        if (!in_range(v[i], d->n_attributes))
            return fail(c, "%s: attribute index %d out of range [0,%zu)", where, (int)v[i],
                        d->n_attributes);
    if (!c->strict || n < 2)
        return 0;
    keys = opd_malloc(n * sizeof(*keys));
    if (!keys)
        return -ENOMEM;
    for (i = 0; i < n; i++)
        keys[i] = d->attributes[v[i]].key_strindex;
    qsort(keys, n, sizeof(*keys), cmp_i32);
    for (i = 1; i < n; i++)
        if (keys[i] == keys[i - 1]) {
            err =
                fail(c, "%s: attribute key \"%s\" appears twice", where, opd_dict_str(d, keys[i]));
            break;
        }
    opd_free(keys);
    return err;
}

static int check_zero_entries(struct checker *c)
{
    const struct opd_dict *d = c->d;
    const struct opd_function *f = d->functions;
    const struct opd_mapping *m = d->mappings;
    const struct opd_location *l = d->locations;
    const struct opd_attribute *a = d->attributes;

    if (!d->n_strings || !d->n_functions || !d->n_mappings || !d->n_locations || !d->n_stacks ||
        !d->n_attributes || !d->n_links)
        return fail(c, "dictionary table without its zero entry");
    if (d->strings[0][0])
        return fail(c, "string_table[0] must be \"\"");
    if (f->name_strindex || f->system_name_strindex || f->filename_strindex || f->start_line)
        return fail(c, "function_table[0] must be the zero value");
    if (m->memory_start || m->memory_limit || m->file_offset || m->filename_strindex || m->n_attr)
        return fail(c, "mapping_table[0] must be the zero value");
    if (l->mapping_index || l->address || l->n_lines || l->n_attr)
        return fail(c, "location_table[0] must be the zero value");
    if (d->stacks[0].n)
        return fail(c, "stack_table[0] must be the zero value");
    if (a->key_strindex || a->unit_strindex || a->value.type != OPD_VAL_EMPTY)
        return fail(c, "attribute_table[0] must be the zero value");
    if (d->links[0].set)
        return fail(c, "link_table[0] must be the zero value");
    return 0;
}

static int check_tables(struct checker *c)
{
    const struct opd_dict *d = c->d;
    size_t i, j;
    int err;

    for (i = 0; i < d->n_functions; i++) {
        const struct opd_function *f = &d->functions[i];

        CHECK_IDX(c, f->name_strindex, d->n_strings, "function[%zu] name", i);
        CHECK_IDX(c, f->system_name_strindex, d->n_strings, "function[%zu] system_name", i);
        CHECK_IDX(c, f->filename_strindex, d->n_strings, "function[%zu] filename", i);
        if (c->strict && i && !f->name_strindex && !f->system_name_strindex &&
            !f->filename_strindex)
            return fail(c, "function[%zu] has no name, system_name or filename", i);
    }
    for (i = 0; i < d->n_attributes; i++) {
        const struct opd_attribute *a = &d->attributes[i];

        CHECK_IDX(c, a->key_strindex, d->n_strings, "attribute[%zu] key", i);
        CHECK_IDX(c, a->unit_strindex, d->n_strings, "attribute[%zu] unit", i);
    }
    for (i = 0; i < d->n_mappings; i++) {
        CHECK_IDX(c, d->mappings[i].filename_strindex, d->n_strings, "mapping[%zu] filename", i);
        if ((err =
                 check_attr_list(c, d->mappings[i].attr_indices, d->mappings[i].n_attr, "mapping")))
            return err;
    }
    for (i = 0; i < d->n_locations; i++) {
        const struct opd_location *l = &d->locations[i];

        CHECK_IDX(c, l->mapping_index, d->n_mappings, "location[%zu] mapping", i);
        for (j = 0; j < l->n_lines; j++)
            CHECK_IDX(c, l->lines[j].function_index, d->n_functions,
                      "location[%zu] line[%zu] function", i, j);
        if ((err = check_attr_list(c, l->attr_indices, l->n_attr, "location")))
            return err;
    }
    for (i = 0; i < d->n_stacks; i++)
        for (j = 0; j < d->stacks[i].n; j++)
            CHECK_IDX(c, d->stacks[i].location_indices[j], d->n_locations, "stack[%zu] location",
                      i);
    return 0;
}

static int check_profile(struct checker *c, const struct opd_profile *p)
{
    const struct opd_dict *d = c->d;
    size_t i;
    int err;

    CHECK_IDX(c, p->sample_type.type_strindex, d->n_strings, "sample_type type");
    CHECK_IDX(c, p->sample_type.unit_strindex, d->n_strings, "sample_type unit");
    CHECK_IDX(c, p->period_type.type_strindex, d->n_strings, "period_type type");
    CHECK_IDX(c, p->period_type.unit_strindex, d->n_strings, "period_type unit");
    if ((err = check_attr_list(c, p->attr_indices, p->n_attr, "profile")))
        return err;
    for (i = 0; i < p->n_samples; i++) {
        const struct opd_sample *s = &p->samples[i];

        CHECK_IDX(c, s->stack_index, d->n_stacks, "sample[%zu] stack", i);
        CHECK_IDX(c, s->link_index, d->n_links, "sample[%zu] link", i);
        if ((err = check_attr_list(c, s->attr_indices, s->n_attr, "sample")))
            return err;
        if (!c->strict)
            continue;
        if (!s->n_values && !s->n_timestamps)
            return fail(c, "sample[%zu] has neither values nor timestamps", i);
        if (s->n_values && s->n_timestamps && s->n_values != s->n_timestamps)
            return fail(c, "sample[%zu] has %zu values but %zu timestamps", i, s->n_values,
                        s->n_timestamps);
    }
    return 0;
}

static int check_inline_attrs(struct checker *c, const struct opd_attrs *a, const char *where)
{
    size_t i, j;

    for (i = 0; i < a->n; i++) {
        if (!a->v[i].key)
            return fail(c, "%s attribute without key", where);
        for (j = 0; c->strict && j < i; j++)
            if (strcmp(a->v[i].key, a->v[j].key) == 0)
                return fail(c, "%s attribute key \"%s\" appears twice", where, a->v[i].key);
    }
    return 0;
}

int opd_batch_check_mode(const struct opd_batch *b, bool strict, char *err, size_t errlen)
{
    struct checker c = {.b = b, .d = &b->dict, .strict = strict, .err = err, .errlen = errlen};
    size_t r, s, p;
    int rc;

    if ((rc = check_zero_entries(&c)) || (rc = check_tables(&c)))
        return rc;
    for (r = 0; r < b->n_resources; r++) {
        const struct opd_resource *res = &b->resources[r];

        if ((rc = check_inline_attrs(&c, &res->attrs, "resource")))
            return rc;
        for (s = 0; s < res->n_scopes; s++) {
            const struct opd_scope *sc = &res->scopes[s];

            if ((rc = check_inline_attrs(&c, &sc->attrs, "scope")))
                return rc;
            for (p = 0; p < sc->n_profiles; p++)
                if ((rc = check_profile(&c, &sc->profiles[p])))
                    return rc;
        }
    }
    return 0;
}

int opd_batch_check(const struct opd_batch *b, char *err, size_t errlen)
{
    return opd_batch_check_mode(b, true, err, errlen);
}

struct opd_batch *opd_batch_create_raw(void)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d;

    if (!b)
        return NULL;
    d = &b->dict;
    d->n_strings = d->n_functions = d->n_mappings = d->n_locations = d->n_stacks = d->n_attributes =
        d->n_links = 0;
    return b;
}

/* An absent table in the input means a table holding only its zero entry. */
static int fill_empty_tables(struct opd_dict *d)
{
    static const struct opd_function zf;
    static const struct opd_mapping zm;
    static const struct opd_location zl;
    static const struct opd_attribute za;
    static const uint8_t zid[16];

    if ((!d->n_strings && opd_dict_push_string(d, "", 0) < 0) ||
        (!d->n_functions && opd_dict_push_function(d, &zf) < 0) ||
        (!d->n_mappings && opd_dict_push_mapping(d, &zm) < 0) ||
        (!d->n_locations && opd_dict_push_location(d, &zl) < 0) ||
        (!d->n_stacks && opd_dict_push_stack(d, NULL, 0) < 0) ||
        (!d->n_attributes && opd_dict_push_attribute(d, &za) < 0) ||
        (!d->n_links && opd_dict_push_link(d, zid, zid) < 0))
        return -ENOMEM;
    return 0;
}

struct opd_batch *opd_batch_finish_raw(struct opd_batch *raw, char *err, size_t errlen)
{
    struct opd_batch *b = NULL;
    int rc;

    rc = fill_empty_tables(&raw->dict);
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        goto out;
    }
    rc = opd_batch_check_mode(raw, false, err, errlen);
    if (rc)
        goto out;
    b = opd_batch_clone(raw);
    if (!b) {
        rc = -errno;
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
    }
out:
    opd_batch_unref(raw);
    if (rc)
        errno = -rc;
    return b;
}
