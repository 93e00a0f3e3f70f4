/* Batch → protobuf ExportProfilesServiceRequest. The protoc-c message tree is built in a
 * scratch arena; index arrays of the batch are referenced in place, not copied. */
#include "otlp/intern.h"
#include "otlp/json_util.h"
#include "otlp/pb.h"

#include <errno.h>
#include <string.h>

#include "collector/mem.h"

static void *scratch(struct opd_arena *a, size_t n, size_t elem)
{
    if (elem && n > SIZE_MAX / elem)
        return NULL;
    return opd_arena_alloc(a, n * elem);
}

/* protoc-c wants mutable pointers; the encoder never writes through them. */
#define MUT(p) ((void *)(uintptr_t)(p))

/* protobuf strings must be UTF-8 and strict decoders reject the whole request otherwise;
 * file paths and symbol names from ELF files are bytes. Returns s itself when valid, else
 * a copy with U+FFFD for each bad sequence (in the scratch arena), or NULL on -ENOMEM. */
static char *pstr(struct opd_arena *a, const char *s)
{
    size_t len, clen;
    char *clean, *copy;

    if (!s)
        s = "";
    len = strlen(s);
    if (opd_utf8_valid(s, len))
        return MUT(s);
    clean = opd_utf8_sanitize(s, len, &clen);
    if (!clean)
        return NULL;
    copy = opd_arena_strndup(a, clean, clen);
    opd_free(clean);
    return copy;
}

static int any_value(struct opd_arena *a, PbAnyValue **out, const struct opd_value *v)
{
    PbAnyValue *pv;
    static const PbAnyValue init = PB_ANY_VALUE_INIT;

    *out = NULL;
    if (v->type == OPD_VAL_EMPTY)
        return 0;
    pv = scratch(a, 1, sizeof(*pv));
    if (!pv)
        return -ENOMEM;
    *pv = init;
    switch (v->type) {
    case OPD_VAL_STR:
        pv->value_case = PB_V(STRING_VALUE);
        pv->string_value = pstr(a, v->u.str);
        if (!pv->string_value)
            return -ENOMEM;
        break;
    case OPD_VAL_BOOL:
        pv->value_case = PB_V(BOOL_VALUE);
        pv->bool_value = v->u.b;
        break;
    case OPD_VAL_INT:
        pv->value_case = PB_V(INT_VALUE);
        pv->int_value = v->u.i;
        break;
    case OPD_VAL_DOUBLE:
        pv->value_case = PB_V(DOUBLE_VALUE);
        pv->double_value = v->u.d;
        break;
    case OPD_VAL_BYTES:
        pv->value_case = PB_V(BYTES_VALUE);
        pv->bytes_value.len = v->u.bytes.len;
        pv->bytes_value.data = MUT(v->u.bytes.data);
        break;
    default:
        break;
    }
    *out = pv;
    return 0;
}

/* Resource and scope attributes: inline key and value, never key_strindex (the Collector
 * does not resolve references there). */
static int key_values(struct opd_arena *a, const struct opd_attrs *attrs, PbKeyValue ***out,
                      size_t *n_out)
{
    static const PbKeyValue init = PB_KEY_VALUE_INIT;
    PbKeyValue *kv, **ptrs;
    size_t i;

    *out = NULL;
    *n_out = 0;
    if (!attrs->n)
        return 0;
    kv = scratch(a, attrs->n, sizeof(*kv));
    ptrs = scratch(a, attrs->n, sizeof(*ptrs));
    if (!kv || !ptrs)
        return -ENOMEM;
    for (i = 0; i < attrs->n; i++) {
        kv[i] = init;
        kv[i].key = pstr(a, attrs->v[i].key);
        if (!kv[i].key)
            return -ENOMEM;
        if (any_value(a, &kv[i].value, &attrs->v[i].value))
            return -ENOMEM;
        ptrs[i] = &kv[i];
    }
    *out = ptrs;
    *n_out = attrs->n;
    return 0;
}

static int dict_tables(struct opd_arena *a, const struct opd_dict *d, PbDictionary *pd)
{
    static const PbMapping mi = PB_MAPPING_INIT;
    static const PbLocation li = PB_LOCATION_INIT;
    static const PbLine lni = PB_LINE_INIT;
    static const PbFunction fi = PB_FUNCTION_INIT;
    static const PbLink lki = PB_LINK_INIT;
    static const PbKeyValueAndUnit ki = PB_KVU_INIT;
    static const PbStack si = PB_STACK_INIT;
    PbMapping *m = scratch(a, d->n_mappings, sizeof(*m));
    PbLocation *l = scratch(a, d->n_locations, sizeof(*l));
    PbFunction *f = scratch(a, d->n_functions, sizeof(*f));
    PbLink *lk = scratch(a, d->n_links, sizeof(*lk));
    PbKeyValueAndUnit *kv = scratch(a, d->n_attributes, sizeof(*kv));
    PbStack *s = scratch(a, d->n_stacks, sizeof(*s));
    size_t i, j;

    pd->mapping_table = scratch(a, d->n_mappings, sizeof(void *));
    pd->location_table = scratch(a, d->n_locations, sizeof(void *));
    pd->function_table = scratch(a, d->n_functions, sizeof(void *));
    pd->link_table = scratch(a, d->n_links, sizeof(void *));
    pd->attribute_table = scratch(a, d->n_attributes, sizeof(void *));
    pd->stack_table = scratch(a, d->n_stacks, sizeof(void *));
    if (!m || !l || !f || !lk || !kv || !s || !pd->mapping_table || !pd->location_table ||
        !pd->function_table || !pd->link_table || !pd->attribute_table || !pd->stack_table)
        return -ENOMEM;
    pd->n_string_table = d->n_strings;
    pd->string_table = MUT(d->strings);
    for (i = 0; i < d->n_strings; i++) {
        char *v = pstr(a, d->strings[i]);

        if (!v)
            return -ENOMEM;
        if (v == d->strings[i])
            continue;
        /* first invalid string: switch to a private copy of the pointer array */
        if (pd->string_table == MUT(d->strings)) {
            pd->string_table = scratch(a, d->n_strings, sizeof(char *));
            if (!pd->string_table)
                return -ENOMEM;
            memcpy(pd->string_table, d->strings, d->n_strings * sizeof(char *));
        }
        pd->string_table[i] = v;
    }
    for (i = 0; i < d->n_mappings; i++) {
        m[i] = mi;
        m[i].memory_start = d->mappings[i].memory_start;
        m[i].memory_limit = d->mappings[i].memory_limit;
        m[i].file_offset = d->mappings[i].file_offset;
        m[i].filename_strindex = d->mappings[i].filename_strindex;
        m[i].n_attribute_indices = d->mappings[i].n_attr;
        m[i].attribute_indices = MUT(d->mappings[i].attr_indices);
        pd->mapping_table[i] = &m[i];
    }
    pd->n_mapping_table = d->n_mappings;
    for (i = 0; i < d->n_locations; i++) {
        const struct opd_location *src = &d->locations[i];
        PbLine *ln = scratch(a, src->n_lines, sizeof(*ln));
        PbLine **lp = scratch(a, src->n_lines, sizeof(*lp));

        if (src->n_lines && (!ln || !lp))
            return -ENOMEM;
        l[i] = li;
        l[i].mapping_index = src->mapping_index;
        l[i].address = src->address;
        for (j = 0; j < src->n_lines; j++) {
            ln[j] = lni;
            ln[j].function_index = src->lines[j].function_index;
            ln[j].line = src->lines[j].line;
            ln[j].column = src->lines[j].column;
            lp[j] = &ln[j];
        }
        l[i].n_lines = src->n_lines;
        l[i].lines = src->n_lines ? lp : NULL;
        l[i].n_attribute_indices = src->n_attr;
        l[i].attribute_indices = MUT(src->attr_indices);
        pd->location_table[i] = &l[i];
    }
    pd->n_location_table = d->n_locations;
    for (i = 0; i < d->n_functions; i++) {
        f[i] = fi;
        f[i].name_strindex = d->functions[i].name_strindex;
        f[i].system_name_strindex = d->functions[i].system_name_strindex;
        f[i].filename_strindex = d->functions[i].filename_strindex;
        f[i].start_line = d->functions[i].start_line;
        pd->function_table[i] = &f[i];
    }
    pd->n_function_table = d->n_functions;
    /* The zero link is written with empty byte strings, as the Collector does. */
    for (i = 0; i < d->n_links; i++) {
        lk[i] = lki;
        if (d->links[i].set) {
            lk[i].trace_id.len = 16;
            lk[i].trace_id.data = MUT(d->links[i].trace_id);
            lk[i].span_id.len = 8;
            lk[i].span_id.data = MUT(d->links[i].span_id);
        }
        pd->link_table[i] = &lk[i];
    }
    pd->n_link_table = d->n_links;
    for (i = 0; i < d->n_attributes; i++) {
        kv[i] = ki;
        kv[i].key_strindex = d->attributes[i].key_strindex;
        kv[i].unit_strindex = d->attributes[i].unit_strindex;
        if (any_value(a, &kv[i].value, &d->attributes[i].value))
            return -ENOMEM;
        pd->attribute_table[i] = &kv[i];
    }
    pd->n_attribute_table = d->n_attributes;
    for (i = 0; i < d->n_stacks; i++) {
        s[i] = si;
        s[i].n_location_indices = d->stacks[i].n;
        s[i].location_indices = MUT(d->stacks[i].location_indices);
        pd->stack_table[i] = &s[i];
    }
    pd->n_stack_table = d->n_stacks;
    return 0;
}

static PbValueType *value_type(struct opd_arena *a, const struct opd_value_type_ref *v, int *err)
{
    static const PbValueType init = PB_VALUE_TYPE_INIT;
    PbValueType *p;

    *err = 0;
    p = scratch(a, 1, sizeof(*p));
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    *p = init;
    p->type_strindex = v->type_strindex;
    p->unit_strindex = v->unit_strindex;
    return p;
}

static int profile(struct opd_arena *a, const struct opd_profile *src, PbProfile *p)
{
    static const PbProfile init = PB_PROFILE_INIT;
    static const PbSample si = PB_SAMPLE_INIT;
    PbSample *s = scratch(a, src->n_samples, sizeof(*s));
    PbSample **sp = scratch(a, src->n_samples, sizeof(*sp));
    size_t i;
    int err;

    if (!s || !sp)
        return -ENOMEM;
    *p = init;
    p->sample_type = value_type(a, &src->sample_type, &err);
    if (err)
        return err;
    /* Always present, even empty (off-CPU): the Collector's pdata always writes it, and
     * Parca rejects a profile without one. */
    p->period_type = value_type(a, &src->period_type, &err);
    if (err)
        return err;
    p->time_unix_nano = src->time_unix_nano;
    p->duration_nano = src->duration_nano;
    p->period = src->period;
    if (opd_profile_id_set(src)) {
        p->profile_id.len = 16;
        p->profile_id.data = MUT(src->profile_id);
    }
    p->dropped_attributes_count = src->dropped_attributes_count;
    if (src->original_payload_format &&
        !(p->original_payload_format = pstr(a, src->original_payload_format)))
        return -ENOMEM;
    p->original_payload.len = src->original_payload_len;
    p->original_payload.data = MUT(src->original_payload);
    p->n_attribute_indices = src->n_attr;
    p->attribute_indices = src->attr_indices;
    for (i = 0; i < src->n_samples; i++) {
        const struct opd_sample *x = &src->samples[i];

        s[i] = si;
        s[i].stack_index = x->stack_index;
        s[i].link_index = x->link_index;
        s[i].n_attribute_indices = x->n_attr;
        s[i].attribute_indices = x->attr_indices;
        s[i].n_values = x->n_values;
        s[i].values = x->values;
        s[i].n_timestamps_unix_nano = x->n_timestamps;
        s[i].timestamps_unix_nano = x->timestamps;
        sp[i] = &s[i];
    }
    p->n_samples = src->n_samples;
    p->samples = src->n_samples ? sp : NULL;
    return 0;
}

static int scope(struct opd_arena *a, const struct opd_scope *src, PbScopeProfiles *ps)
{
    static const PbScopeProfiles init = PB_SCOPE_PROFILES_INIT;
    static const PbScope sinit = PB_SCOPE_INIT;
    PbScope *sc = scratch(a, 1, sizeof(*sc));
    PbProfile *p = scratch(a, src->n_profiles, sizeof(*p));
    PbProfile **pp = scratch(a, src->n_profiles, sizeof(*pp));
    size_t i;
    int err;

    if (!sc || !p || !pp)
        return -ENOMEM;
    *ps = init;
    *sc = sinit;
    if (src->name && !(sc->name = pstr(a, src->name)))
        return -ENOMEM;
    if (src->version && !(sc->version = pstr(a, src->version)))
        return -ENOMEM;
    sc->dropped_attributes_count = src->dropped_attributes_count;
    if ((err = key_values(a, &src->attrs, &sc->attributes, &sc->n_attributes)))
        return err;
    ps->scope = sc;
    if (src->schema_url && !(ps->schema_url = pstr(a, src->schema_url)))
        return -ENOMEM;
    for (i = 0; i < src->n_profiles; i++) {
        if ((err = profile(a, &src->profiles[i], &p[i])))
            return err;
        pp[i] = &p[i];
    }
    ps->n_profiles = src->n_profiles;
    ps->profiles = pp;
    return 0;
}

static int resource(struct opd_arena *a, const struct opd_resource *src, PbResourceProfiles *pr)
{
    static const PbResourceProfiles init = PB_RESOURCE_PROFILES_INIT;
    static const PbResource rinit = PB_RESOURCE_INIT;
    PbResource *res = scratch(a, 1, sizeof(*res));
    PbScopeProfiles *s = scratch(a, src->n_scopes, sizeof(*s));
    PbScopeProfiles **sp = scratch(a, src->n_scopes, sizeof(*sp));
    size_t i;
    int err;

    if (!res || !s || !sp)
        return -ENOMEM;
    *pr = init;
    *res = rinit;
    res->dropped_attributes_count = src->dropped_attributes_count;
    if ((err = key_values(a, &src->attrs, &res->attributes, &res->n_attributes)))
        return err;
    pr->resource = res;
    if (src->schema_url && !(pr->schema_url = pstr(a, src->schema_url)))
        return -ENOMEM;
    for (i = 0; i < src->n_scopes; i++) {
        if ((err = scope(a, &src->scopes[i], &s[i])))
            return err;
        sp[i] = &s[i];
    }
    pr->n_scope_profiles = src->n_scopes;
    pr->scope_profiles = sp;
    return 0;
}

int opd_proto_encode(const struct opd_batch *b, uint8_t **out, size_t *len)
{
    static const PbRequest rinit = PB_REQUEST_INIT;
    static const PbDictionary dinit = PB_DICTIONARY_INIT;
    PbRequest req = rinit;
    PbDictionary dict = dinit;
    PbResourceProfiles *rp, **rpp;
    struct opd_arena a;
    uint8_t *buf = NULL;
    size_t i, n;
    int err = -ENOMEM;

    *out = NULL;
    *len = 0;
    opd_arena_init(&a);
    rp = scratch(&a, b->n_resources, sizeof(*rp));
    rpp = scratch(&a, b->n_resources, sizeof(*rpp));
    if (!rp || !rpp)
        goto out;
    if ((err = dict_tables(&a, &b->dict, &dict)))
        goto out;
    for (i = 0; i < b->n_resources; i++) {
        if ((err = resource(&a, &b->resources[i], &rp[i])))
            goto out;
        rpp[i] = &rp[i];
    }
    req.n_resource_profiles = b->n_resources;
    req.resource_profiles = rpp;
    req.dictionary = &dict;
    n = protobuf_c_message_get_packed_size(&req.base);
    err = -ENOMEM;
    buf = opd_malloc(n);
    if (!buf)
        goto out;
    if (protobuf_c_message_pack(&req.base, buf) != n) {
        opd_free(buf);
        err = -EIO;
        goto out;
    }
    *out = buf;
    *len = n;
    err = 0;
out:
    opd_arena_fini(&a);
    return err;
}
