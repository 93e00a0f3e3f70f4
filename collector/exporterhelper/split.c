#include "collector/exporterhelper/split.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/exporterhelper/exporterhelper.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

/* Maps from src table indices to dst ones; -1 = not yet interned. */
struct xlat {
    const struct opd_dict *s;
    struct opd_dict *d;
    int32_t *str, *fn, *map, *loc, *stk, *attr, *link;
    int32_t *tmp;
    size_t cap_tmp;
};

static int32_t *new_map(size_t n)
{
    int32_t *m = opd_malloc((n ? n : 1) * sizeof(int32_t));

    if (m)
        for (size_t i = 0; i < n; i++)
            m[i] = i == 0 ? 0 : -1;
    return m;
}

static void xlat_fini(struct xlat *x)
{
    opd_free(x->str);
    opd_free(x->fn);
    opd_free(x->map);
    opd_free(x->loc);
    opd_free(x->stk);
    opd_free(x->attr);
    opd_free(x->link);
    opd_free(x->tmp);
}

static int xlat_init(struct xlat *x, const struct opd_dict *s, struct opd_dict *d)
{
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->d = d;
    x->str = new_map(s->n_strings);
    x->fn = new_map(s->n_functions);
    x->map = new_map(s->n_mappings);
    x->loc = new_map(s->n_locations);
    x->stk = new_map(s->n_stacks);
    x->attr = new_map(s->n_attributes);
    x->link = new_map(s->n_links);
    if (!x->str || !x->fn || !x->map || !x->loc || !x->stk || !x->attr || !x->link) {
        xlat_fini(x);
        return -ENOMEM;
    }
    return 0;
}

#define IN_RANGE(i, n) ((i) >= 0 && (size_t)(i) < (n))

static int32_t t_str(struct xlat *x, int32_t i)
{
    if (!IN_RANGE(i, x->s->n_strings))
        return -EINVAL;
    if (x->str[i] < 0)
        x->str[i] = opd_dict_string(x->d, x->s->strings[i]);
    return x->str[i];
}

static int32_t t_attr(struct xlat *x, int32_t i)
{
    struct opd_attribute a;

    if (!IN_RANGE(i, x->s->n_attributes))
        return -EINVAL;
    if (x->attr[i] >= 0)
        return x->attr[i];
    a = x->s->attributes[i];
    if ((a.key_strindex = t_str(x, a.key_strindex)) < 0)
        return a.key_strindex;
    if ((a.unit_strindex = t_str(x, a.unit_strindex)) < 0)
        return a.unit_strindex;
    return x->attr[i] = opd_dict_attribute(x->d, &a);
}

/* Translates an attribute index list into x->tmp (beyond offset off). */
static int t_attrs(struct xlat *x, size_t off, const int32_t *v, size_t n)
{
    if (opd_vec_reserve((void **)&x->tmp, &x->cap_tmp, off + n, sizeof(int32_t)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int32_t r = t_attr(x, v[i]);
        if (r < 0)
            return r;
        x->tmp[off + i] = r;
    }
    return 0;
}

static int32_t t_fn(struct xlat *x, int32_t i)
{
    struct opd_function f;

    if (!IN_RANGE(i, x->s->n_functions))
        return -EINVAL;
    if (x->fn[i] >= 0)
        return x->fn[i];
    f = x->s->functions[i];
    if ((f.name_strindex = t_str(x, f.name_strindex)) < 0)
        return f.name_strindex;
    if ((f.system_name_strindex = t_str(x, f.system_name_strindex)) < 0)
        return f.system_name_strindex;
    if ((f.filename_strindex = t_str(x, f.filename_strindex)) < 0)
        return f.filename_strindex;
    return x->fn[i] = opd_dict_function(x->d, &f);
}

static int32_t t_map(struct xlat *x, int32_t i)
{
    struct opd_mapping m;

    if (!IN_RANGE(i, x->s->n_mappings))
        return -EINVAL;
    if (x->map[i] >= 0)
        return x->map[i];
    int rc;
    m = x->s->mappings[i];
    if ((m.filename_strindex = t_str(x, m.filename_strindex)) < 0)
        return m.filename_strindex;
    if ((rc = t_attrs(x, 0, m.attr_indices, m.n_attr)) < 0)
        return rc;
    m.attr_indices = x->tmp;
    return x->map[i] = opd_dict_mapping(x->d, &m);
}

static int32_t t_loc(struct xlat *x, int32_t i)
{
    struct opd_location l;
    struct opd_line *lines = NULL;
    int32_t r;

    if (!IN_RANGE(i, x->s->n_locations))
        return -EINVAL;
    if (x->loc[i] >= 0)
        return x->loc[i];
    l = x->s->locations[i];
    if ((l.mapping_index = t_map(x, l.mapping_index)) < 0)
        return l.mapping_index;
    if (l.n_lines) {
        lines = opd_malloc(l.n_lines * sizeof(*lines));
        if (!lines)
            return -ENOMEM;
        for (size_t k = 0; k < l.n_lines; k++) {
            lines[k] = l.lines[k];
            if ((lines[k].function_index = t_fn(x, lines[k].function_index)) < 0) {
                r = lines[k].function_index;
                goto out;
            }
        }
        l.lines = lines;
    }
    if ((r = t_attrs(x, 0, l.attr_indices, l.n_attr)) < 0)
        goto out;
    l.attr_indices = x->tmp;
    r = x->loc[i] = opd_dict_location(x->d, &l);
out:
    opd_free(lines);
    return r;
}

static int32_t t_stack(struct xlat *x, int32_t i)
{
    const struct opd_stack *st;
    int32_t *v, r;

    if (!IN_RANGE(i, x->s->n_stacks))
        return -EINVAL;
    if (x->stk[i] >= 0)
        return x->stk[i];
    st = &x->s->stacks[i];
    v = opd_malloc((st->n ? st->n : 1) * sizeof(int32_t));
    if (!v)
        return -ENOMEM;
    for (size_t k = 0; k < st->n; k++) {
        if ((v[k] = t_loc(x, st->location_indices[k])) < 0) {
            r = v[k];
            opd_free(v);
            return r;
        }
    }
    r = x->stk[i] = opd_dict_stack(x->d, v, st->n);
    opd_free(v);
    return r;
}

static int32_t t_link(struct xlat *x, int32_t i)
{
    const struct opd_link *l;

    if (!IN_RANGE(i, x->s->n_links))
        return -EINVAL;
    if (x->link[i] >= 0)
        return x->link[i];
    l = &x->s->links[i];
    return x->link[i] = l->set ? opd_dict_link(x->d, l->trace_id, l->span_id) : 0;
}

static int copy_attrs(struct opd_batch *b, struct opd_attrs *dst, const struct opd_attrs *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (opd_attrs_set(b, dst, src->v[i].key, &src->v[i].value))
            return -ENOMEM;
    return 0;
}

static int copy_profile_head(struct xlat *x, struct opd_batch *b, struct opd_profile *p,
                             const struct opd_profile *sp)
{
    int32_t a, c, e, f;
    int rc;

    if ((a = t_str(x, sp->sample_type.type_strindex)) < 0)
        return a;
    if ((c = t_str(x, sp->sample_type.unit_strindex)) < 0)
        return c;
    if ((e = t_str(x, sp->period_type.type_strindex)) < 0)
        return e;
    if ((f = t_str(x, sp->period_type.unit_strindex)) < 0)
        return f;
    p->sample_type = (struct opd_value_type_ref){a, c};
    p->period_type = (struct opd_value_type_ref){e, f};
    p->period = sp->period;
    p->time_unix_nano = sp->time_unix_nano;
    p->duration_nano = sp->duration_nano;
    memcpy(p->profile_id, sp->profile_id, sizeof(p->profile_id));
    p->has_profile_id = sp->has_profile_id;
    p->dropped_attributes_count = sp->dropped_attributes_count;
    if (sp->original_payload_format &&
        !(p->original_payload_format = opd_arena_strdup(&b->arena, sp->original_payload_format)))
        return -ENOMEM;
    if (sp->original_payload_len) {
        uint8_t *op = opd_arena_alloc(&b->arena, sp->original_payload_len);
        if (!op)
            return -ENOMEM;
        memcpy(op, sp->original_payload, sp->original_payload_len);
        p->original_payload = op;
        p->original_payload_len = sp->original_payload_len;
    }
    if (sp->n_attr) {
        if ((rc = t_attrs(x, 0, sp->attr_indices, sp->n_attr)) < 0)
            return rc;
        p->attr_indices = opd_malloc(sp->n_attr * sizeof(int32_t));
        if (!p->attr_indices)
            return -ENOMEM;
        memcpy(p->attr_indices, x->tmp, sp->n_attr * sizeof(int32_t));
        p->n_attr = sp->n_attr;
    }
    return 0;
}

size_t opd_split_sample_msgs(const struct opd_batch *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n_resources; i++)
        for (size_t j = 0; j < b->resources[i].n_scopes; j++)
            for (size_t k = 0; k < b->resources[i].scopes[j].n_profiles; k++)
                n += b->resources[i].scopes[j].profiles[k].n_samples;
    return n;
}

struct opd_batch *opd_split_range(const struct opd_batch *b, size_t lo, size_t hi)
{
    struct opd_batch *o = opd_batch_create();
    struct xlat x;
    size_t at = 0;
    int rc = -ENOMEM;

    if (!o)
        return NULL;
    if (xlat_init(&x, &b->dict, &o->dict)) {
        opd_batch_unref(o);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < b->n_resources && at < hi; i++) {
        const struct opd_resource *sr = &b->resources[i];
        struct opd_resource *r = NULL;
        for (size_t j = 0; j < sr->n_scopes && at < hi; j++) {
            const struct opd_scope *ss = &sr->scopes[j];
            struct opd_scope *s = NULL;
            for (size_t k = 0; k < ss->n_profiles && at < hi; k++) {
                const struct opd_profile *sp = &ss->profiles[k];
                struct opd_profile *p = NULL;
                size_t first = lo > at ? lo - at : 0;
                size_t last = hi - at < sp->n_samples ? hi - at : sp->n_samples;
                if (first >= sp->n_samples) {
                    at += sp->n_samples;
                    continue;
                }
                if (!r) {
                    if (!(r = opd_batch_add_resource(o)) || copy_attrs(o, &r->attrs, &sr->attrs))
                        goto fail;
                    r->dropped_attributes_count = sr->dropped_attributes_count;
                    if (sr->schema_url &&
                        !(r->schema_url = opd_arena_strdup(&o->arena, sr->schema_url)))
                        goto fail;
                }
                if (!s) {
                    if (!(s = opd_resource_add_scope(o, r, ss->name, ss->version)) ||
                        copy_attrs(o, &s->attrs, &ss->attrs))
                        goto fail;
                    s->dropped_attributes_count = ss->dropped_attributes_count;
                    if (ss->schema_url &&
                        !(s->schema_url = opd_arena_strdup(&o->arena, ss->schema_url)))
                        goto fail;
                }
                if (!(p = opd_scope_add_profile(o, s)))
                    goto fail;
                rc = copy_profile_head(&x, o, p, sp);
                if (rc)
                    goto fail;
                for (size_t q = first; q < last; q++) {
                    struct opd_sample smp = sp->samples[q];
                    if ((rc = smp.stack_index = t_stack(&x, smp.stack_index)) < 0 ||
                        (rc = smp.link_index = t_link(&x, smp.link_index)) < 0 ||
                        (rc = t_attrs(&x, 0, sp->samples[q].attr_indices, smp.n_attr)) < 0)
                        goto fail;
                    smp.attr_indices = x.tmp;
                    rc = opd_profile_add_sample(o, p, &smp);
                    if (rc)
                        goto fail;
                }
                at += sp->n_samples;
            }
        }
    }
    xlat_fini(&x);
    return o;
fail:
    xlat_fini(&x);
    opd_batch_unref(o);
    errno = rc < 0 ? -rc : ENOMEM;
    return NULL;
}

static int encode(const struct opd_batch *b, int json, uint8_t **buf, size_t *len)
{
    if (json)
        return opd_json_encode(b, (char **)buf, len);
    return opd_proto_encode(b, buf, len);
}

static int split_rec(const struct opd_batch *b, size_t lo, size_t hi, size_t max_bytes, int json,
                     opd_split_emit_fn emit, void *arg, int *parts)
{
    struct opd_batch *part = opd_split_range(b, lo, hi);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!part)
        return -errno;
    rc = encode(part, json, &buf, &len);
    if (rc == 0 && (len <= max_bytes || hi - lo <= 1)) {
        uint64_t items = opd_batch_sample_count(part);
        opd_batch_unref(part);
        (*parts)++;
        return emit(arg, buf, len, items);
    }
    opd_batch_unref(part);
    free(buf);
    if (rc)
        return rc;
    size_t mid = lo + (hi - lo) / 2;
    rc = split_rec(b, lo, mid, max_bytes, json, emit, arg, parts);
    if (rc == 0)
        rc = split_rec(b, mid, hi, max_bytes, json, emit, arg, parts);
    return rc;
}

int opd_split_encode(const struct opd_batch *b, size_t max_bytes, int json, opd_split_emit_fn emit,
                     void *arg)
{
    uint8_t *buf = NULL;
    size_t len = 0, n;
    int rc, parts = 0;

    rc = encode(b, json, &buf, &len);
    if (rc)
        return rc;
    n = opd_split_sample_msgs(b);
    if (len <= max_bytes || n <= 1) {
        rc = emit(arg, buf, len, opd_batch_sample_count(b));
        return rc ? rc : 1;
    }
    free(buf);
    rc = split_rec(b, 0, n, max_bytes, json, emit, arg, &parts);
    return rc ? rc : parts;
}

struct emit_ctx {
    struct opd_exporterhelper *eh;
    int first_err;
};

static int emit_part(void *arg, uint8_t *buf, size_t len, uint64_t items)
{
    struct emit_ctx *e = arg;
    int rc = opd_eh_submit(e->eh, buf, len, items);

    if (rc && !e->first_err)
        e->first_err = rc;
    return 0; /* a dropped part is counted by the helper; the others still go */
}

int opd_eh_consume_batch(struct opd_exporterhelper *eh, struct opd_batch *b,
                         size_t max_request_bytes, int json, const char *logname,
                         struct opd_metric *split)
{
    struct emit_ctx e = {eh, 0};
    uint64_t items = opd_batch_sample_count(b);
    int rc;

    if (items == 0) {
        /* A Collector drops requests without samples; sending them only costs. */
        opd_batch_unref(b);
        return 0;
    }
    rc = opd_split_encode(b, max_request_bytes, json, emit_part, &e);
    opd_batch_unref(b);
    if (rc < 0) {
        OPD_ERR(logname, "encoding %llu sample(s): %s", (unsigned long long)items,
                strerror(-rc));
        return rc;
    }
    if (rc > 1) {
        OPD_DEBUG(logname, "request over max_request_bytes split in %d parts", rc);
        opd_metric_add(split, rc - 1);
    }
    return e.first_err;
}
