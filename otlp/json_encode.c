/* Batch → one line of OTLP/JSON, the protobuf JSON mapping the Collector's file exporter
 * writes: lowerCamelCase names, 64-bit integers as decimal strings, bytes as base64,
 * trace/span/profile ids as hex, fields at their default value left out. */
#include "otlp/intern.h"
#include "otlp/json_util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"

struct enc {
    int err; /* first failure; later calls become no-ops */
};

static json_t *jstr(struct enc *e, const char *s)
{
    size_t len, clen;
    json_t *j;
    char *clean;

    if (e->err)
        return NULL;
    if (!s)
        s = "";
    len = strlen(s);
    j = json_stringn(s, len);
    if (j || opd_utf8_valid(s, len))
        return j;
    /* Symbol names from ELF files are not always UTF-8; JSON strings must be. */
    clean = opd_utf8_sanitize(s, len, &clen);
    if (!clean)
        return NULL;
    j = json_stringn(clean, clen);
    opd_free(clean);
    return j;
}

static void put(struct enc *e, json_t *obj, const char *key, json_t *v)
{
    if (e->err) {
        json_decref(v);
        return;
    }
    if (!v || json_object_set_new(obj, key, v))
        e->err = -ENOMEM;
}

static void push(struct enc *e, json_t *arr, json_t *v)
{
    if (e->err) {
        json_decref(v);
        return;
    }
    if (!v || json_array_append_new(arr, v))
        e->err = -ENOMEM;
}

static json_t *jobj(struct enc *e)
{
    json_t *o = e->err ? NULL : json_object();

    if (!o)
        e->err = -ENOMEM;
    return o;
}

static json_t *jarr(struct enc *e)
{
    json_t *a = e->err ? NULL : json_array();

    if (!a)
        e->err = -ENOMEM;
    return a;
}

static json_t *ju64(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *ji64(int64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return json_string(buf);
}

static void put_u64(struct enc *e, json_t *o, const char *k, uint64_t v)
{
    if (v)
        put(e, o, k, ju64(v));
}

static void put_i64(struct enc *e, json_t *o, const char *k, int64_t v)
{
    if (v)
        put(e, o, k, ji64(v));
}

static void put_i32(struct enc *e, json_t *o, const char *k, int64_t v)
{
    if (v)
        put(e, o, k, json_integer(v));
}

static void put_str(struct enc *e, json_t *o, const char *k, const char *s)
{
    if (s && *s)
        put(e, o, k, jstr(e, s));
}

static void put_hex(struct enc *e, json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char buf[33];

    opd_hex_encode(p, n, buf);
    put(e, o, k, json_string(buf));
}

static void put_b64(struct enc *e, json_t *o, const char *k, const uint8_t *p, size_t n)
{
    char *s;

    if (!n)
        return;
    s = opd_base64_encode(p, n);
    put(e, o, k, s ? json_string(s) : NULL);
    opd_free(s);
}

static void put_i32_list(struct enc *e, json_t *o, const char *k, const int32_t *v, size_t n)
{
    json_t *a;
    size_t i;

    if (!n)
        return;
    a = jarr(e);
    for (i = 0; i < n && !e->err; i++)
        push(e, a, json_integer(v[i]));
    put(e, o, k, a);
}

/* AnyValue: {"stringValue": ...}, {"intValue": "<decimal>"}, ... */
static json_t *any_value(struct enc *e, const struct opd_value *v)
{
    json_t *o = jobj(e);

    switch (v->type) {
    case OPD_VAL_STR:
        put(e, o, "stringValue", jstr(e, v->u.str));
        break;
    case OPD_VAL_BOOL:
        put(e, o, "boolValue", json_boolean(v->u.b));
        break;
    case OPD_VAL_INT:
        put(e, o, "intValue", ji64(v->u.i));
        break;
    case OPD_VAL_DOUBLE:
        if (isnan(v->u.d))
            put(e, o, "doubleValue", json_string("NaN"));
        else if (isinf(v->u.d))
            put(e, o, "doubleValue", json_string(v->u.d > 0 ? "Infinity" : "-Infinity"));
        else
            put(e, o, "doubleValue", json_real(v->u.d));
        break;
    case OPD_VAL_BYTES: {
        char *s = opd_base64_encode(v->u.bytes.data, v->u.bytes.len);

        put(e, o, "bytesValue", s ? json_string(s) : NULL);
        opd_free(s);
        break;
    }
    default:
        break;
    }
    return o;
}

static json_t *key_values(struct enc *e, const struct opd_attrs *a)
{
    json_t *arr = jarr(e);
    size_t i;

    for (i = 0; i < a->n && !e->err; i++) {
        json_t *kv = jobj(e);

        put(e, kv, "key", jstr(e, a->v[i].key));
        put(e, kv, "value", any_value(e, &a->v[i].value));
        push(e, arr, kv);
    }
    return arr;
}

static json_t *dictionary(struct enc *e, const struct opd_dict *d)
{
    json_t *o = jobj(e), *t;
    size_t i, j;

    t = jarr(e);
    for (i = 0; i < d->n_mappings && !e->err; i++) {
        const struct opd_mapping *m = &d->mappings[i];
        json_t *x = jobj(e);

        put_u64(e, x, "memoryStart", m->memory_start);
        put_u64(e, x, "memoryLimit", m->memory_limit);
        put_u64(e, x, "fileOffset", m->file_offset);
        put_i32(e, x, "filenameStrindex", m->filename_strindex);
        put_i32_list(e, x, "attributeIndices", m->attr_indices, m->n_attr);
        push(e, t, x);
    }
    put(e, o, "mappingTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_locations && !e->err; i++) {
        const struct opd_location *l = &d->locations[i];
        json_t *x = jobj(e);

        put_i32(e, x, "mappingIndex", l->mapping_index);
        put_u64(e, x, "address", l->address);
        if (l->n_lines) {
            json_t *lines = jarr(e);

            for (j = 0; j < l->n_lines && !e->err; j++) {
                json_t *ln = jobj(e);

                put_i32(e, ln, "functionIndex", l->lines[j].function_index);
                put_i64(e, ln, "line", l->lines[j].line);
                put_i64(e, ln, "column", l->lines[j].column);
                push(e, lines, ln);
            }
            put(e, x, "lines", lines);
        }
        put_i32_list(e, x, "attributeIndices", l->attr_indices, l->n_attr);
        push(e, t, x);
    }
    put(e, o, "locationTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_functions && !e->err; i++) {
        const struct opd_function *f = &d->functions[i];
        json_t *x = jobj(e);

        put_i32(e, x, "nameStrindex", f->name_strindex);
        put_i32(e, x, "systemNameStrindex", f->system_name_strindex);
        put_i32(e, x, "filenameStrindex", f->filename_strindex);
        put_i64(e, x, "startLine", f->start_line);
        push(e, t, x);
    }
    put(e, o, "functionTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_links && !e->err; i++) {
        json_t *x = jobj(e);

        if (d->links[i].set) {
            put_hex(e, x, "traceId", d->links[i].trace_id, 16);
            put_hex(e, x, "spanId", d->links[i].span_id, 8);
        }
        push(e, t, x);
    }
    put(e, o, "linkTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_strings && !e->err; i++)
        push(e, t, jstr(e, d->strings[i]));
    put(e, o, "stringTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_attributes && !e->err; i++) {
        const struct opd_attribute *a = &d->attributes[i];
        json_t *x = jobj(e);

        put_i32(e, x, "keyStrindex", a->key_strindex);
        if (a->value.type != OPD_VAL_EMPTY)
            put(e, x, "value", any_value(e, &a->value));
        put_i32(e, x, "unitStrindex", a->unit_strindex);
        push(e, t, x);
    }
    put(e, o, "attributeTable", t);
    t = jarr(e);
    for (i = 0; i < d->n_stacks && !e->err; i++) {
        json_t *x = jobj(e);

        put_i32_list(e, x, "locationIndices", d->stacks[i].location_indices, d->stacks[i].n);
        push(e, t, x);
    }
    put(e, o, "stackTable", t);
    return o;
}

static json_t *value_type(struct enc *e, const struct opd_value_type_ref *v)
{
    json_t *o = jobj(e);

    put_i32(e, o, "typeStrindex", v->type_strindex);
    put_i32(e, o, "unitStrindex", v->unit_strindex);
    return o;
}

static json_t *sample(struct enc *e, const struct opd_sample *s)
{
    json_t *o = jobj(e);
    size_t i;

    put_i32(e, o, "stackIndex", s->stack_index);
    put_i32_list(e, o, "attributeIndices", s->attr_indices, s->n_attr);
    put_i32(e, o, "linkIndex", s->link_index);
    if (s->n_values) {
        json_t *a = jarr(e);

        for (i = 0; i < s->n_values && !e->err; i++)
            push(e, a, ji64(s->values[i]));
        put(e, o, "values", a);
    }
    if (s->n_timestamps) {
        json_t *a = jarr(e);

        for (i = 0; i < s->n_timestamps && !e->err; i++)
            push(e, a, ju64(s->timestamps[i]));
        put(e, o, "timestampsUnixNano", a);
    }
    return o;
}

static json_t *profile(struct enc *e, const struct opd_profile *p)
{
    json_t *o = jobj(e), *a;
    size_t i;

    put(e, o, "sampleType", value_type(e, &p->sample_type));
    a = jarr(e);
    for (i = 0; i < p->n_samples && !e->err; i++)
        push(e, a, sample(e, &p->samples[i]));
    put(e, o, "samples", a);
    put_u64(e, o, "timeUnixNano", p->time_unix_nano);
    put_u64(e, o, "durationNano", p->duration_nano);
    if (p->period_type.type_strindex || p->period_type.unit_strindex)
        put(e, o, "periodType", value_type(e, &p->period_type));
    put_i64(e, o, "period", p->period);
    if (opd_profile_id_set(p))
        put_hex(e, o, "profileId", p->profile_id, 16);
    put_i32(e, o, "droppedAttributesCount", p->dropped_attributes_count);
    put_str(e, o, "originalPayloadFormat", p->original_payload_format);
    put_b64(e, o, "originalPayload", p->original_payload, p->original_payload_len);
    put_i32_list(e, o, "attributeIndices", p->attr_indices, p->n_attr);
    return o;
}

static json_t *scope(struct enc *e, const struct opd_scope *s)
{
    json_t *o = jobj(e), *sc = jobj(e), *a;
    size_t i;

    put_str(e, sc, "name", s->name);
    put_str(e, sc, "version", s->version);
    if (s->attrs.n)
        put(e, sc, "attributes", key_values(e, &s->attrs));
    put_i32(e, sc, "droppedAttributesCount", s->dropped_attributes_count);
    put(e, o, "scope", sc);
    a = jarr(e);
    for (i = 0; i < s->n_profiles && !e->err; i++)
        push(e, a, profile(e, &s->profiles[i]));
    put(e, o, "profiles", a);
    put_str(e, o, "schemaUrl", s->schema_url);
    return o;
}

static json_t *resource(struct enc *e, const struct opd_resource *r)
{
    json_t *o = jobj(e), *res = jobj(e), *a;
    size_t i;

    if (r->attrs.n)
        put(e, res, "attributes", key_values(e, &r->attrs));
    put_i32(e, res, "droppedAttributesCount", r->dropped_attributes_count);
    put(e, o, "resource", res);
    a = jarr(e);
    for (i = 0; i < r->n_scopes && !e->err; i++)
        push(e, a, scope(e, &r->scopes[i]));
    put(e, o, "scopeProfiles", a);
    put_str(e, o, "schemaUrl", r->schema_url);
    return o;
}

int opd_json_encode(const struct opd_batch *b, char **out, size_t *len)
{
    struct enc e = {0};
    json_t *root, *a;
    char *s = NULL;
    size_t i;

    *out = NULL;
    *len = 0;
    opd_json_use_project_alloc();
    root = jobj(&e);
    a = jarr(&e);
    for (i = 0; i < b->n_resources && !e.err; i++)
        push(&e, a, resource(&e, &b->resources[i]));
    put(&e, root, "resourceProfiles", a);
    put(&e, root, "dictionary", dictionary(&e, &b->dict));
    if (!e.err) {
        s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!s)
            e.err = -ENOMEM;
    }
    json_decref(root);
    if (e.err)
        return e.err;
    *out = s;
    *len = strlen(s);
    return 0;
}
