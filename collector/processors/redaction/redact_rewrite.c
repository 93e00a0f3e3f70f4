/* redaction: rebuilding a batch under the policy. Every table of the source dictionary
 * is translated into a fresh batch through the policy, and only entries something still
 * refers to are interned, so an original name cannot linger in the string table. Index
 * maps hold -1 for entries the policy removed (attributes, frames). */
#include <errno.h>
#include <string.h>

#include "collector/mem.h"
#include "otlp/profiles.h"
#include "redaction.h"

struct rw {
    const struct opd_redaction_policy *p;
    const struct opd_dict *sd;
    struct opd_batch *nb;
    struct opd_redaction_counts *cnt;
    int32_t *plain, *sym; /* string index → new index, by role; -2 = not done yet */
    int32_t *attr, *fn, *map, *loc, *stk, *link;
    bool *fn_blocked;
    int32_t *tmp;
    size_t cap_tmp;
    struct opd_line *lines;
    size_t cap_lines;
};

static int32_t *alloc_map(size_t n, int32_t fill)
{
    int32_t *m = n > SIZE_MAX / sizeof(int32_t) ? NULL : opd_malloc(n * sizeof(int32_t));

    for (size_t i = 0; m && i < n; i++)
        m[i] = fill;
    return m;
}

static void rw_fini(struct rw *w)
{
    opd_free(w->plain);
    opd_free(w->sym);
    opd_free(w->attr);
    opd_free(w->fn);
    opd_free(w->map);
    opd_free(w->loc);
    opd_free(w->stk);
    opd_free(w->link);
    opd_free(w->fn_blocked);
    opd_free(w->tmp);
    opd_free(w->lines);
}

static bool in_range(int32_t i, size_t n)
{
    return i >= 0 && (size_t)i < n;
}

/* A string kept as it is (keys, units, sample types). */
static int32_t plain_str(struct rw *w, int32_t i)
{
    if (!in_range(i, w->sd->n_strings))
        return -EINVAL;
    if (w->plain[i] == -2)
        w->plain[i] = opd_dict_string(&w->nb->dict, w->sd->strings[i]);
    return w->plain[i];
}

/* A function, file or mapping name: masked or hashed when blocked. */
static int32_t sym_str(struct rw *w, int32_t i, bool *blocked)
{
    const char *s;

    if (!in_range(i, w->sd->n_strings))
        return -EINVAL;
    s = w->sd->strings[i];
    *blocked = opd_redaction_symbol_blocked(w->p, s);
    if (w->sym[i] != -2)
        return w->sym[i];
    if (!*blocked) {
        w->sym[i] = opd_dict_string(&w->nb->dict, s);
    } else if (w->p->sym_action == OPD_REDACT_SYM_HASH) {
        char h[33];

        if (opd_redaction_hash(w->p, s, strlen(s), h))
            return -EIO;
        w->sym[i] = opd_dict_string(&w->nb->dict, h);
        w->cnt->symbols_redacted++;
    } else {
        /* drop_frames also masks: a blocked name may still be referenced by a mapping. */
        w->sym[i] = opd_dict_string(&w->nb->dict, w->p->sym_mask);
        w->cnt->symbols_redacted++;
    }
    return w->sym[i];
}

/* Translates one value of a kept key into *out (strings may be replaced). */
static int redact_value(struct rw *w, enum opd_redaction_key verdict, const struct opd_value *in,
                        struct opd_value *out, char **owned)
{
    int err = 0;
    char *nv;

    *out = *in;
    *owned = NULL;
    if (in->type != OPD_VAL_STR || verdict == OPD_REDACT_KEY_IGNORE)
        return 0;
    nv =
        opd_redaction_value(w->p, in->u.str ? in->u.str : "", verdict == OPD_REDACT_KEY_MASK, &err);
    if (err)
        return err;
    if (nv) {
        out->u.str = nv;
        *owned = nv;
        w->cnt->values_masked++;
    }
    return 0;
}

static int do_attributes(struct rw *w)
{
    const struct opd_dict *sd = w->sd;

    if (!(w->attr = alloc_map(sd->n_attributes, -1)))
        return -ENOMEM;
    if (sd->n_attributes)
        w->attr[0] = 0;
    for (size_t i = 1; i < sd->n_attributes; i++) {
        struct opd_attribute a = sd->attributes[i];
        enum opd_redaction_key v;
        char *owned;
        int err;

        if (!in_range(a.key_strindex, sd->n_strings))
            return -EINVAL;
        v = opd_redaction_key_verdict(w->p, sd->strings[a.key_strindex]);
        if (v == OPD_REDACT_KEY_DROP) {
            w->cnt->keys_dropped++;
            continue;
        }
        if ((a.key_strindex = plain_str(w, a.key_strindex)) < 0 ||
            (a.unit_strindex = plain_str(w, a.unit_strindex)) < 0)
            return a.key_strindex < 0 ? a.key_strindex : a.unit_strindex;
        if ((err = redact_value(w, v, &sd->attributes[i].value, &a.value, &owned)))
            return err;
        w->attr[i] = opd_dict_attribute(&w->nb->dict, &a);
        opd_free(owned);
        if (w->attr[i] < 0)
            return w->attr[i];
    }
    return 0;
}

/* Translates an attribute index list into w->tmp, leaving out removed ones. */
static int attr_list(struct rw *w, const int32_t *v, size_t n, size_t *out_n)
{
    *out_n = 0;
    if (opd_vec_reserve((void **)&w->tmp, &w->cap_tmp, n, sizeof(*w->tmp)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!in_range(v[i], w->sd->n_attributes))
            return -EINVAL;
        if (w->attr[v[i]] >= 0)
            w->tmp[(*out_n)++] = w->attr[v[i]];
    }
    return 0;
}

static int do_functions_mappings(struct rw *w)
{
    const struct opd_dict *sd = w->sd;
    size_t n;
    int err;

    if (!(w->fn = alloc_map(sd->n_functions, -1)) || !(w->map = alloc_map(sd->n_mappings, -1)) ||
        !(w->fn_blocked = opd_calloc(sd->n_functions ? sd->n_functions : 1, sizeof(bool))))
        return -ENOMEM;
    for (size_t i = 0; i < sd->n_functions; i++) {
        struct opd_function f = sd->functions[i];
        bool b1 = false, b2 = false, b3 = false;

        if ((f.name_strindex = sym_str(w, f.name_strindex, &b1)) < 0)
            return f.name_strindex;
        if ((f.system_name_strindex = sym_str(w, f.system_name_strindex, &b2)) < 0)
            return f.system_name_strindex;
        if ((f.filename_strindex = sym_str(w, f.filename_strindex, &b3)) < 0)
            return f.filename_strindex;
        w->fn_blocked[i] = b1 || b2;
        if ((w->fn[i] = opd_dict_function(&w->nb->dict, &f)) < 0)
            return w->fn[i];
    }
    for (size_t i = 0; i < sd->n_mappings; i++) {
        struct opd_mapping m = sd->mappings[i];
        bool blocked;

        if ((m.filename_strindex = sym_str(w, m.filename_strindex, &blocked)) < 0)
            return m.filename_strindex;
        if ((err = attr_list(w, m.attr_indices, m.n_attr, &n)))
            return err;
        m.attr_indices = w->tmp;
        m.n_attr = n;
        if ((w->map[i] = opd_dict_mapping(&w->nb->dict, &m)) < 0)
            return w->map[i];
    }
    return 0;
}

static int do_locations(struct rw *w)
{
    const struct opd_dict *sd = w->sd;
    bool drop = w->p->sym_action == OPD_REDACT_SYM_DROP;

    if (!(w->loc = alloc_map(sd->n_locations, -1)))
        return -ENOMEM;
    for (size_t i = 0; i < sd->n_locations; i++) {
        struct opd_location l = sd->locations[i];
        size_t nl = 0, na;
        int err;

        if (!in_range(l.mapping_index, sd->n_mappings))
            return -EINVAL;
        l.mapping_index = w->map[l.mapping_index];
        if (opd_vec_reserve((void **)&w->lines, &w->cap_lines, l.n_lines, sizeof(*w->lines)))
            return -ENOMEM;
        for (size_t j = 0; j < l.n_lines; j++) {
            int32_t f = l.lines[j].function_index;

            if (!in_range(f, sd->n_functions))
                return -EINVAL;
            if (drop && w->fn_blocked[f]) {
                w->cnt->frames_dropped++;
                continue;
            }
            w->lines[nl] = l.lines[j];
            w->lines[nl++].function_index = w->fn[f];
        }
        /* A frame whose every line was blocked goes entirely. */
        if (drop && l.n_lines > 0 && nl == 0)
            continue;
        l.lines = w->lines;
        l.n_lines = nl;
        if ((err = attr_list(w, l.attr_indices, l.n_attr, &na)))
            return err;
        l.attr_indices = w->tmp;
        l.n_attr = na;
        if ((w->loc[i] = opd_dict_location(&w->nb->dict, &l)) < 0)
            return w->loc[i];
    }
    return 0;
}

static int do_stacks_links(struct rw *w)
{
    const struct opd_dict *sd = w->sd;

    if (!(w->stk = alloc_map(sd->n_stacks, -1)) || !(w->link = alloc_map(sd->n_links, -1)))
        return -ENOMEM;
    for (size_t i = 0; i < sd->n_stacks; i++) {
        const struct opd_stack *s = &sd->stacks[i];
        size_t n = 0;

        if (opd_vec_reserve((void **)&w->tmp, &w->cap_tmp, s->n, sizeof(*w->tmp)))
            return -ENOMEM;
        for (size_t j = 0; j < s->n; j++) {
            if (!in_range(s->location_indices[j], sd->n_locations))
                return -EINVAL;
            if (w->loc[s->location_indices[j]] >= 0)
                w->tmp[n++] = w->loc[s->location_indices[j]];
        }
        if ((w->stk[i] = opd_dict_stack(&w->nb->dict, w->tmp, n)) < 0)
            return w->stk[i];
    }
    for (size_t i = 0; i < sd->n_links; i++)
        if ((w->link[i] =
                 opd_dict_link(&w->nb->dict, sd->links[i].trace_id, sd->links[i].span_id)) < 0)
            return w->link[i];
    return 0;
}

/* Inline attributes (resource, scope): same key and value rules. */
static int copy_inline(struct rw *w, struct opd_attrs *to, const struct opd_attrs *from)
{
    for (size_t i = 0; i < from->n; i++) {
        const char *key = from->v[i].key ? from->v[i].key : "";
        enum opd_redaction_key v = opd_redaction_key_verdict(w->p, key);
        struct opd_value val;
        char *owned;
        int err;

        if (v == OPD_REDACT_KEY_DROP) {
            w->cnt->keys_dropped++;
            continue;
        }
        if ((err = redact_value(w, v, &from->v[i].value, &val, &owned)))
            return err;
        err = opd_attrs_set(w->nb, to, key, &val);
        opd_free(owned);
        if (err)
            return err;
    }
    return 0;
}

static int32_t tr(const int32_t *map, size_t n, int32_t i)
{
    return in_range(i, n) ? map[i] : -EINVAL;
}

static int copy_profile(struct rw *w, struct opd_profile *p, const struct opd_profile *sp)
{
    const struct opd_dict *sd = w->sd;
    size_t n;
    int err;

    p->sample_type = sp->sample_type;
    p->period_type = sp->period_type;
    if ((p->sample_type.type_strindex = plain_str(w, sp->sample_type.type_strindex)) < 0)
        return p->sample_type.type_strindex;
    if ((p->sample_type.unit_strindex = plain_str(w, sp->sample_type.unit_strindex)) < 0)
        return p->sample_type.unit_strindex;
    if ((p->period_type.type_strindex = plain_str(w, sp->period_type.type_strindex)) < 0)
        return p->period_type.type_strindex;
    if ((p->period_type.unit_strindex = plain_str(w, sp->period_type.unit_strindex)) < 0)
        return p->period_type.unit_strindex;
    p->period = sp->period;
    p->time_unix_nano = sp->time_unix_nano;
    p->duration_nano = sp->duration_nano;
    memcpy(p->profile_id, sp->profile_id, sizeof(p->profile_id));
    p->has_profile_id = sp->has_profile_id;
    p->dropped_attributes_count = sp->dropped_attributes_count;
    /* original_payload (e.g. raw pprof) would carry every name unredacted: never copied. */
    if ((err = attr_list(w, sp->attr_indices, sp->n_attr, &n)))
        return err;
    if (n) {
        p->attr_indices = opd_malloc(n * sizeof(int32_t));
        if (!p->attr_indices)
            return -ENOMEM;
        memcpy(p->attr_indices, w->tmp, n * sizeof(int32_t));
        p->n_attr = n;
    }
    for (size_t i = 0; i < sp->n_samples; i++) {
        struct opd_sample s = sp->samples[i];

        if ((s.stack_index = tr(w->stk, sd->n_stacks, s.stack_index)) < 0 ||
            (s.link_index = tr(w->link, sd->n_links, s.link_index)) < 0)
            return -EINVAL;
        if ((err = attr_list(w, sp->samples[i].attr_indices, sp->samples[i].n_attr, &n)))
            return err;
        s.attr_indices = w->tmp;
        s.n_attr = n;
        if ((err = opd_profile_add_sample(w->nb, p, &s)))
            return err;
    }
    return 0;
}

static int copy_resources(struct rw *w, const struct opd_batch *src)
{
    int err;

    for (size_t i = 0; i < src->n_resources; i++) {
        const struct opd_resource *sr = &src->resources[i];
        struct opd_resource *r = opd_batch_add_resource(w->nb);

        if (!r)
            return -ENOMEM;
        r->dropped_attributes_count = sr->dropped_attributes_count;
        if (sr->schema_url && !(r->schema_url = opd_arena_strdup(&w->nb->arena, sr->schema_url)))
            return -ENOMEM;
        if ((err = copy_inline(w, &r->attrs, &sr->attrs)))
            return err;
        for (size_t j = 0; j < sr->n_scopes; j++) {
            const struct opd_scope *ss = &sr->scopes[j];
            struct opd_scope *s = opd_resource_add_scope(w->nb, r, ss->name, ss->version);

            if (!s)
                return -ENOMEM;
            s->dropped_attributes_count = ss->dropped_attributes_count;
            if (ss->schema_url &&
                !(s->schema_url = opd_arena_strdup(&w->nb->arena, ss->schema_url)))
                return -ENOMEM;
            if ((err = copy_inline(w, &s->attrs, &ss->attrs)))
                return err;
            for (size_t k = 0; k < ss->n_profiles; k++) {
                struct opd_profile *p = opd_scope_add_profile(w->nb, s);

                if (!p)
                    return -ENOMEM;
                if ((err = copy_profile(w, p, &ss->profiles[k])))
                    return err;
            }
        }
    }
    return 0;
}

struct opd_batch *opd_redaction_rewrite(const struct opd_redaction_policy *p,
                                        const struct opd_batch *src,
                                        struct opd_redaction_counts *cnt)
{
    struct rw w = {.p = p, .sd = &src->dict, .cnt = cnt};
    int err = -ENOMEM;

    w.nb = opd_batch_create();
    if (!w.nb || !(w.plain = alloc_map(src->dict.n_strings, -2)) ||
        !(w.sym = alloc_map(src->dict.n_strings, -2)))
        goto fail;
    /* The zero string stays the zero string in either role. */
    if (src->dict.n_strings)
        w.plain[0] = w.sym[0] = 0;
    if ((err = do_attributes(&w)) || (err = do_functions_mappings(&w)) ||
        (err = do_locations(&w)) || (err = do_stacks_links(&w)) || (err = copy_resources(&w, src)))
        goto fail;
    rw_fini(&w);
    return w.nb;
fail:
    rw_fini(&w);
    opd_batch_unref(w.nb);
    errno = err == -EINVAL || err == -EIO ? -err : ENOMEM;
    return NULL;
}
