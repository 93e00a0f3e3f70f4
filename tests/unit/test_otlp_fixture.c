/* Fixture batches and deep comparison for the otlp unit tests. */
#include "tests/unit/test_otlp_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1764060000000000000ULL /* 2025-11-25T08:40:00Z */

static int add_process(struct opd_batch *b, int pid, const char *exe, const char *thread,
                       const char *build_id, uint64_t base)
{
    struct opd_dict *d = &b->dict;
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_scope *s;
    struct opd_profile *p;
    int32_t kernel_attr, native_attr, bid_attr, thread_attr, link;
    int32_t kmap, umap, locs[4], stack_a, stack_b, attrs[1];
    struct opd_function kf = {0};
    struct opd_mapping m = {0};
    struct opd_location l = {0};
    struct opd_line line = {0};
    uint64_t ts[3] = {T0 + 1000, T0 + 50001000, T0 + 100001000};
    int64_t vals[2] = {1, 1};
    struct opd_sample smp = {0};
    static const uint8_t trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    static const uint8_t span[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};

    if (!r)
        return -ENOMEM;
    if (opd_attrs_set_int(b, &r->attrs, "process.pid", pid) ||
        opd_attrs_set_str(b, &r->attrs, "process.executable.name", strrchr(exe, '/') + 1) ||
        opd_attrs_set_str(b, &r->attrs, "process.executable.path", exe) ||
        opd_attrs_set_str(b, &r->attrs, "container.id",
                          "3f1c9a2e7b5d4c8f9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a"))
        return -ENOMEM;
    r->schema_url = opd_arena_strdup(&b->arena, "https://opentelemetry.io/schemas/1.37.0");
    s = opd_resource_add_scope(b, r, "otelprofd", "0.1.0");
    if (!s || !r->schema_url)
        return -ENOMEM;
    p = opd_scope_add_profile(b, s);
    if (!p)
        return -ENOMEM;
    if ((p->sample_type.type_strindex = opd_dict_string(d, "samples")) < 0 ||
        (p->sample_type.unit_strindex = opd_dict_string(d, "count")) < 0 ||
        (p->period_type.type_strindex = opd_dict_string(d, "cpu")) < 0 ||
        (p->period_type.unit_strindex = opd_dict_string(d, "nanoseconds")) < 0)
        return -ENOMEM;
    p->period = 50000000;
    p->time_unix_nano = T0;
    p->duration_nano = 5000000000ULL;

    if ((kernel_attr = opd_dict_attr_str(d, "profile.frame.type", "kernel")) < 0 ||
        (native_attr = opd_dict_attr_str(d, "profile.frame.type", "native")) < 0 ||
        (bid_attr = opd_dict_attr_str(d, "process.executable.build_id.gnu", build_id)) < 0 ||
        (thread_attr = opd_dict_attr_str(d, "thread.name", thread)) < 0)
        return -ENOMEM;
    /* kernel frame: symbolized, function name + filename */
    if ((kf.name_strindex = opd_dict_string(d, "do_syscall_64")) < 0 ||
        (kf.filename_strindex = opd_dict_string(d, "vmlinux")) < 0)
        return -ENOMEM;
    if ((line.function_index = opd_dict_function(d, &kf)) < 0)
        return -ENOMEM;
    if ((m.filename_strindex = opd_dict_string(d, "[kernel.kallsyms]")) < 0)
        return -ENOMEM;
    m.memory_start = 0xffffffff81000000ULL;
    m.memory_limit = 0xffffffff83000000ULL;
    if ((kmap = opd_dict_mapping(d, &m)) < 0)
        return -ENOMEM;
    l.mapping_index = kmap;
    l.address = 0xffffffff81e0007bULL;
    l.lines = &line;
    l.n_lines = 1;
    l.attr_indices = &kernel_attr;
    l.n_attr = 1;
    if ((locs[0] = opd_dict_location(d, &l)) < 0)
        return -ENOMEM;
    /* native frames: address + mapping only */
    memset(&m, 0, sizeof(m));
    if ((m.filename_strindex = opd_dict_string(d, exe)) < 0)
        return -ENOMEM;
    m.memory_start = base;
    m.memory_limit = base + 0x200000;
    m.file_offset = 0x1000;
    m.attr_indices = &bid_attr;
    m.n_attr = 1;
    if ((umap = opd_dict_mapping(d, &m)) < 0)
        return -ENOMEM;
    memset(&l, 0, sizeof(l));
    l.mapping_index = umap;
    l.attr_indices = &native_attr;
    l.n_attr = 1;
    l.address = 0x11a0f;
    if ((locs[1] = opd_dict_location(d, &l)) < 0)
        return -ENOMEM;
    l.address = 0x12b33;
    if ((locs[2] = opd_dict_location(d, &l)) < 0)
        return -ENOMEM;
    l.address = 0x10e27;
    if ((locs[3] = opd_dict_location(d, &l)) < 0)
        return -ENOMEM;
    if ((stack_a = opd_dict_stack(d, locs, 4)) < 0 ||
        (stack_b = opd_dict_stack(d, locs + 1, 3)) < 0)
        return -ENOMEM;
    if ((link = opd_dict_link(d, trace, span)) < 0)
        return -ENOMEM;

    attrs[0] = thread_attr;
    smp.attr_indices = attrs;
    smp.n_attr = 1;
    smp.values = vals;
    smp.n_values = 1;
    smp.timestamps = ts;
    smp.stack_index = stack_a;
    smp.n_values = 2; /* element-aligned with the timestamps */
    smp.n_timestamps = 2;
    if (opd_profile_add_sample(b, p, &smp))
        return -ENOMEM;
    smp.stack_index = stack_b;
    smp.link_index = link;
    smp.n_values = 1;
    smp.timestamps = ts + 2;
    smp.n_timestamps = 1;
    return opd_profile_add_sample(b, p, &smp);
}

struct opd_batch *otlp_fixture_batch(void)
{
    struct opd_batch *b = opd_batch_create();

    if (!b)
        return NULL;
    if (add_process(b, 4242, "/usr/sbin/nginx", "nginx", "8d2c6a8b4f1e0a9b7c3d2e1f00112233",
                    0x55d4c7a00000ULL) ||
        add_process(b, 977, "/usr/bin/python3.11", "python3", "5e7f0c1d2b3a49586776a5b4c3d2e1f0",
                    0x5611f2400000ULL)) {
        opd_batch_unref(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

struct opd_batch *otlp_fixture_synthetic(size_t n_samples, size_t n_stacks, size_t depth)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d;
    struct opd_resource *r;
    struct opd_scope *s;
    struct opd_profile *p;
    int32_t *stacks = NULL, *locs = NULL, tattr[1];
    uint64_t seed = 88172645463325252ULL, ts;
    int64_t one = 1;
    size_t i, j;
    char name[64];

    if (!b)
        return NULL;
    d = &b->dict;
    stacks = malloc(n_stacks * sizeof(*stacks));
    locs = malloc(depth * sizeof(*locs));
    if (!stacks || !locs || !(r = opd_batch_add_resource(b)) ||
        opd_attrs_set_int(b, &r->attrs, "process.pid", 1) ||
        !(s = opd_resource_add_scope(b, r, "otelprofd", "0.1.0")) ||
        !(p = opd_scope_add_profile(b, s)))
        goto fail;
    p->sample_type.type_strindex = opd_dict_string(d, "samples");
    p->sample_type.unit_strindex = opd_dict_string(d, "count");
    p->period_type.type_strindex = opd_dict_string(d, "cpu");
    p->period_type.unit_strindex = opd_dict_string(d, "nanoseconds");
    p->period = 50000000;
    p->time_unix_nano = T0;
    p->duration_nano = 5000000000ULL;
    for (i = 0; i < n_stacks; i++) {
        for (j = 0; j < depth; j++) {
            struct opd_function f = {0};
            struct opd_line ln = {0};
            struct opd_location l = {.lines = &ln, .n_lines = 1};

            /* frame j of stack i: shares callers with neighbours, like real stacks */
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            snprintf(name, sizeof(name), "fn_%zu_%zu", j, (size_t)(j < depth / 2 ? i % 97 : i));
            f.name_strindex = opd_dict_string(d, name);
            f.filename_strindex = opd_dict_string(d, "/usr/lib/libapp.so");
            if (f.name_strindex < 0 || f.filename_strindex < 0 ||
                (ln.function_index = opd_dict_function(d, &f)) < 0)
                goto fail;
            l.address = 0x400000 + (j << 12) + (j < depth / 2 ? i % 97 : i);
            if ((locs[j] = opd_dict_location(d, &l)) < 0)
                goto fail;
        }
        if ((stacks[i] = opd_dict_stack(d, locs, depth)) < 0)
            goto fail;
    }
    for (i = 0; i < n_samples; i++) {
        struct opd_sample smp = {.values = &one,
                                 .n_values = 1,
                                 .timestamps = &ts,
                                 .n_timestamps = 1,
                                 .attr_indices = tattr,
                                 .n_attr = 1};

        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        snprintf(name, sizeof(name), "worker-%u", (unsigned)(seed % 16));
        if ((tattr[0] = opd_dict_attr_str(d, "thread.name", name)) < 0)
            goto fail;
        smp.stack_index = stacks[seed % n_stacks];
        ts = T0 + i * 50000;
        if (opd_profile_add_sample(b, p, &smp))
            goto fail;
    }
    free(stacks);
    free(locs);
    return b;
fail:
    free(stacks);
    free(locs);
    opd_batch_unref(b);
    errno = ENOMEM;
    return NULL;
}

/* The fixture plus every optional field the model has. */
struct opd_batch *otlp_fixture_rich(void)
{
    struct opd_batch *b = otlp_fixture_batch();
    struct opd_profile *p;
    struct opd_scope *s;
    struct opd_attribute a = {0};
    static const uint8_t payload[] = {0x1f, 0x8b, 0x00, 0xff, 0x10};
    int32_t *pa;

    assert_non_null(b);
    s = &b->resources[1].scopes[0];
    p = &s->profiles[0];
    p->has_profile_id = true;
    memset(p->profile_id, 0x5a, 16);
    p->dropped_attributes_count = 3;
    p->original_payload_format = opd_arena_strdup(&b->arena, "pprof");
    p->original_payload = payload;
    p->original_payload_len = sizeof(payload);
    pa = malloc(3 * sizeof(*pa));
    assert_non_null(pa);
    a.key_strindex = opd_dict_string(&b->dict, "profile.ratio");
    a.unit_strindex = opd_dict_string(&b->dict, "1");
    a.value.type = OPD_VAL_DOUBLE;
    a.value.u.d = 0.25;
    pa[0] = opd_dict_attribute(&b->dict, &a);
    a.key_strindex = opd_dict_string(&b->dict, "profile.partial");
    a.unit_strindex = 0;
    a.value.type = OPD_VAL_BOOL;
    a.value.u.b = true;
    pa[1] = opd_dict_attribute(&b->dict, &a);
    a.key_strindex = opd_dict_string(&b->dict, "profile.raw");
    a.value.type = OPD_VAL_BYTES;
    a.value.u.bytes.data = payload;
    a.value.u.bytes.len = sizeof(payload);
    pa[2] = opd_dict_attribute(&b->dict, &a);
    p->attr_indices = pa;
    p->n_attr = 3;
    s->schema_url = opd_arena_strdup(&b->arena, "https://opentelemetry.io/schemas/1.37.0");
    s->dropped_attributes_count = 1;
    assert_int_equal(opd_attrs_set_str(b, &s->attrs, "otelprofd.mode", "system"), 0);
    b->resources[0].dropped_attributes_count = 2;
    assert_int_equal(opd_batch_check(b, NULL, 0), 0);
    return b;
}

static void assert_value_equal(const struct opd_value *a, const struct opd_value *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case OPD_VAL_STR:
        assert_string_equal(a->u.str, b->u.str);
        break;
    case OPD_VAL_BOOL:
        assert_int_equal(a->u.b, b->u.b);
        break;
    case OPD_VAL_INT:
        assert_int_equal(a->u.i, b->u.i);
        break;
    case OPD_VAL_DOUBLE:
        assert_memory_equal(&a->u.d, &b->u.d, sizeof(double));
        break;
    case OPD_VAL_BYTES:
        assert_int_equal(a->u.bytes.len, b->u.bytes.len);
        if (a->u.bytes.len)
            assert_memory_equal(a->u.bytes.data, b->u.bytes.data, a->u.bytes.len);
        break;
    default:
        break;
    }
}

static void assert_i32s(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    assert_int_equal(na, nb);
    if (na)
        assert_memory_equal(a, b, na * sizeof(*a));
}

static void assert_attrs_equal(const struct opd_attrs *a, const struct opd_attrs *b)
{
    size_t i;

    assert_int_equal(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        assert_string_equal(a->v[i].key, b->v[i].key);
        assert_value_equal(&a->v[i].value, &b->v[i].value);
    }
}

static void assert_opt_str(const char *a, const char *b)
{
    assert_string_equal(a ? a : "", b ? b : "");
}

static void assert_dict_equal(const struct opd_dict *a, const struct opd_dict *b)
{
    size_t i, j;

    assert_int_equal(a->n_strings, b->n_strings);
    for (i = 0; i < a->n_strings; i++)
        assert_string_equal(a->strings[i], b->strings[i]);
    assert_int_equal(a->n_functions, b->n_functions);
    for (i = 0; i < a->n_functions; i++) {
        assert_int_equal(a->functions[i].name_strindex, b->functions[i].name_strindex);
        assert_int_equal(a->functions[i].system_name_strindex,
                         b->functions[i].system_name_strindex);
        assert_int_equal(a->functions[i].filename_strindex, b->functions[i].filename_strindex);
        assert_int_equal(a->functions[i].start_line, b->functions[i].start_line);
    }
    assert_int_equal(a->n_mappings, b->n_mappings);
    for (i = 0; i < a->n_mappings; i++) {
        assert_int_equal(a->mappings[i].memory_start, b->mappings[i].memory_start);
        assert_int_equal(a->mappings[i].memory_limit, b->mappings[i].memory_limit);
        assert_int_equal(a->mappings[i].file_offset, b->mappings[i].file_offset);
        assert_int_equal(a->mappings[i].filename_strindex, b->mappings[i].filename_strindex);
        assert_i32s(a->mappings[i].attr_indices, a->mappings[i].n_attr, b->mappings[i].attr_indices,
                    b->mappings[i].n_attr);
    }
    assert_int_equal(a->n_locations, b->n_locations);
    for (i = 0; i < a->n_locations; i++) {
        const struct opd_location *x = &a->locations[i], *y = &b->locations[i];

        assert_int_equal(x->mapping_index, y->mapping_index);
        assert_int_equal(x->address, y->address);
        assert_int_equal(x->n_lines, y->n_lines);
        for (j = 0; j < x->n_lines; j++) {
            assert_int_equal(x->lines[j].function_index, y->lines[j].function_index);
            assert_int_equal(x->lines[j].line, y->lines[j].line);
            assert_int_equal(x->lines[j].column, y->lines[j].column);
        }
        assert_i32s(x->attr_indices, x->n_attr, y->attr_indices, y->n_attr);
    }
    assert_int_equal(a->n_stacks, b->n_stacks);
    for (i = 0; i < a->n_stacks; i++)
        assert_i32s(a->stacks[i].location_indices, a->stacks[i].n, b->stacks[i].location_indices,
                    b->stacks[i].n);
    assert_int_equal(a->n_attributes, b->n_attributes);
    for (i = 0; i < a->n_attributes; i++) {
        assert_int_equal(a->attributes[i].key_strindex, b->attributes[i].key_strindex);
        assert_int_equal(a->attributes[i].unit_strindex, b->attributes[i].unit_strindex);
        assert_value_equal(&a->attributes[i].value, &b->attributes[i].value);
    }
    assert_int_equal(a->n_links, b->n_links);
    for (i = 0; i < a->n_links; i++) {
        assert_int_equal(a->links[i].set, b->links[i].set);
        assert_memory_equal(a->links[i].trace_id, b->links[i].trace_id, 16);
        assert_memory_equal(a->links[i].span_id, b->links[i].span_id, 8);
    }
}

static void assert_profile_equal(const struct opd_profile *a, const struct opd_profile *b)
{
    size_t i;

    assert_int_equal(a->sample_type.type_strindex, b->sample_type.type_strindex);
    assert_int_equal(a->sample_type.unit_strindex, b->sample_type.unit_strindex);
    assert_int_equal(a->period_type.type_strindex, b->period_type.type_strindex);
    assert_int_equal(a->period_type.unit_strindex, b->period_type.unit_strindex);
    assert_int_equal(a->period, b->period);
    assert_int_equal(a->time_unix_nano, b->time_unix_nano);
    assert_int_equal(a->duration_nano, b->duration_nano);
    assert_int_equal(a->has_profile_id, b->has_profile_id);
    if (a->has_profile_id)
        assert_memory_equal(a->profile_id, b->profile_id, 16);
    assert_int_equal(a->dropped_attributes_count, b->dropped_attributes_count);
    assert_opt_str(a->original_payload_format, b->original_payload_format);
    assert_int_equal(a->original_payload_len, b->original_payload_len);
    if (a->original_payload_len)
        assert_memory_equal(a->original_payload, b->original_payload, a->original_payload_len);
    assert_i32s(a->attr_indices, a->n_attr, b->attr_indices, b->n_attr);
    assert_int_equal(a->n_samples, b->n_samples);
    for (i = 0; i < a->n_samples; i++) {
        const struct opd_sample *x = &a->samples[i], *y = &b->samples[i];

        assert_int_equal(x->stack_index, y->stack_index);
        assert_int_equal(x->link_index, y->link_index);
        assert_i32s(x->attr_indices, x->n_attr, y->attr_indices, y->n_attr);
        assert_int_equal(x->n_values, y->n_values);
        if (x->n_values)
            assert_memory_equal(x->values, y->values, x->n_values * sizeof(int64_t));
        assert_int_equal(x->n_timestamps, y->n_timestamps);
        if (x->n_timestamps)
            assert_memory_equal(x->timestamps, y->timestamps, x->n_timestamps * sizeof(uint64_t));
    }
}

void otlp_assert_batch_equal(const struct opd_batch *a, const struct opd_batch *b)
{
    size_t r, s, p;

    assert_dict_equal(&a->dict, &b->dict);
    assert_int_equal(a->n_resources, b->n_resources);
    for (r = 0; r < a->n_resources; r++) {
        const struct opd_resource *x = &a->resources[r], *y = &b->resources[r];

        assert_attrs_equal(&x->attrs, &y->attrs);
        assert_int_equal(x->dropped_attributes_count, y->dropped_attributes_count);
        assert_opt_str(x->schema_url, y->schema_url);
        assert_int_equal(x->n_scopes, y->n_scopes);
        for (s = 0; s < x->n_scopes; s++) {
            const struct opd_scope *u = &x->scopes[s], *v = &y->scopes[s];

            assert_opt_str(u->name, v->name);
            assert_opt_str(u->version, v->version);
            assert_opt_str(u->schema_url, v->schema_url);
            assert_attrs_equal(&u->attrs, &v->attrs);
            assert_int_equal(u->dropped_attributes_count, v->dropped_attributes_count);
            assert_int_equal(u->n_profiles, v->n_profiles);
            for (p = 0; p < u->n_profiles; p++)
                assert_profile_equal(&u->profiles[p], &v->profiles[p]);
        }
    }
}

char *otlp_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        goto out;
    buf = malloc((size_t)n + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[n] = '\0';
    *len = (size_t)n;
out:
    fclose(f);
    return buf;
}
