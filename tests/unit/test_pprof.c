/* pprof encoding (otlp/pprof_encode.c): grouping of a process's profiles into pprof
 * profiles (the memory profiles one heap profile with three sample types), samples merged
 * across sample types, every table and index, labels, comments, the fixtures of the other
 * otlp tests, and allocation failures. The files are read back with the generated decoder;
 * tests/integration/pprof.sh reads them with `go tool pprof`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/profiles.h"
#include "otlp/proto/pprof.pb-c.h"
#include "tests/unit/test_otlp_fixture.h"

typedef Perftools__Profiles__Profile PpProfile;

#define T0 1764060000000000000ULL

struct got {
    char name[32][16];
    PpProfile *p[32];
    size_t n;
};

static int collect(const struct opd_pprof *pp, void *arg)
{
    struct got *g = arg;
    uint8_t *raw = NULL;
    size_t len = 0;

    assert_true(g->n < 32);
    /* gzip magic, then a profile.proto inside */
    assert_true(pp->len > 2 && pp->data[0] == 0x1f && pp->data[1] == 0x8b);
    assert_int_equal(
        opd_grpc_decompress(OPD_GRPC_COMP_GZIP, pp->data, pp->len, 64u << 20, &raw, &len), 0);
    g->p[g->n] = perftools__profiles__profile__unpack(NULL, len, raw);
    assert_non_null(g->p[g->n]);
    snprintf(g->name[g->n], sizeof(g->name[0]), "%s", pp->name);
    g->n++;
    opd_free(raw);
    return 0;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        perftools__profiles__profile__free_unpacked(g->p[i], NULL);
    g->n = 0;
}

static const char *str(const PpProfile *p, int64_t i)
{
    assert_true(i >= 0 && (size_t)i < p->n_string_table);
    return p->string_table[i];
}

/* Every id and string index of p is in range; ids are 1..n in order. */
static void check_valid(const PpProfile *p)
{
    assert_true(p->n_string_table > 0);
    assert_string_equal(p->string_table[0], "");
    for (size_t i = 0; i < p->n_mapping; i++) {
        assert_int_equal(p->mapping[i]->id, i + 1);
        str(p, p->mapping[i]->filename);
        str(p, p->mapping[i]->build_id);
    }
    for (size_t i = 0; i < p->n_function; i++) {
        assert_int_equal(p->function[i]->id, i + 1);
        str(p, p->function[i]->name);
        str(p, p->function[i]->system_name);
        str(p, p->function[i]->filename);
    }
    for (size_t i = 0; i < p->n_location; i++) {
        const Perftools__Profiles__Location *l = p->location[i];

        assert_int_equal(l->id, i + 1);
        assert_true(l->mapping_id <= p->n_mapping);
        for (size_t k = 0; k < l->n_line; k++)
            assert_true(l->line[k]->function_id >= 1 && l->line[k]->function_id <= p->n_function);
    }
    for (size_t i = 0; i < p->n_sample; i++) {
        const Perftools__Profiles__Sample *s = p->sample[i];

        assert_int_equal(s->n_value, p->n_sample_type);
        for (size_t k = 0; k < s->n_location_id; k++)
            assert_true(s->location_id[k] >= 1 && s->location_id[k] <= p->n_location);
        for (size_t k = 0; k < s->n_label; k++) {
            str(p, s->label[k]->key);
            str(p, s->label[k]->str);
        }
    }
    for (size_t i = 0; i < p->n_comment; i++)
        str(p, p->comment[i]);
}

/* The leaf function name of sample s. */
static const char *leaf(const PpProfile *p, const Perftools__Profiles__Sample *s)
{
    const Perftools__Profiles__Location *l = p->location[s->location_id[0] - 1];

    return str(p, p->function[l->line[0]->function_id - 1]->name);
}

static struct opd_profile *add_profile(struct opd_batch *b, struct opd_scope *s, const char *t,
                                       const char *u, const char *pt, const char *pu,
                                       int64_t period)
{
    struct opd_profile *p = opd_scope_add_profile(b, s);

    assert_non_null(p);
    p->sample_type.type_strindex = opd_dict_string(&b->dict, t);
    p->sample_type.unit_strindex = opd_dict_string(&b->dict, u);
    p->period_type.type_strindex = opd_dict_string(&b->dict, pt);
    p->period_type.unit_strindex = opd_dict_string(&b->dict, pu);
    p->period = period;
    p->time_unix_nano = T0;
    p->duration_nano = 5000000000ULL;
    return p;
}

static void add_sample(struct opd_batch *b, struct opd_profile *p, int32_t stack, int32_t attr,
                       int64_t value, size_t n_ts)
{
    uint64_t ts[4] = {T0 + 1, T0 + 2, T0 + 3, T0 + 4};
    struct opd_sample s = {.stack_index = stack,
                           .attr_indices = &attr,
                           .n_attr = attr ? 1 : 0,
                           .values = &value,
                           .n_values = n_ts ? 0 : 1,
                           .timestamps = ts,
                           .n_timestamps = n_ts};

    assert_int_equal(opd_profile_add_sample(b, p, &s), 0);
}

/* Interns a location named fn in mapping m; returns its index. */
static int32_t named_loc(struct opd_batch *b, int32_t m, const char *fn, uint64_t addr)
{
    struct opd_function f = {.name_strindex = opd_dict_string(&b->dict, fn),
                             .filename_strindex = opd_dict_string(&b->dict, "app.c")};
    struct opd_line line = {.function_index = opd_dict_function(&b->dict, &f), .line = 42};
    struct opd_location l = {.mapping_index = m, .address = addr, .lines = &line, .n_lines = 1};

    return opd_dict_location(&b->dict, &l);
}

static void test_pprof_groups(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_resource *r;
    struct opd_scope *cpu_scope, *mem_scope;
    struct opd_profile *p;
    struct opd_mapping m = {.memory_start = 0x400000, .memory_limit = 0x500000};
    int32_t bid, map, la[2], lb[2], sa, sb, thread;
    struct got g = {0};
    const PpProfile *cpu = NULL, *off = NULL, *mem = NULL;
    bool pid_comment = false;

    (void)state;
    assert_non_null(b);
    r = opd_batch_add_resource(b);
    assert_non_null(r);
    assert_int_equal(opd_attrs_set_int(b, &r->attrs, "process.pid", 7), 0);
    assert_int_equal(opd_attrs_set_str(b, &r->attrs, "process.executable.path", "/bin/app"), 0);
    bid = opd_dict_attr_str(&b->dict, "process.executable.build_id.gnu", "abcdef0123");
    m.filename_strindex = opd_dict_string(&b->dict, "/bin/app");
    m.attr_indices = &bid;
    m.n_attr = 1;
    map = opd_dict_mapping(&b->dict, &m);
    la[0] = named_loc(b, map, "leaf_a", 0x401000);
    la[1] = named_loc(b, map, "main", 0x402000);
    lb[0] = named_loc(b, map, "leaf_b", 0x403000);
    lb[1] = la[1];
    sa = opd_dict_stack(&b->dict, la, 2);
    sb = opd_dict_stack(&b->dict, lb, 2);
    thread = opd_dict_attr_str(&b->dict, "thread.name", "worker-*");
    assert_true(map > 0 && sa > 0 && sb > 0 && thread > 0);

    cpu_scope = opd_resource_add_scope(b, r, "otelprofd", "1");
    p = add_profile(b, cpu_scope, "samples", "count", "cpu", "nanoseconds", 10000000);
    add_sample(b, p, sa, thread, 3, 0);
    add_sample(b, p, sa, thread, 0, 2); /* timestamps only: counts 2, merged with the above */
    add_sample(b, p, sb, 0, 1, 0);
    p = add_profile(b, &r->scopes[0], "off_cpu", "nanoseconds", "", "", 0);
    add_sample(b, p, sa, thread, 1000, 0);
    mem_scope = opd_resource_add_scope(b, r, "otelprofd.memory", "1");
    p = add_profile(b, mem_scope, "alloc_space", "bytes", "memory", "bytes", 524288);
    add_sample(b, p, sa, 0, 4096, 0);
    add_sample(b, p, sb, 0, 100, 0);
    p = add_profile(b, &r->scopes[1], "alloc_objects", "count", "memory", "bytes", 524288);
    add_sample(b, p, sa, 0, 2, 0);
    p = add_profile(b, &r->scopes[1], "inuse_space", "bytes", "memory", "bytes", 524288);
    add_sample(b, p, sb, 0, 50, 0);

    assert_int_equal(opd_pprof_encode(b, collect, &g), 0);
    assert_int_equal(g.n, 3);
    for (size_t i = 0; i < g.n; i++) {
        check_valid(g.p[i]);
        if (strcmp(g.name[i], "cpu") == 0)
            cpu = g.p[i];
        else if (strcmp(g.name[i], "off_cpu") == 0)
            off = g.p[i];
        else if (strcmp(g.name[i], "memory") == 0)
            mem = g.p[i];
    }
    assert_non_null(cpu);
    assert_non_null(off);
    assert_non_null(mem);

    /* CPU: one sample type, period type, merged samples with their label. */
    assert_int_equal(cpu->n_sample_type, 1);
    assert_string_equal(str(cpu, cpu->sample_type[0]->type), "samples");
    assert_string_equal(str(cpu, cpu->sample_type[0]->unit), "count");
    assert_non_null(cpu->period_type);
    assert_string_equal(str(cpu, cpu->period_type->type), "cpu");
    assert_string_equal(str(cpu, cpu->period_type->unit), "nanoseconds");
    assert_int_equal(cpu->period, 10000000);
    assert_int_equal(cpu->time_nanos, (int64_t)T0);
    assert_int_equal(cpu->duration_nanos, 5000000000LL);
    assert_int_equal(cpu->n_sample, 2);
    for (size_t i = 0; i < cpu->n_sample; i++) {
        const Perftools__Profiles__Sample *s = cpu->sample[i];

        assert_int_equal(s->n_location_id, 2);
        if (strcmp(leaf(cpu, s), "leaf_a") == 0) {
            assert_int_equal(s->value[0], 5);
            assert_int_equal(s->n_label, 1);
            assert_string_equal(str(cpu, s->label[0]->key), "thread.name");
            assert_string_equal(str(cpu, s->label[0]->str), "worker-*");
        } else {
            assert_string_equal(leaf(cpu, s), "leaf_b");
            assert_int_equal(s->value[0], 1);
            assert_int_equal(s->n_label, 0);
        }
    }
    assert_int_equal(cpu->n_mapping, 1);
    assert_string_equal(str(cpu, cpu->mapping[0]->filename), "/bin/app");
    assert_string_equal(str(cpu, cpu->mapping[0]->build_id), "abcdef0123");
    assert_true(cpu->mapping[0]->has_functions);
    assert_int_equal(cpu->location[0]->line[0]->line, 42);
    assert_string_equal(str(cpu, cpu->function[0]->filename), "app.c");
    for (size_t i = 0; i < cpu->n_comment; i++)
        pid_comment |= strcmp(str(cpu, cpu->comment[i]), "process.pid=7") == 0;
    assert_true(pid_comment);

    /* Off-CPU: no period type (it has none), one sample. */
    assert_null(off->period_type);
    assert_int_equal(off->n_sample, 1);
    assert_string_equal(str(off, off->sample_type[0]->type), "off_cpu");
    assert_int_equal(off->sample[0]->value[0], 1000);

    /* Memory: one heap profile, three sample types, values aligned per stack. */
    assert_int_equal(mem->n_sample_type, 3);
    assert_string_equal(str(mem, mem->sample_type[0]->type), "alloc_space");
    assert_string_equal(str(mem, mem->sample_type[1]->type), "alloc_objects");
    assert_string_equal(str(mem, mem->sample_type[2]->type), "inuse_space");
    assert_string_equal(str(mem, mem->period_type->type), "memory");
    assert_int_equal(mem->period, 524288);
    assert_int_equal(mem->n_sample, 2);
    for (size_t i = 0; i < mem->n_sample; i++) {
        const Perftools__Profiles__Sample *s = mem->sample[i];

        if (strcmp(leaf(mem, s), "leaf_a") == 0) {
            assert_int_equal(s->value[0], 4096);
            assert_int_equal(s->value[1], 2);
            assert_int_equal(s->value[2], 0);
        } else {
            assert_int_equal(s->value[0], 100);
            assert_int_equal(s->value[1], 0);
            assert_int_equal(s->value[2], 50);
        }
    }
    got_free(&g);
    opd_batch_unref(b);
}

/* The shared fixtures: every pprof file is valid and keeps every sample's weight. */
static void test_pprof_fixtures(void **state)
{
    struct opd_batch *(*make[])(void) = {otlp_fixture_batch, otlp_fixture_rich};

    (void)state;
    for (size_t f = 0; f < sizeof(make) / sizeof(make[0]); f++) {
        struct opd_batch *b = make[f]();
        struct got g = {0};
        int64_t want = 0, got = 0;
        bool link = false;

        assert_non_null(b);
        for (size_t r = 0; r < b->n_resources; r++)
            for (size_t s = 0; s < b->resources[r].n_scopes; s++)
                for (size_t p = 0; p < b->resources[r].scopes[s].n_profiles; p++) {
                    const struct opd_profile *pr = &b->resources[r].scopes[s].profiles[p];

                    for (size_t k = 0; k < pr->n_samples; k++) {
                        const struct opd_sample *sm = &pr->samples[k];
                        int64_t v = 0;

                        for (size_t j = 0; j < sm->n_values; j++)
                            v += sm->values[j];
                        want += sm->n_values ? v : (int64_t)sm->n_timestamps;
                    }
                }
        assert_int_equal(opd_pprof_encode(b, collect, &g), 0);
        assert_true(g.n >= b->n_resources);
        for (size_t i = 0; i < g.n; i++) {
            check_valid(g.p[i]);
            for (size_t k = 0; k < g.p[i]->n_sample; k++) {
                for (size_t j = 0; j < g.p[i]->sample[k]->n_value; j++)
                    got += g.p[i]->sample[k]->value[j];
                for (size_t j = 0; j < g.p[i]->sample[k]->n_label; j++)
                    link |= strcmp(str(g.p[i], g.p[i]->sample[k]->label[j]->key), "trace_id") == 0;
            }
        }
        assert_int_equal(got, want);
        assert_true(link); /* the fixtures' trace link */
        got_free(&g);
        opd_batch_unref(b);
    }
}

static int stop_at_first(const struct opd_pprof *pp, void *arg)
{
    (void)pp;
    ++*(int *)arg;
    return 42;
}

static int count(const struct opd_pprof *pp, void *arg)
{
    (void)pp;
    ++*(int *)arg;
    return 0;
}

/* The callback's value stops the encoding; every allocation failure is -ENOMEM, no leak
 * (the sanitizer build checks the latter). */
static void test_pprof_stop_and_enomem(void **state)
{
    struct opd_batch *b = otlp_fixture_rich();
    int calls = 0, failures = 0;

    (void)state;
    assert_non_null(b);
    assert_int_equal(opd_pprof_encode(b, stop_at_first, &calls), 42);
    assert_int_equal(calls, 1);
    for (long n = 0; n < 5000; n++) {
        int err;

        opd_mem_fail_countdown = n;
        err = opd_pprof_encode(b, count, &calls);
        opd_mem_fail_countdown = -1;
        if (!err)
            break;
        assert_int_equal(err, -ENOMEM);
        failures++;
    }
    assert_true(failures > 5);
    opd_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pprof_groups),
        cmocka_unit_test(test_pprof_fixtures),
        cmocka_unit_test(test_pprof_stop_and_enomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
