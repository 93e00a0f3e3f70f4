/* Batch → pprof profile.proto (gzipped) through protoc-c (proto/pprof.proto).
 *
 * One pprof profile per resource and group of its OTLP profiles that share period type,
 * period, time and duration and differ in sample type: each OTLP profile of the group is one
 * sample type (one column of Sample.value), and samples with the same stack, link and
 * attributes across the group are one pprof sample. So a process's memory profiles
 * (alloc_space, alloc_objects, inuse_space) become one heap profile, as Go writes them.
 *
 * Carried over: locations (address as in OTLP, lines inlined first), mappings (the build id
 * from process.executable.build_id.gnu, else .go, else .htlhash), functions (name, system
 * name, file, start line), sample attributes as labels (strings as str, integers as num),
 * a link as trace_id / span_id labels, period type and period, time and duration; the
 * resource's and profile's attributes as comments ("key=value"). A sample's value is the
 * sum of its values, or its number of timestamps when it has none. */
#include "otlp/intern.h"
#include "otlp/proto/pprof.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "otlp/grpc/grpc_codec.h"

typedef Perftools__Profiles__Profile PpProfile;
typedef Perftools__Profiles__ValueType PpValueType;
typedef Perftools__Profiles__Sample PpSample;
typedef Perftools__Profiles__Label PpLabel;
typedef Perftools__Profiles__Mapping PpMapping;
typedef Perftools__Profiles__Location PpLocation;
typedef Perftools__Profiles__Line PpLine;
typedef Perftools__Profiles__Function PpFunction;

/* protoc-c wants mutable pointers; the encoder never writes through them. */
#define MUT(p) ((void *)(uintptr_t)(p))

/* One input sample of a group: which column (sample type) it adds to, and its attribute
 * indices sorted (attribute lists are sets). */
struct ref {
    const struct opd_sample *s;
    size_t col;
    int32_t *attrs; /* sorted copy, in the scratch arena */
};

/* A table of pprof messages (functions, locations or mappings), in id order (ids are
 * 1-based), with each entry's OTLP dictionary index, so that map (OTLP index → id, 0: not
 * in the profile being built) is reset entry by entry. */
struct table {
    void **v;
    int32_t *src;
    size_t n, cap, cap_src;
    uint64_t *map;
};

struct enc {
    const struct opd_batch *b;
    const struct opd_dict *d;
    struct opd_arena a; /* the message tree of the profile being built */
    /* Strings: OTLP string index → pprof string index (0: not yet; see pstr). */
    int64_t *str_map;
    char **strs;
    int32_t *str_src; /* -1 for strings of our own */
    size_t n_strs, cap_strs, cap_str_src;
    struct table fns, locs, maps;
};

/* Appends entry, the pprof message of OTLP index src, to t. Returns its id, or 0 on
 * -ENOMEM. */
static uint64_t table_add(struct table *t, void *entry, int32_t src)
{
    void **slot;

    if (opd_vec_reserve((void **)&t->src, &t->cap_src, t->n + 1, sizeof(*t->src)))
        return 0;
    slot = OPD_VEC_PUSH_SLOT(t->v, t->n, t->cap);
    if (!slot)
        return 0;
    *slot = entry;
    t->src[t->n - 1] = src;
    t->map[src] = t->n;
    return t->n;
}

static void table_reset(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        t->map[t->src[i]] = 0;
    t->n = 0;
}

static int table_init(struct table *t, size_t n_src)
{
    t->map = opd_calloc(n_src ? n_src : 1, sizeof(*t->map));
    return t->map ? 0 : -ENOMEM;
}

static void table_fini(struct table *t)
{
    opd_free(t->v);
    opd_free(t->src);
    opd_free(t->map);
}

static void *scratch(struct opd_arena *a, size_t n, size_t elem)
{
    if (elem && n > SIZE_MAX / elem)
        return NULL;
    return opd_arena_alloc(a, n ? n * elem : 1);
}

/* The pprof string index of text s (added when new); src is its OTLP string index or -1
 * for a string of our own. Returns the index (>= 0) or -ENOMEM. */
static int64_t pstr(struct enc *e, const char *s, int32_t src)
{
    char **slot;
    int32_t *from;

    if (src >= 0 && e->str_map[src])
        return e->str_map[src];
    if (!s[0] && e->n_strs)
        return 0; /* "" is entry 0 */
    if (src < 0) {
        /* Our own strings are few (labels of links, comments): a linear look-up. */
        for (size_t i = 0; i < e->n_strs; i++)
            if (strcmp(e->strs[i], s) == 0)
                return (int64_t)i;
        s = opd_arena_strdup(&e->a, s);
        if (!s)
            return -ENOMEM;
    }
    if (opd_vec_reserve((void **)&e->str_src, &e->cap_str_src, e->n_strs + 1, sizeof(*from)))
        return -ENOMEM;
    slot = OPD_VEC_PUSH_SLOT(e->strs, e->n_strs, e->cap_strs);
    if (!slot)
        return -ENOMEM;
    *slot = MUT(s);
    e->str_src[e->n_strs - 1] = src;
    if (src >= 0)
        e->str_map[src] = (int64_t)(e->n_strs - 1);
    return (int64_t)(e->n_strs - 1);
}

static int64_t dstr(struct enc *e, int32_t i)
{
    if (i < 0 || (size_t)i >= e->d->n_strings)
        i = 0;
    return pstr(e, e->d->strings[i], i);
}

static const char *attr_key(const struct enc *e, const struct opd_attribute *a)
{
    return opd_dict_str(e->d, a->key_strindex);
}

/* The string value of attribute key among the indices idx[0..n), or NULL. */
static const char *find_attr(const struct enc *e, const int32_t *idx, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const struct opd_attribute *a;

        if (idx[i] <= 0 || (size_t)idx[i] >= e->d->n_attributes)
            continue;
        a = &e->d->attributes[idx[i]];
        if (a->value.type == OPD_VAL_STR && a->value.u.str[0] && strcmp(attr_key(e, a), key) == 0)
            return a->value.u.str;
    }
    return NULL;
}

static uint64_t add_mapping(struct enc *e, int32_t mi)
{
    static const PpMapping init = PERFTOOLS__PROFILES__MAPPING__INIT;
    static const char *const build_ids[] = {"process.executable.build_id.gnu",
                                            "process.executable.build_id.go",
                                            "process.executable.build_id.htlhash"};
    const struct opd_mapping *m;
    PpMapping *pm;
    const char *id = NULL;

    if (mi <= 0 || (size_t)mi >= e->d->n_mappings)
        return 0;
    if (e->maps.map[mi])
        return e->maps.map[mi];
    m = &e->d->mappings[mi];
    pm = scratch(&e->a, 1, sizeof(*pm));
    if (!pm)
        return 0;
    *pm = init;
    pm->memory_start = m->memory_start;
    pm->memory_limit = m->memory_limit;
    pm->file_offset = m->file_offset;
    pm->filename = dstr(e, m->filename_strindex);
    for (size_t i = 0; i < sizeof(build_ids) / sizeof(build_ids[0]) && !id; i++)
        id = find_attr(e, m->attr_indices, m->n_attr, build_ids[i]);
    pm->build_id = id ? pstr(e, id, -1) : 0;
    if (pm->filename < 0 || pm->build_id < 0)
        return 0;
    /* Cleared below by every location of the mapping that lacks them. */
    pm->has_functions = pm->has_filenames = pm->has_line_numbers = true;
    pm->id = table_add(&e->maps, pm, mi);
    return pm->id;
}

static uint64_t add_function(struct enc *e, int32_t fi)
{
    static const PpFunction init = PERFTOOLS__PROFILES__FUNCTION__INIT;
    const struct opd_function *f;
    PpFunction *pf;

    if (fi <= 0 || (size_t)fi >= e->d->n_functions)
        return 0;
    if (e->fns.map[fi])
        return e->fns.map[fi];
    f = &e->d->functions[fi];
    pf = scratch(&e->a, 1, sizeof(*pf));
    if (!pf)
        return 0;
    *pf = init;
    pf->name = dstr(e, f->name_strindex);
    pf->system_name = dstr(e, f->system_name_strindex);
    pf->filename = dstr(e, f->filename_strindex);
    pf->start_line = f->start_line;
    if (pf->name < 0 || pf->system_name < 0 || pf->filename < 0)
        return 0;
    pf->id = table_add(&e->fns, pf, fi);
    return pf->id;
}

/* The pprof id of OTLP location li (added with its mapping and functions); 0 on -ENOMEM or
 * for an index out of range (callers skip it). */
static uint64_t add_location(struct enc *e, int32_t li, int *err)
{
    static const PpLocation init = PERFTOOLS__PROFILES__LOCATION__INIT;
    static const PpLine line_init = PERFTOOLS__PROFILES__LINE__INIT;
    const struct opd_location *l;
    PpLocation *pl;
    PpMapping *pm = NULL;

    if (li <= 0 || (size_t)li >= e->d->n_locations)
        return 0;
    if (e->locs.map[li])
        return e->locs.map[li];
    *err = -ENOMEM;
    l = &e->d->locations[li];
    pl = scratch(&e->a, 1, sizeof(*pl));
    if (!pl)
        return 0;
    *pl = init;
    pl->address = l->address;
    if (l->mapping_index > 0 && (size_t)l->mapping_index < e->d->n_mappings) {
        pl->mapping_id = add_mapping(e, l->mapping_index);
        if (!pl->mapping_id)
            return 0;
        pm = e->maps.v[pl->mapping_id - 1];
    }
    pl->line = scratch(&e->a, l->n_lines, sizeof(*pl->line));
    if (!pl->line)
        return 0;
    for (size_t k = 0; k < l->n_lines; k++) {
        PpLine *ln = scratch(&e->a, 1, sizeof(*ln));
        int32_t fi = l->lines[k].function_index;

        if (!ln)
            return 0;
        *ln = line_init;
        ln->line = l->lines[k].line;
        if (fi > 0 && (size_t)fi < e->d->n_functions) {
            ln->function_id = add_function(e, fi);
            if (!ln->function_id)
                return 0;
            if (pm && !e->d->functions[fi].filename_strindex)
                pm->has_filenames = false;
        }
        if (pm && !ln->line)
            pm->has_line_numbers = false;
        pl->line[pl->n_line++] = ln;
    }
    if (pm && !pl->n_line)
        pm->has_functions = pm->has_filenames = pm->has_line_numbers = false;
    if (pm && pl->n_line > 1)
        pm->has_inline_frames = true;
    pl->id = table_add(&e->locs, pl, li);
    if (pl->id)
        *err = 0;
    return pl->id;
}

/* Appends the label of attribute ai to ps. Values other than strings, integers, booleans
 * and doubles are left out. Returns 0 or -ENOMEM. */
static int add_label(struct enc *e, PpSample *ps, int32_t ai)
{
    static const PpLabel init = PERFTOOLS__PROFILES__LABEL__INIT;
    const struct opd_attribute *a;
    PpLabel *l;
    char num[32];

    if (ai <= 0 || (size_t)ai >= e->d->n_attributes)
        return 0;
    a = &e->d->attributes[ai];
    l = scratch(&e->a, 1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    *l = init;
    l->key = dstr(e, a->key_strindex);
    switch (a->value.type) {
    case OPD_VAL_STR:
        l->str = pstr(e, a->value.u.str, -1);
        break;
    case OPD_VAL_INT:
        l->num = a->value.u.i;
        l->num_unit = a->unit_strindex ? dstr(e, a->unit_strindex) : 0;
        break;
    case OPD_VAL_BOOL:
        l->str = pstr(e, a->value.u.b ? "true" : "false", -1);
        break;
    case OPD_VAL_DOUBLE:
        snprintf(num, sizeof(num), "%.17g", a->value.u.d);
        l->str = pstr(e, num, -1);
        break;
    default:
        return 0;
    }
    if (l->key < 0 || l->str < 0 || l->num_unit < 0)
        return -ENOMEM;
    ps->label[ps->n_label++] = l;
    return 0;
}

static int add_link_labels(struct enc *e, PpSample *ps, int32_t link)
{
    static const PpLabel init = PERFTOOLS__PROFILES__LABEL__INIT;
    const struct opd_link *k;
    char hex[33];

    if (link <= 0 || (size_t)link >= e->d->n_links || !e->d->links[link].set)
        return 0;
    k = &e->d->links[link];
    for (int i = 0; i < 2; i++) {
        PpLabel *l = scratch(&e->a, 1, sizeof(*l));
        const uint8_t *id = i ? k->span_id : k->trace_id;
        size_t n = i ? 8 : 16;

        if (!l)
            return -ENOMEM;
        *l = init;
        for (size_t j = 0; j < n; j++)
            snprintf(hex + 2 * j, 3, "%02x", id[j]);
        l->key = pstr(e, i ? "span_id" : "trace_id", -1);
        l->str = pstr(e, hex, -1);
        if (l->key < 0 || l->str < 0)
            return -ENOMEM;
        ps->label[ps->n_label++] = l;
    }
    return 0;
}

static int cmp_ref(const void *x, const void *y)
{
    const struct ref *a = x, *b = y;

    if (a->s->stack_index != b->s->stack_index)
        return a->s->stack_index < b->s->stack_index ? -1 : 1;
    if (a->s->link_index != b->s->link_index)
        return a->s->link_index < b->s->link_index ? -1 : 1;
    if (a->s->n_attr != b->s->n_attr)
        return a->s->n_attr < b->s->n_attr ? -1 : 1;
    for (size_t k = 0; k < a->s->n_attr; k++)
        if (a->attrs[k] != b->attrs[k])
            return a->attrs[k] < b->attrs[k] ? -1 : 1;
    return 0;
}

static int cmp_i32(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;

    return a < b ? -1 : a > b;
}

static int64_t sample_value(const struct opd_sample *s)
{
    int64_t v = 0;

    for (size_t k = 0; k < s->n_values; k++)
        v += s->values[k];
    return s->n_values ? v : (int64_t)s->n_timestamps;
}

/* Builds the pprof sample of refs r[0..n) (one identity) with ncols values. */
static PpSample *make_sample(struct enc *e, const struct ref *r, size_t n, size_t ncols)
{
    static const PpSample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
    const struct opd_sample *s = r[0].s;
    PpSample *ps = scratch(&e->a, 1, sizeof(*ps));
    const struct opd_stack *st = NULL;
    int err = 0;

    if (!ps)
        return NULL;
    *ps = init;
    ps->value = scratch(&e->a, ncols, sizeof(*ps->value));
    if (!ps->value)
        return NULL;
    memset(ps->value, 0, ncols * sizeof(*ps->value));
    ps->n_value = ncols;
    for (size_t i = 0; i < n; i++)
        ps->value[r[i].col] += sample_value(r[i].s);
    if (s->stack_index > 0 && (size_t)s->stack_index < e->d->n_stacks)
        st = &e->d->stacks[s->stack_index];
    ps->location_id = scratch(&e->a, st ? st->n : 0, sizeof(*ps->location_id));
    if (!ps->location_id)
        return NULL;
    for (size_t i = 0; st && i < st->n; i++) {
        uint64_t id = add_location(e, st->location_indices[i], &err);

        if (err)
            return NULL;
        if (id)
            ps->location_id[ps->n_location_id++] = id;
    }
    ps->label = scratch(&e->a, s->n_attr + 2, sizeof(*ps->label));
    if (!ps->label)
        return NULL;
    for (size_t i = 0; i < s->n_attr; i++)
        if (add_label(e, ps, s->attr_indices[i]))
            return NULL;
    if (add_link_labels(e, ps, s->link_index))
        return NULL;
    return ps;
}

/* "key=value" of an attribute for a comment; false for values that have no text. */
static bool attr_text(const char *key, const struct opd_value *v, char *buf, size_t len)
{
    switch (v->type) {
    case OPD_VAL_STR:
        snprintf(buf, len, "%s=%s", key, v->u.str);
        return true;
    case OPD_VAL_INT:
        snprintf(buf, len, "%s=%" PRId64, key, v->u.i);
        return true;
    case OPD_VAL_BOOL:
        snprintf(buf, len, "%s=%s", key, v->u.b ? "true" : "false");
        return true;
    default:
        return false;
    }
}

static int add_comment(struct enc *e, PpProfile *p, const char *key, const struct opd_value *v)
{
    char line[1024];
    int64_t s;

    if (!attr_text(key, v, line, sizeof(line)))
        return 0;
    s = pstr(e, line, -1);
    if (s < 0)
        return -ENOMEM;
    p->comment[p->n_comment++] = s;
    return 0;
}

/* The resource's attributes, then those of the group's first profile, as comments. */
static int add_comments(struct enc *e, PpProfile *p, const struct opd_resource *r,
                        const struct opd_profile *first)
{
    p->comment = scratch(&e->a, r->attrs.n + first->n_attr, sizeof(*p->comment));
    if (!p->comment)
        return -ENOMEM;
    for (size_t i = 0; i < r->attrs.n; i++)
        if (add_comment(e, p, r->attrs.v[i].key, &r->attrs.v[i].value))
            return -ENOMEM;
    for (size_t i = 0; i < first->n_attr; i++) {
        int32_t ai = first->attr_indices[i];

        if (ai <= 0 || (size_t)ai >= e->d->n_attributes)
            continue;
        if (add_comment(e, p, attr_key(e, &e->d->attributes[ai]), &e->d->attributes[ai].value))
            return -ENOMEM;
    }
    return 0;
}

/* Forgets the previous profile's tables. */
static void reset(struct enc *e)
{
    for (size_t i = 0; i < e->n_strs; i++)
        if (e->str_src[i] >= 0)
            e->str_map[e->str_src[i]] = 0;
    table_reset(&e->fns);
    table_reset(&e->locs);
    table_reset(&e->maps);
    e->n_strs = 0;
    opd_arena_fini(&e->a);
    opd_arena_init(&e->a);
}

/* pprof takes the first mapping for the main binary (its "File:"): puts the mapping of the
 * resource's executable first when the profile has it. */
static void main_mapping_first(struct enc *e, const struct opd_resource *r)
{
    const struct opd_value *exe = opd_attrs_get(&r->attrs, "process.executable.path");
    PpMapping **maps = (PpMapping **)e->maps.v, *t;
    PpLocation **locs = (PpLocation **)e->locs.v;
    size_t k;

    if (!exe || exe->type != OPD_VAL_STR || !exe->u.str[0])
        return;
    for (k = 0; k < e->maps.n; k++)
        if (strcmp(e->strs[maps[k]->filename], exe->u.str) == 0)
            break;
    if (k == 0 || k == e->maps.n)
        return;
    t = maps[0];
    maps[0] = maps[k];
    maps[k] = t;
    maps[0]->id = 1;
    maps[k]->id = k + 1;
    for (size_t i = 0; i < e->locs.n; i++) {
        if (locs[i]->mapping_id == 1)
            locs[i]->mapping_id = k + 1;
        else if (locs[i]->mapping_id == k + 1)
            locs[i]->mapping_id = 1;
    }
}

/* The name of a group: its period type, else its first sample type. */
static const char *group_name(const struct enc *e, const struct opd_profile *first)
{
    const char *name = opd_dict_str(e->d, first->period_type.type_strindex);

    if (!name[0])
        name = opd_dict_str(e->d, first->sample_type.type_strindex);
    return name[0] ? name : "profile";
}

/* Encodes the profiles g[0..n) of resource r as one gzipped pprof profile and hands it to
 * fn. Returns 0, fn's value, or -ENOMEM. */
static int encode_group(struct enc *e, const struct opd_resource *r,
                        const struct opd_profile *const *g, size_t n, opd_pprof_fn fn, void *arg)
{
    PpProfile p = PERFTOOLS__PROFILES__PROFILE__INIT;
    static const PpValueType vt_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    struct opd_pprof out = {.resource = r, .time_unix_nano = g[0]->time_unix_nano};
    struct ref *refs = NULL;
    size_t nrefs = 0, packed_len, gz_len = 0;
    uint8_t *packed = NULL, *gz = NULL;
    int err = -ENOMEM;

    reset(e);
    if (pstr(e, "", 0) < 0)
        goto out;
    p.sample_type = scratch(&e->a, n, sizeof(*p.sample_type));
    if (!p.sample_type)
        goto out;
    for (size_t i = 0; i < n; i++) {
        PpValueType *vt = scratch(&e->a, 1, sizeof(*vt));

        if (!vt)
            goto out;
        *vt = vt_init;
        vt->type = dstr(e, g[i]->sample_type.type_strindex);
        vt->unit = dstr(e, g[i]->sample_type.unit_strindex);
        if (vt->type < 0 || vt->unit < 0)
            goto out;
        p.sample_type[p.n_sample_type++] = vt;
        nrefs += g[i]->n_samples;
    }
    if (g[0]->period_type.type_strindex || g[0]->period_type.unit_strindex) {
        p.period_type = scratch(&e->a, 1, sizeof(*p.period_type));
        if (!p.period_type)
            goto out;
        *p.period_type = vt_init;
        p.period_type->type = dstr(e, g[0]->period_type.type_strindex);
        p.period_type->unit = dstr(e, g[0]->period_type.unit_strindex);
        if (p.period_type->type < 0 || p.period_type->unit < 0)
            goto out;
    }
    p.period = g[0]->period;
    p.time_nanos = (int64_t)g[0]->time_unix_nano;
    p.duration_nanos = (int64_t)g[0]->duration_nano;

    /* Samples: every input sample, ordered by identity, one pprof sample per identity. */
    refs = opd_malloc((nrefs ? nrefs : 1) * sizeof(*refs));
    if (!refs)
        goto out;
    nrefs = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < g[i]->n_samples; k++) {
            struct ref *x = &refs[nrefs++];

            x->s = &g[i]->samples[k];
            x->col = i;
            x->attrs = scratch(&e->a, x->s->n_attr, sizeof(int32_t));
            if (!x->attrs)
                goto out;
            if (x->s->n_attr) {
                memcpy(x->attrs, x->s->attr_indices, x->s->n_attr * sizeof(int32_t));
                qsort(x->attrs, x->s->n_attr, sizeof(int32_t), cmp_i32);
            }
        }
    }
    qsort(refs, nrefs, sizeof(*refs), cmp_ref);
    p.sample = scratch(&e->a, nrefs, sizeof(*p.sample));
    if (!p.sample)
        goto out;
    for (size_t i = 0, j; i < nrefs; i = j) {
        for (j = i + 1; j < nrefs && cmp_ref(&refs[i], &refs[j]) == 0; j++)
            ;
        p.sample[p.n_sample] = make_sample(e, &refs[i], j - i, n);
        if (!p.sample[p.n_sample++])
            goto out;
    }

    if (add_comments(e, &p, r, g[0]))
        goto out;
    main_mapping_first(e, r);
    p.mapping = (PpMapping **)e->maps.v;
    p.n_mapping = e->maps.n;
    p.location = (PpLocation **)e->locs.v;
    p.n_location = e->locs.n;
    p.function = (PpFunction **)e->fns.v;
    p.n_function = e->fns.n;
    p.string_table = e->strs;
    p.n_string_table = e->n_strs;

    packed_len = perftools__profiles__profile__get_packed_size(&p);
    packed = opd_malloc(packed_len ? packed_len : 1);
    if (!packed)
        goto out;
    perftools__profiles__profile__pack(&p, packed);
    err = opd_grpc_compress(OPD_GRPC_COMP_GZIP, packed, packed_len, 0, &gz, &gz_len);
    if (err)
        goto out;
    out.data = gz;
    out.len = gz_len;
    out.name = group_name(e, g[0]);
    err = fn(&out, arg);
out:
    opd_free(gz);
    opd_free(packed);
    opd_free(refs);
    return err;
}

/* Whether profile q joins group g[0..n): same period type, period and window, and a sample
 * type the group does not have yet. */
static bool joins(const struct opd_profile *const *g, size_t n, const struct opd_profile *q)
{
    const struct opd_profile *f = g[0];

    if (f->period_type.type_strindex != q->period_type.type_strindex ||
        f->period_type.unit_strindex != q->period_type.unit_strindex || f->period != q->period ||
        f->time_unix_nano != q->time_unix_nano || f->duration_nano != q->duration_nano)
        return false;
    for (size_t i = 0; i < n; i++)
        if (g[i]->sample_type.type_strindex == q->sample_type.type_strindex &&
            g[i]->sample_type.unit_strindex == q->sample_type.unit_strindex)
            return false;
    return true;
}

/* Encodes every group of resource r, in the order of their first profile. */
static int encode_resource(struct enc *e, const struct opd_resource *r, opd_pprof_fn fn, void *arg)
{
    const struct opd_profile **all = NULL, **g = NULL;
    bool *done = NULL;
    size_t n = 0;
    int err = -ENOMEM;

    for (size_t s = 0; s < r->n_scopes; s++)
        n += r->scopes[s].n_profiles;
    all = opd_malloc((n ? n : 1) * sizeof(*all));
    g = opd_malloc((n ? n : 1) * sizeof(*g));
    done = opd_calloc(n ? n : 1, sizeof(*done));
    if (!all || !g || !done)
        goto out;
    n = 0;
    for (size_t s = 0; s < r->n_scopes; s++)
        for (size_t p = 0; p < r->scopes[s].n_profiles; p++)
            all[n++] = &r->scopes[s].profiles[p];
    err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        size_t ng = 0;

        if (done[i])
            continue;
        g[ng++] = all[i];
        for (size_t k = i + 1; k < n; k++) {
            if (!done[k] && joins(g, ng, all[k])) {
                g[ng++] = all[k];
                done[k] = true;
            }
        }
        err = encode_group(e, r, g, ng, fn, arg);
    }
out:
    opd_free(all);
    opd_free(g);
    opd_free(done);
    return err;
}

int opd_pprof_encode(const struct opd_batch *b, opd_pprof_fn fn, void *arg)
{
    struct enc e = {.b = b, .d = &b->dict};
    const struct opd_dict *d = &b->dict;
    int err = -ENOMEM;

    opd_arena_init(&e.a);
    e.str_map = opd_calloc(d->n_strings ? d->n_strings : 1, sizeof(*e.str_map));
    if (!e.str_map || table_init(&e.fns, d->n_functions) || table_init(&e.locs, d->n_locations) ||
        table_init(&e.maps, d->n_mappings))
        goto out;
    err = 0;
    for (size_t r = 0; r < b->n_resources && !err; r++)
        err = encode_resource(&e, &b->resources[r], fn, arg);
out:
    opd_free(e.str_map);
    opd_free(e.strs);
    opd_free(e.str_src);
    table_fini(&e.fns);
    table_fini(&e.locs);
    table_fini(&e.maps);
    opd_arena_fini(&e.a);
    return err;
}
