/* Protobuf ExportProfilesServiceRequest → batch. protoc-c parses (through the project
 * allocator); the tables are copied verbatim into a raw batch, then checked and
 * re-interned, so hostile indices are rejected before anything follows them. */
#include "otlp/intern.h"
#include "otlp/pb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"

struct dec {
    struct opd_batch *b;
    const PbDictionary *pd; /* may be NULL */
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int bad(struct dec *x, const char *fmt, ...)
{
    va_list ap;

    if (x->err && x->errlen) {
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int oom(struct dec *x)
{
    if (x->err && x->errlen)
        snprintf(x->err, x->errlen, "out of memory");
    return -ENOMEM;
}

static const char *pb_str(struct dec *x, int32_t i)
{
    if (i == 0)
        return "";
    if (!x->pd || i < 0 || (size_t)i >= x->pd->n_string_table)
        return NULL;
    return x->pd->string_table[i] ? x->pd->string_table[i] : "";
}

static int any_value(struct dec *x, const PbAnyValue *pv, struct opd_value *v)
{
    memset(v, 0, sizeof(*v));
    if (!pv)
        return 0;
    switch (pv->value_case) {
    case PB_V(_NOT_SET):
        return 0;
    case PB_V(STRING_VALUE):
        v->type = OPD_VAL_STR;
        v->u.str = pv->string_value ? pv->string_value : "";
        return 0;
    case PB_V(STRING_VALUE_STRINDEX):
        v->type = OPD_VAL_STR;
        v->u.str = pb_str(x, pv->string_value_strindex);
        if (!v->u.str)
            return bad(x, "string_value_strindex %d out of range", (int)pv->string_value_strindex);
        return 0;
    case PB_V(BOOL_VALUE):
        v->type = OPD_VAL_BOOL;
        v->u.b = pv->bool_value;
        return 0;
    case PB_V(INT_VALUE):
        v->type = OPD_VAL_INT;
        v->u.i = pv->int_value;
        return 0;
    case PB_V(DOUBLE_VALUE):
        v->type = OPD_VAL_DOUBLE;
        v->u.d = pv->double_value;
        return 0;
    case PB_V(BYTES_VALUE):
        v->type = OPD_VAL_BYTES;
        v->u.bytes.data = pv->bytes_value.data;
        v->u.bytes.len = pv->bytes_value.len;
        return 0;
    default:
        return bad(x, "array and key-value list attribute values are not supported");
    }
}

static int key_values(struct dec *x, struct opd_attrs *to, PbKeyValue **kv, size_t n)
{
    size_t i;
    int err;

    for (i = 0; i < n; i++) {
        struct opd_value v;
        const char *key = kv[i]->key;

        /* Inline key wins; a key_strindex-only attribute is resolved here. */
        if ((!key || !*key) && kv[i]->key_strindex) {
            key = pb_str(x, kv[i]->key_strindex);
            if (!key)
                return bad(x, "attribute key_strindex %d out of range", (int)kv[i]->key_strindex);
        }
        if ((err = any_value(x, kv[i]->value, &v)))
            return err;
        if (opd_attrs_set(x->b, to, key ? key : "", &v))
            return oom(x);
    }
    return 0;
}

static int dict_tables(struct dec *x)
{
    const PbDictionary *pd = x->pd;
    struct opd_dict *d = &x->b->dict;
    size_t i, j;
    int err;

    if (!pd)
        return 0;
    for (i = 0; i < pd->n_string_table; i++) {
        const char *s = pd->string_table[i] ? pd->string_table[i] : "";

        if (opd_dict_push_string(d, s, strlen(s)) < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_attribute_table; i++) {
        const PbKeyValueAndUnit *k = pd->attribute_table[i];
        struct opd_attribute a = {.key_strindex = k->key_strindex,
                                  .unit_strindex = k->unit_strindex};

        if ((err = any_value(x, k->value, &a.value)))
            return err;
        if (opd_dict_push_attribute(d, &a) < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_function_table; i++) {
        const PbFunction *f = pd->function_table[i];
        struct opd_function of = {f->name_strindex, f->system_name_strindex, f->filename_strindex,
                                  f->start_line};

        if (opd_dict_push_function(d, &of) < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_mapping_table; i++) {
        const PbMapping *m = pd->mapping_table[i];
        struct opd_mapping om = {m->memory_start,      m->memory_limit,
                                 m->file_offset,       m->filename_strindex,
                                 m->attribute_indices, m->n_attribute_indices};

        if (opd_dict_push_mapping(d, &om) < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_location_table; i++) {
        const PbLocation *l = pd->location_table[i];
        struct opd_location ol = {.mapping_index = l->mapping_index,
                                  .address = l->address,
                                  .attr_indices = l->attribute_indices,
                                  .n_attr = l->n_attribute_indices};
        struct opd_line *lines = NULL;

        if (l->n_lines) {
            lines = opd_malloc(l->n_lines * sizeof(*lines));
            if (!lines)
                return oom(x);
            for (j = 0; j < l->n_lines; j++) {
                lines[j].function_index = l->lines[j]->function_index;
                lines[j].line = l->lines[j]->line;
                lines[j].column = l->lines[j]->column;
            }
        }
        ol.lines = lines;
        ol.n_lines = l->n_lines;
        err = opd_dict_push_location(d, &ol);
        opd_free(lines);
        if (err < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_link_table; i++) {
        const PbLink *l = pd->link_table[i];
        uint8_t tid[16] = {0}, sid[8] = {0};

        if ((l->trace_id.len != 0 && l->trace_id.len != 16) ||
            (l->span_id.len != 0 && l->span_id.len != 8))
            return bad(x, "link_table[%zu]: trace_id must be 0 or 16 bytes, span_id 0 or 8", i);
        if (l->trace_id.len)
            memcpy(tid, l->trace_id.data, 16);
        if (l->span_id.len)
            memcpy(sid, l->span_id.data, 8);
        if (opd_dict_push_link(d, tid, sid) < 0)
            return oom(x);
    }
    for (i = 0; i < pd->n_stack_table; i++) {
        const PbStack *s = pd->stack_table[i];

        if (opd_dict_push_stack(d, s->location_indices, s->n_location_indices) < 0)
            return oom(x);
    }
    return 0;
}

static int profile(struct dec *x, struct opd_scope *s, const PbProfile *pp)
{
    struct opd_profile *p = opd_scope_add_profile(x->b, s);
    size_t i;

    if (!p)
        return oom(x);
    if (pp->sample_type) {
        p->sample_type.type_strindex = pp->sample_type->type_strindex;
        p->sample_type.unit_strindex = pp->sample_type->unit_strindex;
    }
    if (pp->period_type) {
        p->period_type.type_strindex = pp->period_type->type_strindex;
        p->period_type.unit_strindex = pp->period_type->unit_strindex;
    }
    p->period = pp->period;
    p->time_unix_nano = pp->time_unix_nano;
    p->duration_nano = pp->duration_nano;
    if (pp->profile_id.len) {
        if (pp->profile_id.len != 16)
            return bad(x, "profile_id must be 0 or 16 bytes, got %zu", pp->profile_id.len);
        memcpy(p->profile_id, pp->profile_id.data, 16);
        p->has_profile_id = true;
        p->has_profile_id = opd_profile_id_set(p);
    }
    p->dropped_attributes_count = pp->dropped_attributes_count;
    if (pp->original_payload_format && *pp->original_payload_format &&
        !(p->original_payload_format = opd_arena_strdup(&x->b->arena, pp->original_payload_format)))
        return oom(x);
    if (pp->original_payload.len) {
        uint8_t *op = opd_arena_alloc(&x->b->arena, pp->original_payload.len);

        if (!op)
            return oom(x);
        memcpy(op, pp->original_payload.data, pp->original_payload.len);
        p->original_payload = op;
        p->original_payload_len = pp->original_payload.len;
    }
    if (pp->n_attribute_indices) {
        p->attr_indices = opd_malloc(pp->n_attribute_indices * sizeof(int32_t));
        if (!p->attr_indices)
            return oom(x);
        memcpy(p->attr_indices, pp->attribute_indices, pp->n_attribute_indices * sizeof(int32_t));
        p->n_attr = pp->n_attribute_indices;
    }
    for (i = 0; i < pp->n_samples; i++) {
        const PbSample *ps = pp->samples[i];
        struct opd_sample t = {
            .stack_index = ps->stack_index,
            .link_index = ps->link_index,
            .attr_indices = ps->attribute_indices,
            .n_attr = ps->n_attribute_indices,
            .values = ps->values,
            .n_values = ps->n_values,
            .timestamps = ps->timestamps_unix_nano,
            .n_timestamps = ps->n_timestamps_unix_nano,
        };

        if (opd_profile_add_sample(x->b, p, &t))
            return oom(x);
    }
    return 0;
}

static int scope(struct dec *x, struct opd_resource *r, const PbScopeProfiles *ps)
{
    const PbScope *sc = ps->scope;
    const char *name = sc && sc->name && *sc->name ? sc->name : NULL;
    const char *version = sc && sc->version && *sc->version ? sc->version : NULL;
    struct opd_scope *s = opd_resource_add_scope(x->b, r, name, version);
    size_t i;
    int err;

    if (!s)
        return oom(x);
    if (ps->schema_url && *ps->schema_url &&
        !(s->schema_url = opd_arena_strdup(&x->b->arena, ps->schema_url)))
        return oom(x);
    if (sc) {
        s->dropped_attributes_count = sc->dropped_attributes_count;
        if ((err = key_values(x, &s->attrs, sc->attributes, sc->n_attributes)))
            return err;
    }
    for (i = 0; i < ps->n_profiles; i++)
        if ((err = profile(x, s, ps->profiles[i])))
            return err;
    return 0;
}

static int resources(struct dec *x, const PbRequest *req)
{
    size_t i, j;
    int err;

    for (i = 0; i < req->n_resource_profiles; i++) {
        const PbResourceProfiles *pr = req->resource_profiles[i];
        struct opd_resource *r = opd_batch_add_resource(x->b);

        if (!r)
            return oom(x);
        if (pr->schema_url && *pr->schema_url &&
            !(r->schema_url = opd_arena_strdup(&x->b->arena, pr->schema_url)))
            return oom(x);
        if (pr->resource) {
            r->dropped_attributes_count = pr->resource->dropped_attributes_count;
            if ((err = key_values(x, &r->attrs, pr->resource->attributes,
                                  pr->resource->n_attributes)))
                return err;
        }
        for (j = 0; j < pr->n_scope_profiles; j++)
            if ((err = scope(x, r, pr->scope_profiles[j])))
                return err;
    }
    return 0;
}

/* protoc-c unpacks nested messages recursively without a depth limit, so a few MB of
 * nested AnyValue arrays would overflow the stack. This walk over the wire format, guided
 * by the descriptors, rejects nesting deeper than MAX_DEPTH before protoc-c sees it. */
#define MAX_DEPTH 32

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    int shift;

    *v = 0;
    for (shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;

        *v |= (uint64_t)(b & 0x7f) << (shift < 64 ? shift : 0);
        if (!(b & 0x80))
            return 0;
    }
    return -EINVAL;
}

static int check_depth(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d,
                       int depth)
{
    uint64_t tag, len;

    if (depth > MAX_DEPTH)
        return -E2BIG;
    while (p < end) {
        const ProtobufCFieldDescriptor *f;
        int err;

        if (read_varint(&p, end, &tag))
            return -EINVAL;
        switch (tag & 7) {
        case 0:
            if (read_varint(&p, end, &len))
                return -EINVAL;
            break;
        case 1:
        case 5:
            len = (tag & 7) == 1 ? 8 : 4;
            if ((uint64_t)(end - p) < len)
                return -EINVAL;
            p += len;
            break;
        case 2:
            if (read_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return -EINVAL;
            f = tag >> 3 <= UINT32_MAX
                    ? protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                (err = check_depth(p, p + len, f->descriptor, depth + 1)))
                return err;
            p += len;
            break;
        default: /* groups are not part of this schema */
            return -EINVAL;
        }
    }
    return 0;
}

static void *pb_alloc(void *ud, size_t n)
{
    void *p = opd_malloc(n);

    if (!p)
        *(bool *)ud = true; /* protoc-c reports it as a parse failure */
    return p;
}

static void pb_free(void *ud, void *p)
{
    opd_free(p);
}

struct opd_batch *opd_proto_decode(const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    bool alloc_failed = false;
    ProtobufCAllocator alloc = {
        .alloc = pb_alloc, .free = pb_free, .allocator_data = &alloc_failed};
    struct dec x = {.err = err, .errlen = errlen};
    ProtobufCMessage *msg;
    const PbRequest *req;
    int rc = -ENOMEM;

    if (err && errlen)
        err[0] = '\0';
    x.b = opd_batch_create_raw();
    if (!x.b) {
        oom(&x);
        goto fail;
    }
    rc = len ? check_depth(buf, buf + len, &PB_REQUEST_DESC, 0) : 0;
    if (rc) {
        rc = rc == -E2BIG
                 ? bad(&x, "protobuf messages nested deeper than %d levels", MAX_DEPTH)
                 : bad(&x, "malformed protobuf ExportProfilesServiceRequest (%zu bytes)", len);
        goto fail;
    }
    msg = protobuf_c_message_unpack(&PB_REQUEST_DESC, &alloc, len, buf);
    if (!msg) {
        if (alloc_failed)
            rc = oom(&x);
        else
            rc = bad(&x, "malformed protobuf ExportProfilesServiceRequest (%zu bytes)", len);
        goto fail;
    }
    req = (const PbRequest *)msg;
    x.pd = req->dictionary;
    rc = dict_tables(&x);
    if (!rc)
        rc = resources(&x, req);
    protobuf_c_message_free_unpacked(msg, &alloc);
    if (rc)
        goto fail;
    return opd_batch_finish_raw(x.b, err, errlen);
fail:
    opd_batch_unref(x.b);
    errno = -rc;
    return NULL;
}
