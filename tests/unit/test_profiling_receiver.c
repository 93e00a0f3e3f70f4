/* Profiling receiver, user-space parts that need no BPF: CPU list parsing, preflight
 * judgement, the drain store, the batch builder (OTLP shape, grouping, comm filter,
 * allocation failures), the cgroup prefix rule and the config map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/unwind_table.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/build.h"
#include "collector/receivers/profiling/cpus.h"
#include "collector/receivers/profiling/drain.h"
#include "collector/receivers/profiling/filter.h"
#include "collector/receivers/profiling/preflight.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/receiver.h"
#include "otlp/profiles.h"

/* ---- CPU list -------------------------------------------------------------------------- */

static void test_cpus_parse(void **state)
{
    uint8_t m[16];

    (void)state;
    assert_int_equal(opd_cpus_parse("0-3,6,8-9\n", 10, m, 16), 7);
    assert_int_equal(m[0] + m[1] + m[2] + m[3], 4);
    assert_int_equal(m[4] + m[5] + m[7], 0);
    assert_int_equal(m[6] + m[8] + m[9], 3);
    assert_int_equal(opd_cpus_parse("0", 1, m, 16), 1);
    /* CPUs beyond the mask are ignored, not written. */
    assert_int_equal(opd_cpus_parse("14-40", 5, m, 16), 2);
    assert_int_equal(opd_cpus_parse("\n", 1, m, 16), 0);
    assert_int_equal(opd_cpus_parse("1-", 2, m, 16), -EINVAL);
    assert_int_equal(opd_cpus_parse("a", 1, m, 16), -EINVAL);
    assert_int_equal(opd_cpus_parse("3-1", 3, m, 16), -EINVAL);
    assert_int_equal(opd_cpus_parse("1,,2", 4, m, 16), -EINVAL);
    assert_int_equal(opd_cpus_parse("99999999999", 11, m, 16), -EINVAL);
}

/* ---- preflight ------------------------------------------------------------------------- */

static struct opd_preflight_facts good_facts(void)
{
    struct opd_preflight_facts f = {.kmajor = 6, .kminor = 1, .btf = true, .paranoid = 2};

    snprintf(f.release, sizeof(f.release), "6.1.0-test");
    f.cap_eff = (1ull << OPD_CAP_BPF) | (1ull << OPD_CAP_PERFMON) | (1ull << OPD_CAP_SYS_PTRACE) |
                (1ull << OPD_CAP_DAC_READ_SEARCH);
    return f;
}

static void test_preflight(void **state)
{
    struct opd_preflight_facts f = good_facts();
    char err[1024], warn[512];

    (void)state;
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), 0);
    assert_string_equal(warn, "");

    f.kmajor = 5;
    f.kminor = 10;
    snprintf(f.release, sizeof(f.release), "5.10.0-46-cloud-amd64");
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), 0);
    f.kminor = 4;
    snprintf(f.release, sizeof(f.release), "5.4.0");
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), -ENOTSUP);
    assert_non_null(strstr(err, "5.4.0"));
    assert_non_null(strstr(err, "5.10"));

    f = good_facts();
    f.btf = false;
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), -ENOTSUP);
    assert_non_null(strstr(err, "CONFIG_DEBUG_INFO_BTF"));

    f = good_facts();
    f.cap_eff = 0;
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), -EPERM);
    assert_non_null(strstr(err, "CAP_BPF and CAP_PERFMON"));
    assert_non_null(strstr(err, "setcap"));

    f.cap_eff = 1ull << OPD_CAP_BPF;
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), -EPERM);
    assert_null(strstr(err, "CAP_BPF"));
    assert_non_null(strstr(err, "CAP_PERFMON"));

    /* 5.19 and 6.0 start, with a warning. */
    f = good_facts();
    f.kmajor = 6;
    f.kminor = 0;
    snprintf(f.release, sizeof(f.release), "6.0.3");
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), 0);
    assert_non_null(strstr(warn, "6.0.3"));
    assert_non_null(strstr(warn, "lock up"));

    /* CAP_SYS_ADMIN covers both; missing ptrace rights is only a warning. */
    f.cap_eff = 1ull << OPD_CAP_SYS_ADMIN;
    assert_int_equal(opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn)), 0);
    assert_non_null(strstr(warn, "CAP_SYS_PTRACE"));
    assert_non_null(strstr(warn, "CAP_DAC_READ_SEARCH"));
}

/* ---- drain store ------------------------------------------------------------------------ */

static void test_drain_store(void **state)
{
    struct opd_bpf_stack st = {.len = 3, .ip = {1, 2, 3}};
    struct opd_sample_key k = {.tgid = 1, .tid = 1};
    struct opd_drain d;
    const struct opd_drained_stack *got;

    (void)state;
    opd_drain_init(&d);
    for (uint64_t id = 50; id > 0; id--) {
        st.ip[0] = id;
        assert_int_equal(opd_drain_add_stack(&d, id * 7, &st), 0);
    }
    st.len = 100000; /* a bad length from the kernel is clamped */
    assert_int_equal(opd_drain_add_stack(&d, 1000, &st), 0);
    opd_drain_finish(&d);
    got = opd_drain_stack(&d, 21);
    assert_non_null(got);
    assert_int_equal(got->ip[0], 3);
    assert_null(opd_drain_stack(&d, 22));
    assert_null(opd_drain_stack(&d, OPD_STACK_NONE));
    assert_int_equal(opd_drain_stack(&d, 1000)->len, OPD_MAX_FRAMES);
    assert_int_equal(opd_drain_add_record(&d, &k, 5), 0);
    assert_int_equal(opd_drain_add_record(&d, &k, 7), 0);
    assert_int_equal(opd_drain_sample_count(&d), 12);
    opd_drain_reset(&d);
    assert_int_equal(d.n_recs + d.n_stacks, 0);
    opd_drain_fini(&d);
}

/* Deep stacks (the largest frame budget) across many frame blocks and two drains: every
 * stack keeps its own frames, however many stacks were added after it. */
static void test_drain_deep_stacks(void **state)
{
    static uint64_t ip[OPD_MAX_FRAMES];
    struct opd_drain d;

    (void)state;
    opd_drain_init(&d);
    for (int round = 0; round < 2; round++) {
        for (uint64_t id = 1; id <= 300; id++) {
            uint32_t len = (uint32_t)(id * 37 % OPD_MAX_FRAMES) + 1;

            for (uint32_t i = 0; i < len; i++)
                ip[i] = id << 32 | i;
            assert_int_equal(opd_drain_add_frames(&d, id, 0, ip, len), 0);
        }
        opd_drain_finish(&d);
        for (uint64_t id = 1; id <= 300; id++) {
            const struct opd_drained_stack *got = opd_drain_stack(&d, id);
            uint32_t len = (uint32_t)(id * 37 % OPD_MAX_FRAMES) + 1;

            assert_non_null(got);
            assert_int_equal(got->len, len);
            assert_int_equal(got->ip[0], id << 32);
            assert_int_equal(got->ip[len - 1], id << 32 | (len - 1));
        }
        opd_drain_reset(&d);
    }
    assert_int_equal(opd_drain_add_frames(&d, 1, 0, ip, OPD_MAX_FRAMES + 1), -EINVAL);
    opd_drain_fini(&d);
}

/* ---- batch builder ---------------------------------------------------------------------- */

/* A pid that does not exist: the builder must fall back to the sampled thread name. */
#define GONE_PID 0x3ffffff0u

__attribute__((noinline)) static uint64_t here(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static const struct opd_resource *find_resource(const struct opd_batch *b, int64_t pid);

static void fill_drain(struct opd_drain *d)
{
    struct opd_bpf_stack us = {.len = 3}, ks = {.len = 2, .kernel = 1};
    struct opd_sample_key k = {0};

    opd_drain_init(d);
    /* The pc, then two callers tagged with how the kernel walk found them. */
    us.ip[0] = here();
    us.ip[1] = ((uint64_t)(uintptr_t)&fill_drain + 4) | OPD_FRAME_VIA_TABLE;
    us.ip[2] = ((uint64_t)(uintptr_t)&find_resource + 4) | OPD_FRAME_VIA_FP;
    ks.ip[0] = 0xffffffff81000010ull;
    ks.ip[1] = 0xffffffff81000020ull;
    assert_int_equal(opd_drain_add_stack(d, 11, &us), 0);
    assert_int_equal(opd_drain_add_stack(d, 12, &ks), 0);
    opd_drain_finish(d);

    k.tgid = (uint32_t)getpid();
    k.tid = (uint32_t)getpid();
    k.ustack = 11;
    k.kstack = 12;
    strcpy(k.comm, "main-thread");
    assert_int_equal(opd_drain_add_record(d, &k, 5), 0);
    k.tid = k.tgid + 1;
    k.kstack = OPD_STACK_NONE;
    strcpy(k.comm, "worker");
    assert_int_equal(opd_drain_add_record(d, &k, 3), 0);
    k.tgid = GONE_PID;
    k.tid = GONE_PID;
    k.ustack = 99; /* missing from the stacks: counted, sample kept */
    strcpy(k.comm, "ghost");
    assert_int_equal(opd_drain_add_record(d, &k, 2), 0);
    d->start_unix_ns = 1000000000ull;
    d->end_unix_ns = 6000000000ull;
}

static const struct opd_resource *find_resource(const struct opd_batch *b, int64_t pid)
{
    for (size_t i = 0; i < b->n_resources; i++) {
        const struct opd_value *v = opd_attrs_get(&b->resources[i].attrs, "process.pid");

        if (v && v->type == OPD_VAL_INT && v->u.i == pid)
            return &b->resources[i];
    }
    return NULL;
}

static const char *attr_str(const struct opd_resource *r, const char *key)
{
    const struct opd_value *v = opd_attrs_get(&r->attrs, key);

    return v && v->type == OPD_VAL_STR ? v->u.str : NULL;
}

static const char *sample_attr(const struct opd_batch *b, const struct opd_sample *s,
                               const char *key, int64_t *ival)
{
    for (size_t i = 0; i < s->n_attr; i++) {
        const struct opd_attribute *a = &b->dict.attributes[s->attr_indices[i]];

        if (strcmp(opd_dict_str(&b->dict, a->key_strindex), key) == 0) {
            if (ival)
                *ival = a->value.u.i;
            return a->value.type == OPD_VAL_STR ? a->value.u.str : "";
        }
    }
    return NULL;
}

static const char *loc_attr(const struct opd_batch *b, int32_t loc, const char *key)
{
    const struct opd_location *l = &b->dict.locations[loc];

    for (size_t i = 0; i < l->n_attr; i++) {
        const struct opd_attribute *a = &b->dict.attributes[l->attr_indices[i]];

        if (strcmp(opd_dict_str(&b->dict, a->key_strindex), key) == 0)
            return a->value.u.str;
    }
    return NULL;
}

static const char *frame_type(const struct opd_batch *b, int32_t loc)
{
    return loc_attr(b, loc, "profile.frame.type");
}

static void test_build_shape(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000000000ull};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    const struct opd_sample_attrs attrs = {.thread_name = true, .thread_id = true};
    struct opd_build_params p = {
        .tab = tab,
        .host_name = "host-a",
        .scope_version = "1.2.3",
        .samples_per_second = 19,
        .now = 1,
        .attrs = &attrs,
    };
    struct opd_build_stats st;
    struct opd_drain d;
    struct opd_batch *b;
    const struct opd_resource *self, *ghost;
    const struct opd_profile *prof;
    char err[256];
    uint64_t total = 0;

    (void)state;
    assert_non_null(tab);
    fill_drain(&d);
    b = opd_profiling_build(&p, &d, &st);
    assert_non_null(b);
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
    assert_int_equal(b->n_resources, 2);
    assert_int_equal(st.processes, 2);
    assert_int_equal(st.samples, 10);
    assert_int_equal(st.no_user_stack, 2);
    assert_int_equal(opd_batch_sample_count(b), 10);

    self = find_resource(b, getpid());
    assert_non_null(self);
    assert_non_null(attr_str(self, "process.executable.path"));
    assert_string_equal(attr_str(self, "process.executable.name"), "test_profiling_receiver");
    assert_string_equal(attr_str(self, "service.name"), "test_profiling_receiver");
    assert_string_equal(attr_str(self, "host.name"), "host-a");
    assert_int_equal(self->n_scopes, 1);
    assert_string_equal(self->scopes[0].name, "otelprofd");
    assert_string_equal(self->scopes[0].version, "1.2.3");
    prof = &self->scopes[0].profiles[0];
    assert_string_equal(opd_dict_str(&b->dict, prof->sample_type.type_strindex), "samples");
    assert_string_equal(opd_dict_str(&b->dict, prof->sample_type.unit_strindex), "count");
    assert_string_equal(opd_dict_str(&b->dict, prof->period_type.type_strindex), "cpu");
    assert_string_equal(opd_dict_str(&b->dict, prof->period_type.unit_strindex), "nanoseconds");
    assert_int_equal(prof->period, 1000000000 / 19);
    assert_int_equal(prof->time_unix_nano, 1000000000ull);
    assert_int_equal(prof->duration_nano, 5000000000ull);
    assert_int_equal(prof->n_samples, 2);
    for (size_t i = 0; i < prof->n_samples; i++) {
        const struct opd_sample *s = &prof->samples[i];
        const struct opd_stack *stk = &b->dict.stacks[s->stack_index];
        const char *tname = sample_attr(b, s, "thread.name", NULL);
        int64_t tid = 0;

        assert_non_null(sample_attr(b, s, "thread.id", &tid));
        total += (uint64_t)s->values[0];
        if (strcmp(tname, "main-thread") == 0) {
            assert_int_equal(tid, getpid());
            assert_int_equal(s->values[0], 5);
            /* Kernel frames leaf-most, then the user frames. */
            assert_int_equal(stk->n, 5);
            assert_string_equal(frame_type(b, stk->location_indices[0]), "kernel");
            assert_string_equal(frame_type(b, stk->location_indices[1]), "kernel");
            assert_string_equal(frame_type(b, stk->location_indices[2]), "native");
            assert_int_equal(b->dict.locations[stk->location_indices[0]].address,
                             0xffffffff81000010ull);
            /* Without a symbolizer a user frame keeps its mapping (this test binary). */
            assert_true(b->dict.locations[stk->location_indices[2]].mapping_index > 0);
            /* How each caller was found; the tag is gone from the address (the mapping
             * is still found) and the pc, read not unwound, says nothing. */
            assert_null(loc_attr(b, stk->location_indices[2], "otelprofd.unwind.method"));
            assert_string_equal(loc_attr(b, stk->location_indices[3], "otelprofd.unwind.method"),
                                "eh_frame");
            assert_string_equal(loc_attr(b, stk->location_indices[4], "otelprofd.unwind.method"),
                                "frame_pointer");
            for (int f = 3; f <= 4; f++) {
                const struct opd_location *l = &b->dict.locations[stk->location_indices[f]];

                assert_true(l->mapping_index > 0);
                assert_true(l->address < (1ull << 47));
            }
        } else {
            assert_string_equal(tname, "worker");
            assert_int_equal(tid, getpid() + 1);
            assert_int_equal(stk->n, 3);
        }
    }
    assert_int_equal(total, 8);

    /* A process /proc no longer knows keeps its pid and the sampled main thread name. */
    ghost = find_resource(b, GONE_PID);
    assert_non_null(ghost);
    assert_string_equal(attr_str(ghost, "process.executable.name"), "ghost");
    assert_null(attr_str(ghost, "process.executable.path"));
    assert_int_equal(ghost->scopes[0].profiles[0].samples[0].stack_index, 0);

    opd_batch_unref(b);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

static void test_build_comm_filter(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000000000ull};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    regex_t ex;
    struct opd_build_params p = {.tab = tab, .samples_per_second = 19, .now = 1};
    struct opd_build_stats st;
    struct opd_drain d;
    struct opd_batch *b;

    (void)state;
    assert_int_equal(regcomp(&ex, "^gho", REG_EXTENDED | REG_NOSUB), 0);
    p.comm_exclude = &ex;
    p.n_comm_exclude = 1;
    fill_drain(&d);
    b = opd_profiling_build(&p, &d, &st);
    assert_non_null(b);
    assert_int_equal(b->n_resources, 1);
    assert_int_equal(st.filtered, 2);
    assert_null(find_resource(b, GONE_PID));
    assert_true(opd_profiling_comm_allowed(&p, "bash"));
    assert_false(opd_profiling_comm_allowed(&p, "ghostly"));
    p.comm_include = &ex;
    p.n_comm_include = 1;
    p.n_comm_exclude = 0;
    assert_false(opd_profiling_comm_allowed(&p, "bash"));
    assert_true(opd_profiling_comm_allowed(&p, "ghostly"));
    opd_batch_unref(b);
    regfree(&ex);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

static void test_build_empty(void **state)
{
    struct opd_proctab_config pc = {0};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    struct opd_build_params p = {.tab = tab, .samples_per_second = 19};
    struct opd_drain d;
    struct opd_batch *b;

    (void)state;
    opd_drain_init(&d);
    b = opd_profiling_build(&p, &d, NULL);
    assert_non_null(b);
    assert_int_equal(b->n_resources, 0);
    opd_batch_unref(b);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

static void test_thread_name_normalize(void **state)
{
    static const char *const cases[][2] = {
        {"worker-17", "worker-*"},
        {"worker-18", "worker-*"},
        {"pool-3-thread-12", "pool-*-thread-*"},
        {"GC Thread#0", "GC Thread#*"},
        {"kworker/u16:2", "kworker/u*:*"},
        {"main", "main"},
        {"2024", "*"},
        {"", ""},
    };
    char out[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        opd_thread_name_normalize(cases[i][0], out);
        assert_string_equal(out, cases[i][1]);
    }
}

/* n threads of one process, thread k named name(k) with weight k + 1, on four stacks. */
static void fill_threads(struct opd_drain *d, size_t n, void (*name)(size_t, char *))
{
    struct opd_bpf_stack us = {.len = 1};
    struct opd_sample_key k = {0};

    opd_drain_init(d);
    for (uint64_t id = 1; id <= 4; id++) {
        us.ip[0] = (uint64_t)(uintptr_t)&fill_threads + id;
        assert_int_equal(opd_drain_add_stack(d, id, &us), 0);
    }
    opd_drain_finish(d);
    k.tgid = (uint32_t)getpid();
    for (size_t i = 0; i < n; i++) {
        k.tid = k.tgid + 1 + (uint32_t)i;
        k.ustack = 1 + i % 4;
        name(i, k.comm);
        assert_int_equal(opd_drain_add_record(d, &k, i + 1), 0);
    }
    d->start_unix_ns = 1000000000ull;
    d->end_unix_ns = 6000000000ull;
}

static void worker_name(size_t i, char *comm)
{
    snprintf(comm, OPD_COMM_LEN, "worker-%zu", i);
}

/* Names without digits, all different: "t" and the index in letters. */
static void letter_name(size_t i, char *comm)
{
    size_t n = 0;

    comm[n++] = 't';
    do {
        comm[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    comm[n] = '\0';
}

/* Distinct attribute sets among the samples of p (each set as its sorted indices). */
static size_t attr_combinations(const struct opd_profile *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_samples; i++) {
        bool seen = false;

        for (size_t j = 0; j < i && !seen; j++)
            seen = p->samples[j].n_attr == p->samples[i].n_attr &&
                   !memcmp(p->samples[j].attr_indices, p->samples[i].attr_indices,
                           p->samples[i].n_attr * sizeof(int32_t));
        n += !seen;
    }
    return n;
}

/* 2,000 threads: with the defaults a profile has at most max_thread_names + 1 (32 + 1)
 * attribute combinations, whatever the names; samples left alike are merged. */
static void test_build_thread_bound(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000000000ull};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    struct opd_build_params p = {.tab = tab, .samples_per_second = 19, .now = 1};
    const struct opd_sample_attrs all = {
        .thread_name = true, .thread_id = true, .string_values = true};
    uint64_t want = 2000 * 2001 / 2, total = 0, other = 0;
    const struct opd_profile *prof;
    const struct opd_value *pid;
    struct opd_drain d;
    struct opd_batch *b;
    char err[256];

    (void)state;
    fill_threads(&d, 2000, worker_name);
    b = opd_profiling_build(&p, &d, NULL);
    assert_non_null(b);
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
    prof = &b->resources[0].scopes[0].profiles[0];
    assert_int_equal(attr_combinations(prof), 1);
    assert_int_equal(prof->n_samples, 4);
    for (size_t i = 0; i < prof->n_samples; i++) {
        assert_int_equal(prof->samples[i].n_attr, 1);
        assert_string_equal(sample_attr(b, &prof->samples[i], "thread.name", NULL), "worker-*");
        total += (uint64_t)prof->samples[i].values[0];
    }
    assert_int_equal(total, want);
    printf("2000 threads worker-N, defaults: %zu attribute combination(s), %zu samples\n",
           attr_combinations(prof), prof->n_samples);
    opd_batch_unref(b);
    opd_drain_fini(&d);

    /* Names normalization cannot fold: the 32 heaviest keep theirs, the rest are one. */
    fill_threads(&d, 2000, letter_name);
    b = opd_profiling_build(&p, &d, NULL);
    assert_non_null(b);
    prof = &b->resources[0].scopes[0].profiles[0];
    assert_int_equal(attr_combinations(prof), 33);
    total = 0;
    for (size_t i = 0; i < prof->n_samples; i++) {
        const char *name = sample_attr(b, &prof->samples[i], "thread.name", NULL);
        uint64_t v = (uint64_t)prof->samples[i].values[0];
        char heavy[OPD_COMM_LEN];

        total += v;
        if (strcmp(name, "[other]") == 0) {
            other += v;
            continue;
        }
        /* Thread k weighs k + 1: the kept ones are 1968 .. 1999. */
        letter_name(1999 - (2000 - v), heavy);
        assert_string_equal(name, heavy);
    }
    assert_int_equal(total, want);
    assert_int_equal(other, 1968 * 1969 / 2);
    printf("2000 threads with 2000 distinct names, defaults: %zu attribute combinations\n",
           attr_combinations(prof));
    opd_batch_unref(b);

    /* Everything asked for, as strings: one combination per thread. */
    p.attrs = &all;
    b = opd_profiling_build(&p, &d, NULL);
    assert_non_null(b);
    prof = &b->resources[0].scopes[0].profiles[0];
    assert_int_equal(attr_combinations(prof), 2000);
    assert_non_null(sample_attr(b, &prof->samples[0], "thread.id", NULL));
    assert_true(sample_attr(b, &prof->samples[0], "thread.id", NULL)[0] != '\0');
    pid = opd_attrs_get(&b->resources[0].attrs, "process.pid");
    assert_non_null(pid);
    assert_int_equal(pid->type, OPD_VAL_STR);
    assert_int_equal(strtol(pid->u.str, NULL, 10), getpid());
    opd_batch_unref(b);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

/* Every allocation of a build fails once in turn: NULL with ENOMEM, no crash, no leak
 * (the sanitizer build checks the latter). */
static void test_build_enomem(void **state)
{
    struct opd_proctab_config pc = {.grace_ns = 1000000000ull};
    struct opd_proctab *tab = opd_proctab_create(&pc, NULL, "test");
    struct opd_build_params p = {.tab = tab, .samples_per_second = 19, .now = 1};
    struct opd_drain d;
    int failures = 0;

    (void)state;
    fill_drain(&d);
    /* Warm the process table so its own allocations are not what we count. */
    opd_batch_unref(opd_profiling_build(&p, &d, NULL));
    for (long n = 0; n < 2000; n++) {
        struct opd_batch *b;

        opd_mem_fail_countdown = n;
        b = opd_profiling_build(&p, &d, NULL);
        opd_mem_fail_countdown = -1;
        if (b) {
            opd_batch_unref(b);
            break;
        }
        assert_int_equal(errno, ENOMEM);
        failures++;
    }
    assert_true(failures > 10);
    opd_drain_fini(&d);
    opd_proctab_destroy(tab);
}

/* ---- scope filter rule ------------------------------------------------------------------ */

static void test_cgroup_match(void **state)
{
    (void)state;
    assert_true(opd_prof_filter_cgroup_match("/kubepods.slice", "/kubepods.slice"));
    assert_true(opd_prof_filter_cgroup_match("/kubepods.slice", "/kubepods.slice/pod1"));
    assert_true(opd_prof_filter_cgroup_match("/kubepods.slice/", "/kubepods.slice/pod1"));
    assert_true(opd_prof_filter_cgroup_match("/kubepods.slice/kubepods-besteffort",
                                             "/kubepods.slice/kubepods-besteffort.slice"));
    assert_false(opd_prof_filter_cgroup_match("/system.slice", "/user.slice/x"));
    assert_true(opd_prof_filter_cgroup_match("/", "/anything"));
}

/* ---- config map ------------------------------------------------------------------------- */

static void test_config(void **state)
{
    const struct opd_factory *f = &opd_profiling_receiver_factory;
    struct opd_profiling_config cfg;
    char err[256];
    char *bad_pid[] = {"12x"};
    char *bad_re[] = {"(unclosed"};
    char *rel[] = {"kubepods.slice"};

    (void)state;
    assert_string_equal(f->type, "profiling");
    assert_int_equal(f->kind, OPD_KIND_RECEIVER);
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(opd_config_defaults(f->config_map, &cfg), 0);
    assert_int_equal(cfg.samples_per_second, 19);
    assert_int_equal(cfg.reporter_interval, 5000000000LL);
    assert_true(cfg.kernel_frames);
    assert_int_equal(cfg.max_frames, 127);
    assert_string_equal(cfg.event, "cpu-clock");
    assert_true(cfg.symbolization.enabled);
    assert_int_equal(cfg.symbolization.cache_size, 64LL << 20);
    assert_int_equal(cfg.symbolization.debug_dirs.n, 1);
    assert_string_equal(cfg.symbolization.debug_dirs.v[0], "/usr/lib/debug");
    assert_false(cfg.off_cpu);
    assert_int_equal(cfg.sample_attributes.n, 1);
    assert_string_equal(cfg.sample_attributes.v[0], "thread.name");
    assert_string_equal(cfg.thread_names, "normalized");
    assert_int_equal(cfg.max_thread_names, 32);
    assert_false(cfg.string_attributes);
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), 0);
    {
        struct opd_sample_attrs sa;
        char *cpu[] = {"thread.id", "cpu.logical_number"};
        struct opd_strlist l = {.v = cpu, .n = 2};

        assert_int_equal(opd_sample_attrs_from_config(&cfg.sample_attributes, cfg.thread_names,
                                                      cfg.max_thread_names, cfg.string_attributes,
                                                      &sa, err, sizeof(err)),
                         0);
        assert_memory_equal(&sa, &opd_sample_attrs_default, sizeof(sa));
        assert_int_equal(opd_sample_attrs_from_config(&l, "raw", 0, true, &sa, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "cpu.logical_number"));
        l.n = 1;
        assert_int_equal(opd_sample_attrs_from_config(&l, "raw", 0, true, &sa, err, sizeof(err)),
                         0);
        assert_true(sa.thread_id && !sa.thread_name && !sa.normalize_thread_names &&
                    sa.string_values && sa.max_thread_names == 0);
    }

    cfg.off_cpu = true;
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "off_cpu"));
    cfg.off_cpu = false;

    cfg.include.pids.v = bad_pid;
    cfg.include.pids.n = 1;
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "include.pids"));
    cfg.include.pids.n = 0;

    cfg.exclude.comm.v = bad_re;
    cfg.exclude.comm.n = 1;
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "exclude.comm"));
    cfg.exclude.comm.n = 0;

    cfg.include.cgroup_prefixes.v = rel;
    cfg.include.cgroup_prefixes.n = 1;
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "must start with '/'"));
    cfg.include.cgroup_prefixes.n = 0;
    cfg.include.cgroup_prefixes.v = NULL;
    cfg.include.pids.v = NULL;
    cfg.exclude.comm.v = NULL;

    opd_config_release(f->config_map, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpus_parse),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_drain_store),
        cmocka_unit_test(test_drain_deep_stacks),
        cmocka_unit_test(test_build_shape),
        cmocka_unit_test(test_build_comm_filter),
        cmocka_unit_test(test_build_empty),
        cmocka_unit_test(test_thread_name_normalize),
        cmocka_unit_test(test_build_thread_bound),
        cmocka_unit_test(test_build_enomem),
        cmocka_unit_test(test_cgroup_match),
        cmocka_unit_test(test_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
