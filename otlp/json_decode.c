/* One line of OTLP/JSON → batch. Accepts lowerCamelCase and original snake_case field
 * names, 64-bit integers as strings or numbers, ignores unknown fields, and rejects a
 * known field of the wrong type with a message naming it. Like the protobuf decoder it
 * fills a raw batch, which is checked and re-interned before it is returned. */
#include "otlp/intern.h"
#include "otlp/json_util.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

struct jdec {
    struct opd_batch *b;
    char *err;
    size_t errlen;
    /* scratch vectors for sample and index arrays */
    int32_t *i32;
    size_t cap_i32;
    int64_t *i64;
    size_t cap_i64;
    uint64_t *u64;
    size_t cap_u64;
    struct opd_line *lines;
    size_t cap_lines;
    uint8_t *bytes;
    size_t cap_bytes;
};

__attribute__((format(printf, 2, 3))) static int bad(struct jdec *x, const char *fmt, ...)
{
    va_list ap;

    if (x->err && x->errlen) {
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int oom(struct jdec *x)
{
    if (x->err && x->errlen)
        snprintf(x->err, x->errlen, "out of memory");
    return -ENOMEM;
}

/* Field by its JSON name or its proto name; JSON null counts as absent. */
static json_t *field(const json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);

    if (!v && snake)
        v = json_object_get(o, snake);
    return json_is_null(v) ? NULL : v;
}

/* Parses a protobuf JSON integer: a number (integral) or a decimal string. */
static int parse_int(const json_t *v, bool is_unsigned, int64_t *si, uint64_t *ui)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        if (is_unsigned && n < 0)
            return -EINVAL;
        *si = n;
        *ui = (uint64_t)n;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);

        if (d != floor(d) || d < (is_unsigned ? 0.0 : -9223372036854775808.0) ||
            d >= (is_unsigned ? 18446744073709551616.0 : 9223372036854775808.0))
            return -EINVAL;
        if (is_unsigned)
            *ui = (uint64_t)d;
        else
            *si = (int64_t)d;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;

        if (!*s || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || (is_unsigned && s[0] == '-'))
            return -EINVAL;
        errno = 0;
        if (is_unsigned)
            *ui = strtoull(s, &end, 10);
        else
            *si = strtoll(s, &end, 10);
        if (errno || *end || end == s)
            return -EINVAL;
        return 0;
    }
    return -EINVAL;
}

static int get_i64(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   int64_t *out)
{
    json_t *v = field(o, camel, snake);
    uint64_t u;

    *out = 0;
    if (v && parse_int(v, false, out, &u))
        return bad(x, "%s: expected a 64-bit integer (number or decimal string)", camel);
    return 0;
}

static int get_u64(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   uint64_t *out)
{
    json_t *v = field(o, camel, snake);
    int64_t s;

    *out = 0;
    if (v && parse_int(v, true, &s, out))
        return bad(x, "%s: expected an unsigned 64-bit integer (number or decimal string)", camel);
    return 0;
}

static int i32_value(const json_t *v, int32_t *out)
{
    int64_t s;
    uint64_t u;

    if (parse_int(v, false, &s, &u) || s < INT32_MIN || s > INT32_MAX)
        return -EINVAL;
    *out = (int32_t)s;
    return 0;
}

static int get_i32(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   int32_t *out)
{
    json_t *v = field(o, camel, snake);

    *out = 0;
    if (v && i32_value(v, out))
        return bad(x, "%s: expected a 32-bit integer", camel);
    return 0;
}

static int get_u32(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   uint32_t *out)
{
    json_t *v = field(o, camel, snake);
    int64_t s;
    uint64_t u;

    *out = 0;
    if (!v)
        return 0;
    if (parse_int(v, true, &s, &u) || u > UINT32_MAX)
        return bad(x, "%s: expected an unsigned 32-bit integer", camel);
    *out = (uint32_t)u;
    return 0;
}

static int get_str(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   const char **out)
{
    json_t *v = field(o, camel, snake);

    *out = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return bad(x, "%s: expected a string", camel);
    *out = json_string_value(v);
    return 0;
}

static int get_obj(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   json_t **out)
{
    *out = field(o, camel, snake);
    if (*out && !json_is_object(*out))
        return bad(x, "%s: expected an object", camel);
    return 0;
}

static int get_arr(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                   json_t **out, size_t *n)
{
    *out = field(o, camel, snake);
    *n = 0;
    if (!*out)
        return 0;
    if (!json_is_array(*out))
        return bad(x, "%s: expected an array", camel);
    *n = json_array_size(*out);
    return 0;
}

/* Array elements that are messages must be objects. */
static int elem_obj(struct jdec *x, json_t *arr, size_t i, const char *what, json_t **out)
{
    *out = json_array_get(arr, i);
    if (!json_is_object(*out))
        return bad(x, "%s[%zu]: expected an object", what, i);
    return 0;
}

/* Base64 (or, for ids, hex) bytes into x->bytes. */
static int get_b64(struct jdec *x, const json_t *o, const char *camel, const char *snake, size_t *n)
{
    const char *s;
    long got;
    int err;

    *n = 0;
    if ((err = get_str(x, o, camel, snake, &s)) || !s)
        return err;
    if (opd_vec_reserve((void **)&x->bytes, &x->cap_bytes, opd_base64_max(strlen(s)), 1))
        return oom(x);
    got = opd_base64_decode(s, strlen(s), x->bytes);
    if (got < 0)
        return bad(x, "%s: invalid base64", camel);
    *n = (size_t)got;
    return 0;
}

static int get_hex_id(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                      uint8_t *out, size_t n, bool *set)
{
    const char *s;
    int err;

    *set = false;
    memset(out, 0, n);
    if ((err = get_str(x, o, camel, snake, &s)) || !s || !*s)
        return err;
    if (opd_hex_decode(s, strlen(s), out, n))
        return bad(x, "%s: expected %zu hex digits or an empty string", camel, 2 * n);
    *set = true;
    return 0;
}

/* An int32 index list into x->i32. */
static int get_i32_list(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                        size_t *n)
{
    json_t *a;
    size_t i;
    int err;

    if ((err = get_arr(x, o, camel, snake, &a, n)) || !*n)
        return err;
    if (opd_vec_reserve((void **)&x->i32, &x->cap_i32, *n, sizeof(*x->i32)))
        return oom(x);
    for (i = 0; i < *n; i++)
        if (i32_value(json_array_get(a, i), &x->i32[i]))
            return bad(x, "%s[%zu]: expected a 32-bit integer", camel, i);
    return 0;
}

static const char *raw_str(struct jdec *x, int32_t i)
{
    const struct opd_dict *d = &x->b->dict;

    if (i == 0)
        return "";
    if (i < 0 || (size_t)i >= d->n_strings)
        return NULL;
    return d->strings[i];
}

static int any_value(struct jdec *x, const json_t *o, struct opd_value *v, const char *what)
{
    json_t *f;

    memset(v, 0, sizeof(*v));
    if (!o)
        return 0;
    if (!json_is_object(o))
        return bad(x, "%s: expected an AnyValue object", what);
    if ((f = field(o, "stringValue", "string_value"))) {
        if (!json_is_string(f))
            return bad(x, "%s.stringValue: expected a string", what);
        v->type = OPD_VAL_STR;
        v->u.str = json_string_value(f);
    } else if ((f = field(o, "boolValue", "bool_value"))) {
        if (!json_is_boolean(f))
            return bad(x, "%s.boolValue: expected true or false", what);
        v->type = OPD_VAL_BOOL;
        v->u.b = json_is_true(f);
    } else if ((f = field(o, "intValue", "int_value"))) {
        uint64_t u;

        if (parse_int(f, false, &v->u.i, &u))
            return bad(x, "%s.intValue: expected a 64-bit integer", what);
        v->type = OPD_VAL_INT;
    } else if ((f = field(o, "doubleValue", "double_value"))) {
        const char *s = json_is_string(f) ? json_string_value(f) : NULL;

        v->type = OPD_VAL_DOUBLE;
        if (json_is_number(f))
            v->u.d = json_number_value(f);
        else if (s && !strcmp(s, "NaN"))
            v->u.d = NAN;
        else if (s && !strcmp(s, "Infinity"))
            v->u.d = INFINITY;
        else if (s && !strcmp(s, "-Infinity"))
            v->u.d = -INFINITY;
        else
            return bad(x, "%s.doubleValue: expected a number", what);
    } else if (field(o, "bytesValue", "bytes_value")) {
        size_t n;
        int err = get_b64(x, o, "bytesValue", "bytes_value", &n);

        if (err)
            return err;
        v->type = OPD_VAL_BYTES;
        v->u.bytes.data = x->bytes;
        v->u.bytes.len = n;
    } else if ((f = field(o, "stringValueStrindex", "string_value_strindex"))) {
        int32_t i;

        if (i32_value(f, &i) || !(v->u.str = raw_str(x, i)))
            return bad(x, "%s.stringValueStrindex: not an index of stringTable", what);
        v->type = OPD_VAL_STR;
    } else if (field(o, "arrayValue", "array_value") || field(o, "kvlistValue", "kvlist_value")) {
        return bad(x, "%s: array and key-value list attribute values are not supported", what);
    }
    return 0;
}

static int key_values(struct jdec *x, const json_t *o, struct opd_attrs *to, const char *what)
{
    json_t *a, *kv;
    size_t n, i;
    int err;

    if ((err = get_arr(x, o, "attributes", NULL, &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_value v;
        const char *key;
        int32_t ki;

        if ((err = elem_obj(x, a, i, what, &kv)) || (err = get_str(x, kv, "key", NULL, &key)) ||
            (err = get_i32(x, kv, "keyStrindex", "key_strindex", &ki)))
            return err;
        if ((!key || !*key) && ki && !(key = raw_str(x, ki)))
            return bad(x, "%s[%zu].keyStrindex: not an index of stringTable", what, i);
        if ((err = any_value(x, field(kv, "value", NULL), &v, what)))
            return err;
        if (opd_attrs_set(x->b, to, key ? key : "", &v))
            return oom(x);
    }
    return 0;
}

static int strings_attrs(struct jdec *x, const json_t *dict)
{
    struct opd_dict *d = &x->b->dict;
    json_t *a, *e;
    size_t n, i;
    int err;

    if ((err = get_arr(x, dict, "stringTable", "string_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        e = json_array_get(a, i);
        if (!json_is_string(e))
            return bad(x, "stringTable[%zu]: expected a string", i);
        if (opd_dict_push_string(d, json_string_value(e), json_string_length(e)) < 0)
            return oom(x);
    }
    if ((err = get_arr(x, dict, "attributeTable", "attribute_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_attribute at;

        if ((err = elem_obj(x, a, i, "attributeTable", &e)) ||
            (err = get_i32(x, e, "keyStrindex", "key_strindex", &at.key_strindex)) ||
            (err = get_i32(x, e, "unitStrindex", "unit_strindex", &at.unit_strindex)) ||
            (err = any_value(x, field(e, "value", NULL), &at.value, "attributeTable.value")))
            return err;
        if (opd_dict_push_attribute(d, &at) < 0)
            return oom(x);
    }
    return 0;
}

static int functions_mappings(struct jdec *x, const json_t *dict)
{
    struct opd_dict *d = &x->b->dict;
    json_t *a, *e;
    size_t n, i;
    int err;

    if ((err = get_arr(x, dict, "functionTable", "function_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_function f;

        if ((err = elem_obj(x, a, i, "functionTable", &e)) ||
            (err = get_i32(x, e, "nameStrindex", "name_strindex", &f.name_strindex)) ||
            (err = get_i32(x, e, "systemNameStrindex", "system_name_strindex",
                           &f.system_name_strindex)) ||
            (err = get_i32(x, e, "filenameStrindex", "filename_strindex", &f.filename_strindex)) ||
            (err = get_i64(x, e, "startLine", "start_line", &f.start_line)))
            return err;
        if (opd_dict_push_function(d, &f) < 0)
            return oom(x);
    }
    if ((err = get_arr(x, dict, "mappingTable", "mapping_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_mapping m;

        if ((err = elem_obj(x, a, i, "mappingTable", &e)) ||
            (err = get_u64(x, e, "memoryStart", "memory_start", &m.memory_start)) ||
            (err = get_u64(x, e, "memoryLimit", "memory_limit", &m.memory_limit)) ||
            (err = get_u64(x, e, "fileOffset", "file_offset", &m.file_offset)) ||
            (err = get_i32(x, e, "filenameStrindex", "filename_strindex", &m.filename_strindex)) ||
            (err = get_i32_list(x, e, "attributeIndices", "attribute_indices", &m.n_attr)))
            return err;
        m.attr_indices = x->i32;
        if (opd_dict_push_mapping(d, &m) < 0)
            return oom(x);
    }
    return 0;
}

static int locations(struct jdec *x, const json_t *dict)
{
    struct opd_dict *d = &x->b->dict;
    json_t *a, *e, *la, *le;
    size_t n, i, j;
    int err;

    if ((err = get_arr(x, dict, "locationTable", "location_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_location l = {0};

        if ((err = elem_obj(x, a, i, "locationTable", &e)) ||
            (err = get_i32(x, e, "mappingIndex", "mapping_index", &l.mapping_index)) ||
            (err = get_u64(x, e, "address", NULL, &l.address)) ||
            (err = get_arr(x, e, "lines", "line", &la, &l.n_lines)))
            return err;
        if (opd_vec_reserve((void **)&x->lines, &x->cap_lines, l.n_lines, sizeof(*x->lines)))
            return oom(x);
        for (j = 0; j < l.n_lines; j++) {
            struct opd_line *ln = &x->lines[j];

            if ((err = elem_obj(x, la, j, "lines", &le)) ||
                (err = get_i32(x, le, "functionIndex", "function_index", &ln->function_index)) ||
                (err = get_i64(x, le, "line", NULL, &ln->line)) ||
                (err = get_i64(x, le, "column", NULL, &ln->column)))
                return err;
        }
        l.lines = x->lines;
        if ((err = get_i32_list(x, e, "attributeIndices", "attribute_indices", &l.n_attr)))
            return err;
        l.attr_indices = x->i32;
        if (opd_dict_push_location(d, &l) < 0)
            return oom(x);
    }
    return 0;
}

static int links_stacks(struct jdec *x, const json_t *dict)
{
    struct opd_dict *d = &x->b->dict;
    json_t *a, *e;
    size_t n, i, k;
    int err;

    if ((err = get_arr(x, dict, "linkTable", "link_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        uint8_t tid[16], sid[8];
        bool set;

        if ((err = elem_obj(x, a, i, "linkTable", &e)) ||
            (err = get_hex_id(x, e, "traceId", "trace_id", tid, 16, &set)) ||
            (err = get_hex_id(x, e, "spanId", "span_id", sid, 8, &set)))
            return err;
        if (opd_dict_push_link(d, tid, sid) < 0)
            return oom(x);
    }
    if ((err = get_arr(x, dict, "stackTable", "stack_table", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        if ((err = elem_obj(x, a, i, "stackTable", &e)) ||
            (err = get_i32_list(x, e, "locationIndices", "location_indices", &k)))
            return err;
        if (opd_dict_push_stack(d, x->i32, k) < 0)
            return oom(x);
    }
    return 0;
}

static int value_type(struct jdec *x, const json_t *o, const char *camel, const char *snake,
                      struct opd_value_type_ref *vt)
{
    json_t *v;
    int err;

    vt->type_strindex = vt->unit_strindex = 0;
    if ((err = get_obj(x, o, camel, snake, &v)) || !v)
        return err;
    if ((err = get_i32(x, v, "typeStrindex", "type_strindex", &vt->type_strindex)) ||
        (err = get_i32(x, v, "unitStrindex", "unit_strindex", &vt->unit_strindex)))
        return err;
    return 0;
}

static int sample(struct jdec *x, struct opd_profile *p, const json_t *o)
{
    struct opd_sample s = {0};
    json_t *a;
    size_t i;
    int err;

    if ((err = get_i32(x, o, "stackIndex", "stack_index", &s.stack_index)) ||
        (err = get_i32(x, o, "linkIndex", "link_index", &s.link_index)) ||
        (err = get_i32_list(x, o, "attributeIndices", "attribute_indices", &s.n_attr)))
        return err;
    s.attr_indices = x->i32;
    if ((err = get_arr(x, o, "values", NULL, &a, &s.n_values)))
        return err;
    if (opd_vec_reserve((void **)&x->i64, &x->cap_i64, s.n_values, sizeof(*x->i64)))
        return oom(x);
    for (i = 0; i < s.n_values; i++) {
        uint64_t u;

        if (parse_int(json_array_get(a, i), false, &x->i64[i], &u))
            return bad(x, "values[%zu]: expected a 64-bit integer", i);
    }
    s.values = x->i64;
    if ((err = get_arr(x, o, "timestampsUnixNano", "timestamps_unix_nano", &a, &s.n_timestamps)))
        return err;
    if (opd_vec_reserve((void **)&x->u64, &x->cap_u64, s.n_timestamps, sizeof(*x->u64)))
        return oom(x);
    for (i = 0; i < s.n_timestamps; i++) {
        int64_t si;

        if (parse_int(json_array_get(a, i), true, &si, &x->u64[i]))
            return bad(x, "timestampsUnixNano[%zu]: expected an unsigned 64-bit integer", i);
    }
    s.timestamps = x->u64;
    if (opd_profile_add_sample(x->b, p, &s))
        return oom(x);
    return 0;
}

static int profile_fields(struct jdec *x, struct opd_profile *p, const json_t *o)
{
    const char *fmt;
    size_t n;
    int err;

    if ((err = value_type(x, o, "sampleType", "sample_type", &p->sample_type)) ||
        (err = value_type(x, o, "periodType", "period_type", &p->period_type)) ||
        (err = get_i64(x, o, "period", NULL, &p->period)) ||
        (err = get_u64(x, o, "timeUnixNano", "time_unix_nano", &p->time_unix_nano)) ||
        (err = get_u64(x, o, "durationNano", "duration_nano", &p->duration_nano)) ||
        (err =
             get_hex_id(x, o, "profileId", "profile_id", p->profile_id, 16, &p->has_profile_id)) ||
        (err = get_u32(x, o, "droppedAttributesCount", "dropped_attributes_count",
                       &p->dropped_attributes_count)) ||
        (err = get_str(x, o, "originalPayloadFormat", "original_payload_format", &fmt)))
        return err;
    p->has_profile_id = opd_profile_id_set(p);
    if (fmt && *fmt && !(p->original_payload_format = opd_arena_strdup(&x->b->arena, fmt)))
        return oom(x);
    if ((err = get_b64(x, o, "originalPayload", "original_payload", &n)))
        return err;
    if (n) {
        uint8_t *op = opd_arena_alloc(&x->b->arena, n);

        if (!op)
            return oom(x);
        memcpy(op, x->bytes, n);
        p->original_payload = op;
        p->original_payload_len = n;
    }
    if ((err = get_i32_list(x, o, "attributeIndices", "attribute_indices", &n)))
        return err;
    if (n) {
        p->attr_indices = opd_malloc(n * sizeof(int32_t));
        if (!p->attr_indices)
            return oom(x);
        memcpy(p->attr_indices, x->i32, n * sizeof(int32_t));
        p->n_attr = n;
    }
    return 0;
}

static int scope(struct jdec *x, struct opd_resource *r, const json_t *o)
{
    const char *name = NULL, *version = NULL, *url;
    json_t *sc, *a, *e;
    struct opd_scope *s;
    size_t n, i, j;
    int err;

    if ((err = get_obj(x, o, "scope", NULL, &sc)) ||
        (sc && ((err = get_str(x, sc, "name", NULL, &name)) ||
                (err = get_str(x, sc, "version", NULL, &version)))) ||
        (err = get_str(x, o, "schemaUrl", "schema_url", &url)))
        return err;
    s = opd_resource_add_scope(x->b, r, name && *name ? name : NULL,
                               version && *version ? version : NULL);
    if (!s)
        return oom(x);
    if (url && *url && !(s->schema_url = opd_arena_strdup(&x->b->arena, url)))
        return oom(x);
    if (sc && ((err = key_values(x, sc, &s->attrs, "scope.attributes")) ||
               (err = get_u32(x, sc, "droppedAttributesCount", "dropped_attributes_count",
                              &s->dropped_attributes_count))))
        return err;
    if ((err = get_arr(x, o, "profiles", NULL, &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_profile *p;
        json_t *sa;
        size_t ns;

        if ((err = elem_obj(x, a, i, "profiles", &e)))
            return err;
        p = opd_scope_add_profile(x->b, s);
        if (!p)
            return oom(x);
        if ((err = profile_fields(x, p, e)) || (err = get_arr(x, e, "samples", "sample", &sa, &ns)))
            return err;
        for (j = 0; j < ns; j++) {
            json_t *se;

            if ((err = elem_obj(x, sa, j, "samples", &se)) || (err = sample(x, p, se)))
                return err;
        }
    }
    return 0;
}

static int resources(struct jdec *x, const json_t *root)
{
    json_t *a, *e, *res, *sa, *se;
    size_t n, i, ns, j;
    int err;

    if ((err = get_arr(x, root, "resourceProfiles", "resource_profiles", &a, &n)))
        return err;
    for (i = 0; i < n; i++) {
        struct opd_resource *r;
        const char *url;

        if ((err = elem_obj(x, a, i, "resourceProfiles", &e)) ||
            (err = get_obj(x, e, "resource", NULL, &res)) ||
            (err = get_str(x, e, "schemaUrl", "schema_url", &url)))
            return err;
        r = opd_batch_add_resource(x->b);
        if (!r)
            return oom(x);
        if (url && *url && !(r->schema_url = opd_arena_strdup(&x->b->arena, url)))
            return oom(x);
        if (res && ((err = key_values(x, res, &r->attrs, "resource.attributes")) ||
                    (err = get_u32(x, res, "droppedAttributesCount", "dropped_attributes_count",
                                   &r->dropped_attributes_count))))
            return err;
        if ((err = get_arr(x, e, "scopeProfiles", "scope_profiles", &sa, &ns)))
            return err;
        for (j = 0; j < ns; j++)
            if ((err = elem_obj(x, sa, j, "scopeProfiles", &se)) || (err = scope(x, r, se)))
                return err;
    }
    return 0;
}

struct opd_batch *opd_json_decode(const char *buf, size_t len, char *err, size_t errlen)
{
    struct jdec x = {.err = err, .errlen = errlen};
    json_t *root = NULL, *dict;
    json_error_t je;
    int rc = -ENOMEM;

    if (err && errlen)
        err[0] = '\0';
    opd_json_use_project_alloc();
    x.b = opd_batch_create_raw();
    if (!x.b) {
        oom(&x);
        goto out;
    }
    opd_json_alloc_failed_reset();
    root = json_loadb(buf, len, 0, &je);
    if (!root) {
        if (opd_json_alloc_failed() || json_error_code(&je) == json_error_out_of_memory)
            rc = oom(&x);
        else
            rc = bad(&x, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = bad(&x, "an ExportProfilesServiceRequest must be a JSON object");
        goto out;
    }
    if ((rc = get_obj(&x, root, "dictionary", NULL, &dict)))
        goto out;
    if (dict && ((rc = strings_attrs(&x, dict)) || (rc = functions_mappings(&x, dict)) ||
                 (rc = locations(&x, dict)) || (rc = links_stacks(&x, dict))))
        goto out;
    rc = resources(&x, root);
out:
    json_decref(root);
    opd_free(x.i32);
    opd_free(x.i64);
    opd_free(x.u64);
    opd_free(x.lines);
    opd_free(x.bytes);
    if (!rc)
        return opd_batch_finish_raw(x.b, err, errlen);
    opd_batch_unref(x.b);
    errno = -rc;
    return NULL;
}
