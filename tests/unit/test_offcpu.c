/* Off-CPU and memory records in user space (no BPF needed): the sampled-fraction
 * threshold and its scaling, record kinds in the drain store, and the batch builder's
 * one profile per kind with its sample and period types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "collector/receivers/profiling/build.h"
#include "collector/receivers/profiling/drain.h"
#include "collector/receivers/profiling/offcpu.h"
#include "collector/receivers/profiling/proctab.h"
#include "otlp/profiles.h"

static void test_threshold(void **state)
{
    (void)state;
    assert_int_equal(opd_offcpu_threshold(0), 0);
    assert_int_equal(opd_offcpu_threshold(-1), 0);
    assert_int_equal(opd_offcpu_threshold(0.0 / 0.0), 0); /* NaN: off, not garbage */
    assert_int_equal(opd_offcpu_threshold(1), UINT32_MAX);
    assert_int_equal(opd_offcpu_threshold(7), UINT32_MAX);
    assert_int_equal(opd_offcpu_threshold(0.5), 0x80000000u);
    assert_int_equal(opd_offcpu_threshold(0.25), 0x40000000u);
    /* The smallest positive fraction still records something. */
    assert_true(opd_offcpu_threshold(1e-9) > 0);
}

static void test_scale(void **state)
{
    (void)state;
    assert_int_equal(opd_offcpu_scale(1000, UINT32_MAX), 1000);
    assert_int_equal(opd_offcpu_scale(1000, 0x80000000u), 2000);
    assert_int_equal(opd_offcpu_scale(1000, 0x40000000u), 4000);
    assert_int_equal(opd_offcpu_scale(0, 0x40000000u), 0);
    /* Saturates instead of wrapping. */
    assert_int_equal(opd_offcpu_scale(UINT64_MAX / 2, 1), UINT64_MAX);
}

static void test_drain_kinds(void **state)
{
    struct opd_drain d;
    struct opd_sample_key k = {.tgid = 1, .tid = 1};

    (void)state;
    opd_drain_init(&d);
    assert_int_equal(opd_drain_add_record(&d, &k, 3), 0);
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_OFF_CPU, &k, 5000000000ull), 0);
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_ALLOC_SPACE, &k, 1 << 20), 0);
    assert_int_equal(d.n_recs, 3);
    assert_int_equal(d.recs[0].kind, OPD_PROF_CPU);
    assert_int_equal(d.recs[1].kind, OPD_PROF_OFF_CPU);
    /* Only CPU samples are samples: nanoseconds and bytes are not counted. */
    assert_int_equal(opd_drain_sample_count(&d), 3);
    opd_drain_fini(&d);
}

static const struct opd_profile *find_profile(const struct opd_batch *b, const struct opd_scope *sc,
                                              const char *type)
{
    for (size_t i = 0; i < sc->n_profiles; i++) {
        if (strcmp(opd_dict_str(&b->dict, sc->profiles[i].sample_type.type_strindex), type) == 0)
            return &sc->profiles[i];
    }
    return NULL;
}

static const struct opd_resource *find_res(const struct opd_batch *b, int64_t pid)
{
    for (size_t i = 0; i < b->n_resources; i++) {
        const struct opd_value *v = opd_attrs_get(&b->resources[i].attrs, "process.pid");

        if (v && v->type == OPD_VAL_INT && v->u.i == pid)
            return &b->resources[i];
    }
    fail_msg("no resource of pid %lld", (long long)pid);
    return NULL;
}

static void check_types(const struct opd_batch *b, const struct opd_profile *p, const char *unit,
                        const char *ptype, const char *punit, int64_t period)
{
    assert_non_null(p);
    assert_string_equal(opd_dict_str(&b->dict, p->sample_type.unit_strindex), unit);
    assert_string_equal(opd_dict_str(&b->dict, p->period_type.type_strindex), ptype);
    assert_string_equal(opd_dict_str(&b->dict, p->period_type.unit_strindex), punit);
    assert_int_equal(p->period, period);
}

static void test_build_kinds(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000000000ull};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    struct opd_build_params p = {
        .tab = tab,
        .samples_per_second = 100,
        .alloc_sample_bytes = 524288,
        .now = 1,
    };
    struct opd_bpf_stack us = {.len = 1};
    struct opd_sample_key k = {0};
    struct opd_build_stats st;
    struct opd_drain d;
    struct opd_batch *b;
    const struct opd_resource *res;
    const struct opd_scope *sc, *mem;
    const struct opd_profile *off;
    char err[256];
    uint64_t off_total = 0;

    (void)state;
    assert_non_null(tab);
    opd_drain_init(&d);
    us.ip[0] = (uint64_t)(uintptr_t)&test_build_kinds;
    assert_int_equal(opd_drain_add_stack(&d, 7, &us), 0);
    opd_drain_finish(&d);
    k.tgid = (uint32_t)getpid();
    k.ustack = 7;
    strcpy(k.comm, "t");
    /* Interleaved kinds and threads: the builder groups them. */
    k.tid = k.tgid;
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_OFF_CPU, &k, 700), 0);
    assert_int_equal(opd_drain_add_record(&d, &k, 4), 0);
    k.tid = k.tgid + 1;
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_INUSE_SPACE, &k, 1024), 0);
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_OFF_CPU, &k, 300), 0);
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_ALLOC_SPACE, &k, 4096), 0);
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_ALLOC_OBJECTS, &k, 8), 0);

    /* A process with in-use memory only (its allocations were in an earlier interval). */
    k.tgid = k.tid = 999999;
    assert_int_equal(opd_drain_add_value(&d, OPD_PROF_INUSE_SPACE, &k, 2048), 0);

    b = opd_profiling_build(&p, &d, &st);
    assert_non_null(b);
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
    assert_int_equal(b->n_resources, 2);
    assert_int_equal(st.samples, 4);
    /* CPU and off-CPU in scope otelprofd; the memory profiles in otelprofd.memory (Parca
     * names profiles after their scope), with period type memory (Pyroscope's name). */
    res = find_res(b, getpid());
    assert_int_equal(res->n_scopes, 2);
    sc = &res->scopes[0];
    assert_string_equal(sc->name, "otelprofd");
    assert_int_equal(sc->n_profiles, 2);
    check_types(b, find_profile(b, sc, "samples"), "count", "cpu", "nanoseconds", 10000000);
    off = find_profile(b, sc, "off_cpu");
    /* Off-CPU as the reference profiler sends it: Pyroscope's off_cpu type. */
    check_types(b, off, "nanoseconds", "", "", 0);
    mem = &res->scopes[1];
    assert_string_equal(mem->name, "otelprofd.memory");
    assert_int_equal(mem->n_profiles, 3);
    check_types(b, find_profile(b, mem, "alloc_space"), "bytes", "memory", "bytes", 524288);
    check_types(b, find_profile(b, mem, "alloc_objects"), "count", "memory", "bytes", 524288);
    check_types(b, find_profile(b, mem, "inuse_space"), "bytes", "memory", "bytes", 524288);
    /* The two threads share their name and stack: one sample (thread.id is not on by
     * default). */
    assert_int_equal(off->n_samples, 1);
    for (size_t i = 0; i < off->n_samples; i++) {
        assert_int_equal(off->samples[i].n_values, 1);
        assert_true(off->samples[i].stack_index > 0);
        off_total += (uint64_t)off->samples[i].values[0];
    }
    assert_int_equal(off_total, 1000);
    assert_int_equal(find_profile(b, mem, "inuse_space")->samples[0].values[0], 1024);
    /* ... still gets all three memory profiles, the others empty, in the same order: its
     * pprof heap profiles have the same sample types in every interval. */
    res = find_res(b, 999999);
    assert_int_equal(res->n_scopes, 1);
    mem = &res->scopes[0];
    assert_string_equal(mem->name, "otelprofd.memory");
    assert_int_equal(mem->n_profiles, 3);
    for (size_t i = 0; i < 3; i++) {
        static const char *const order[] = {"alloc_space", "alloc_objects", "inuse_space"};

        assert_string_equal(opd_dict_str(&b->dict, mem->profiles[i].sample_type.type_strindex),
                            order[i]);
        assert_int_equal(mem->profiles[i].n_samples, i == 2 ? 1 : 0);
    }
    opd_batch_unref(b);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_drain_kinds),
        cmocka_unit_test(test_build_kinds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
