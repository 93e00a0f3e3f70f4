/* Merging (and cloning): src's dictionary is re-interned into dst's, table by table in
 * index order, and every index of src's resources is translated on the way. */
#include "otlp/intern.h"

#include <errno.h>
#include <string.h>

#include "collector/mem.h"

struct remap {
    int32_t *str, *fn, *map, *loc, *stk, *attr, *link;
    /* scratch for translated index arrays and lines */
    int32_t *tmp;
    size_t cap_tmp;
    struct opd_line *lines;
    size_t cap_lines;
};

static void remap_fini(struct remap *m)
{
    opd_free(m->str);
    opd_free(m->fn);
    opd_free(m->map);
    opd_free(m->loc);
    opd_free(m->stk);
    opd_free(m->attr);
    opd_free(m->link);
    opd_free(m->tmp);
    opd_free(m->lines);
}

/* Translates index i of a table of n entries; src indices are not trusted. */
static int tr(const int32_t *map, size_t n, int32_t i, int32_t *out)
{
    if (i < 0 || (size_t)i >= n)
        return -EINVAL;
    *out = map[i];
    return 0;
}

/* Translates an attribute index list into m->tmp. */
static int tr_list(struct remap *m, const struct opd_dict *sd, const int32_t *v, size_t n)
{
    size_t i;

    if (opd_vec_reserve((void **)&m->tmp, &m->cap_tmp, n, sizeof(*m->tmp)))
        return -ENOMEM;
    for (i = 0; i < n; i++)
        if (tr(m->attr, sd->n_attributes, v[i], &m->tmp[i]))
            return -EINVAL;
    return 0;
}

static int32_t *remap_alloc(size_t n)
{
    if (n > SIZE_MAX / sizeof(int32_t))
        return NULL;
    return opd_malloc(n * sizeof(int32_t));
}

static int remap_strings_attrs(struct opd_dict *dd, const struct opd_dict *sd, struct remap *m)
{
    size_t i;

    if (!(m->str = remap_alloc(sd->n_strings)) || !(m->attr = remap_alloc(sd->n_attributes)))
        return -ENOMEM;
    for (i = 0; i < sd->n_strings; i++)
        if ((m->str[i] = opd_dict_string(dd, sd->strings[i])) < 0)
            return m->str[i];
    for (i = 0; i < sd->n_attributes; i++) {
        struct opd_attribute a = sd->attributes[i];

        if (tr(m->str, sd->n_strings, a.key_strindex, &a.key_strindex) ||
            tr(m->str, sd->n_strings, a.unit_strindex, &a.unit_strindex))
            return -EINVAL;
        if ((m->attr[i] = opd_dict_attribute(dd, &a)) < 0)
            return m->attr[i];
    }
    return 0;
}

static int remap_functions_mappings(struct opd_dict *dd, const struct opd_dict *sd, struct remap *m)
{
    size_t i;

    if (!(m->fn = remap_alloc(sd->n_functions)) || !(m->map = remap_alloc(sd->n_mappings)))
        return -ENOMEM;
    for (i = 0; i < sd->n_functions; i++) {
        struct opd_function f = sd->functions[i];

        if (tr(m->str, sd->n_strings, f.name_strindex, &f.name_strindex) ||
            tr(m->str, sd->n_strings, f.system_name_strindex, &f.system_name_strindex) ||
            tr(m->str, sd->n_strings, f.filename_strindex, &f.filename_strindex))
            return -EINVAL;
        if ((m->fn[i] = opd_dict_function(dd, &f)) < 0)
            return m->fn[i];
    }
    for (i = 0; i < sd->n_mappings; i++) {
        struct opd_mapping mp = sd->mappings[i];
        int err;

        if (tr(m->str, sd->n_strings, mp.filename_strindex, &mp.filename_strindex))
            return -EINVAL;
        if ((err = tr_list(m, sd, mp.attr_indices, mp.n_attr)))
            return err;
        mp.attr_indices = m->tmp;
        if ((m->map[i] = opd_dict_mapping(dd, &mp)) < 0)
            return m->map[i];
    }
    return 0;
}

static int remap_locations(struct opd_dict *dd, const struct opd_dict *sd, struct remap *m)
{
    size_t i, j;

    if (!(m->loc = remap_alloc(sd->n_locations)))
        return -ENOMEM;
    for (i = 0; i < sd->n_locations; i++) {
        struct opd_location l = sd->locations[i];
        int err;

        if (tr(m->map, sd->n_mappings, l.mapping_index, &l.mapping_index))
            return -EINVAL;
        if (opd_vec_reserve((void **)&m->lines, &m->cap_lines, l.n_lines, sizeof(*m->lines)))
            return -ENOMEM;
        for (j = 0; j < l.n_lines; j++) {
            m->lines[j] = l.lines[j];
            if (tr(m->fn, sd->n_functions, l.lines[j].function_index, &m->lines[j].function_index))
                return -EINVAL;
        }
        l.lines = m->lines;
        if ((err = tr_list(m, sd, l.attr_indices, l.n_attr)))
            return err;
        l.attr_indices = m->tmp;
        if ((m->loc[i] = opd_dict_location(dd, &l)) < 0)
            return m->loc[i];
    }
    return 0;
}

static int remap_stacks_links(struct opd_dict *dd, const struct opd_dict *sd, struct remap *m)
{
    size_t i, j;

    if (!(m->stk = remap_alloc(sd->n_stacks)) || !(m->link = remap_alloc(sd->n_links)))
        return -ENOMEM;
    for (i = 0; i < sd->n_stacks; i++) {
        const struct opd_stack *s = &sd->stacks[i];

        if (opd_vec_reserve((void **)&m->tmp, &m->cap_tmp, s->n, sizeof(*m->tmp)))
            return -ENOMEM;
        for (j = 0; j < s->n; j++)
            if (tr(m->loc, sd->n_locations, s->location_indices[j], &m->tmp[j]))
                return -EINVAL;
        if ((m->stk[i] = opd_dict_stack(dd, m->tmp, s->n)) < 0)
            return m->stk[i];
    }
    for (i = 0; i < sd->n_links; i++)
        if ((m->link[i] = opd_dict_link(dd, sd->links[i].trace_id, sd->links[i].span_id)) < 0)
            return m->link[i];
    return 0;
}

static int copy_attrs(struct opd_batch *dst, struct opd_attrs *to, const struct opd_attrs *from)
{
    size_t i;

    for (i = 0; i < from->n; i++)
        if (opd_attrs_set(dst, to, from->v[i].key ? from->v[i].key : "", &from->v[i].value))
            return -ENOMEM;
    return 0;
}

static int arena_str(struct opd_batch *dst, const char **to, const char *from)
{
    *to = NULL;
    if (!from)
        return 0;
    *to = opd_arena_strdup(&dst->arena, from);
    return *to ? 0 : -ENOMEM;
}

static int copy_profile(struct opd_batch *dst, struct opd_profile *p, const struct opd_profile *sp,
                        const struct opd_dict *sd, struct remap *m)
{
    size_t i;
    int err;

    p->sample_type = sp->sample_type;
    p->period_type = sp->period_type;
    if (tr(m->str, sd->n_strings, sp->sample_type.type_strindex, &p->sample_type.type_strindex) ||
        tr(m->str, sd->n_strings, sp->sample_type.unit_strindex, &p->sample_type.unit_strindex) ||
        tr(m->str, sd->n_strings, sp->period_type.type_strindex, &p->period_type.type_strindex) ||
        tr(m->str, sd->n_strings, sp->period_type.unit_strindex, &p->period_type.unit_strindex))
        return -EINVAL;
    p->period = sp->period;
    p->time_unix_nano = sp->time_unix_nano;
    p->duration_nano = sp->duration_nano;
    memcpy(p->profile_id, sp->profile_id, sizeof(p->profile_id));
    p->has_profile_id = sp->has_profile_id;
    p->dropped_attributes_count = sp->dropped_attributes_count;
    if ((err = arena_str(dst, &p->original_payload_format, sp->original_payload_format)))
        return err;
    if (sp->original_payload_len) {
        uint8_t *op = opd_arena_alloc(&dst->arena, sp->original_payload_len);

        if (!op)
            return -ENOMEM;
        memcpy(op, sp->original_payload, sp->original_payload_len);
        p->original_payload = op;
        p->original_payload_len = sp->original_payload_len;
    }
    if ((err = tr_list(m, sd, sp->attr_indices, sp->n_attr)))
        return err;
    if (sp->n_attr) {
        p->attr_indices = opd_malloc(sp->n_attr * sizeof(int32_t));
        if (!p->attr_indices)
            return -ENOMEM;
        memcpy(p->attr_indices, m->tmp, sp->n_attr * sizeof(int32_t));
        p->n_attr = sp->n_attr;
    }
    for (i = 0; i < sp->n_samples; i++) {
        struct opd_sample s = sp->samples[i];

        if (tr(m->stk, sd->n_stacks, s.stack_index, &s.stack_index) ||
            tr(m->link, sd->n_links, s.link_index, &s.link_index))
            return -EINVAL;
        if ((err = tr_list(m, sd, s.attr_indices, s.n_attr)))
            return err;
        s.attr_indices = m->tmp;
        if ((err = opd_profile_add_sample(dst, p, &s)))
            return err;
    }
    return 0;
}

static int copy_scope(struct opd_batch *dst, struct opd_resource *r, const struct opd_scope *ss,
                      const struct opd_dict *sd, struct remap *m)
{
    struct opd_scope *s = opd_resource_add_scope(dst, r, ss->name, ss->version);
    size_t i;
    int err;

    if (!s)
        return -ENOMEM;
    s->dropped_attributes_count = ss->dropped_attributes_count;
    if ((err = arena_str(dst, &s->schema_url, ss->schema_url)) ||
        (err = copy_attrs(dst, &s->attrs, &ss->attrs)))
        return err;
    for (i = 0; i < ss->n_profiles; i++) {
        struct opd_profile *p = opd_scope_add_profile(dst, s);

        if (!p)
            return -ENOMEM;
        if ((err = copy_profile(dst, p, &ss->profiles[i], sd, m)))
            return err;
    }
    return 0;
}

int opd_batch_merge(struct opd_batch *dst, const struct opd_batch *src)
{
    const struct opd_dict *sd = &src->dict;
    struct remap m = {0};
    size_t i, j;
    int err;

    if ((err = remap_strings_attrs(&dst->dict, sd, &m)) ||
        (err = remap_functions_mappings(&dst->dict, sd, &m)) ||
        (err = remap_locations(&dst->dict, sd, &m)) ||
        (err = remap_stacks_links(&dst->dict, sd, &m)))
        goto out;
    for (i = 0; i < src->n_resources; i++) {
        const struct opd_resource *sr = &src->resources[i];
        struct opd_resource *r = opd_batch_add_resource(dst);

        err = -ENOMEM;
        if (!r)
            goto out;
        r->dropped_attributes_count = sr->dropped_attributes_count;
        if ((err = arena_str(dst, &r->schema_url, sr->schema_url)) ||
            (err = copy_attrs(dst, &r->attrs, &sr->attrs)))
            goto out;
        for (j = 0; j < sr->n_scopes; j++)
            if ((err = copy_scope(dst, r, &sr->scopes[j], sd, &m)))
                goto out;
    }
    err = 0;
out:
    remap_fini(&m);
    return err;
}
