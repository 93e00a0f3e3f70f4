/* BPF map memory (bpf_memory.h): the estimate against figures a 6.18 kernel reported for the
 * receiver's own maps, against the kernel itself for maps of every type the receiver uses
 * (when this process may create maps and the kernel reports usage: fdinfo memlock, >= 6.4),
 * including maps that allocate on insert, estimated from their entries; and the sizing of
 * the counts, stacks and unwind maps to a limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "collector/receivers/profiling/bpf_memory.h"

static void assert_near(uint64_t got, uint64_t want, double tolerance, int which)
{
    double d = (double)got - (double)want;

    if (d < 0)
        d = -d;
    if (d > tolerance * (double)want)
        fail_msg("case %d: estimate %llu, kernel %llu (off by %.2f %%)", which,
                 (unsigned long long)got, (unsigned long long)want, 100.0 * d / (double)want);
}

/* Figures read from /proc/self/fdinfo of otelprofd's maps on 6.18 with 2 possible CPUs. */
static void test_estimate_recorded(void **state)
{
    struct opd_bpf_map_shape stacks = {BPF_MAP_TYPE_HASH, 8, 1024, 4096, 0};
    struct opd_bpf_map_shape counts = {BPF_MAP_TYPE_HASH, 48, 8, 4096, 0};
    struct opd_bpf_map_shape seen = {BPF_MAP_TYPE_LRU_HASH, 4, 4, 16384, 0};

    (void)state;
    assert_near(opd_bpf_map_estimate(&stacks, 2, 0), 4492288, 0.01, 0);
    assert_near(opd_bpf_map_estimate(&counts, 2, 0), 492640, 0.01, 1);
    assert_near(opd_bpf_map_estimate(&seen, 2, 0), 1311616, 0.01, 2);
}

static uint64_t memlock(int fd)
{
    char path[64], line[256];
    long long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "memlock: %lld", &v) == 1)
            break;
    fclose(f);
    assert_true(v >= 0);
    return (uint64_t)v;
}

/* The kernel's own figure for maps created here, when it gives one. */
static void test_estimate_vs_kernel(void **state)
{
    static const struct {
        struct opd_bpf_map_shape m;
        uint32_t fill; /* entries inserted (maps that allocate on insert) */
        double tolerance;
    } cases[] = {
        {{BPF_MAP_TYPE_HASH, 8, 1032, 2048, 0}, 0, 0.02},
        {{BPF_MAP_TYPE_HASH, 4, 4, 4096, 0}, 0, 0.02},
        {{BPF_MAP_TYPE_LRU_HASH, 8, 16, 8192, 0}, 0, 0.02},
        {{BPF_MAP_TYPE_ARRAY, 4, 16, 65536, 0}, 0, 0.02},
        {{BPF_MAP_TYPE_PERCPU_ARRAY, 4, 1032, 1, 0}, 0, 0.10},
        {{BPF_MAP_TYPE_RINGBUF, 0, 0, 65536, 0}, 0, 0.10},
        {{BPF_MAP_TYPE_HASH, 8, 64, 4096, BPF_F_NO_PREALLOC}, 1000, 0.10},
        {{BPF_MAP_TYPE_LPM_TRIE, 16, 24, 4096, BPF_F_NO_PREALLOC}, 1000, 0.25},
    };
    struct utsname u;
    unsigned major = 0, minor = 0;
    int ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);

    (void)state;
    if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2 ||
        (major < 6 || (major == 6 && minor < 4)))
        skip(); /* memlock is the real usage from 6.4 on */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct opd_bpf_map_shape *m = &cases[i].m;
        LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = m->map_flags);
        int fd = bpf_map_create(m->type, NULL, m->key_size, m->value_size, m->max_entries, &o);
        uint8_t key[16] = {0}, val[1032] = {0};

        if (fd < 0 && (errno == EPERM || errno == EACCES))
            skip(); /* not allowed to create maps here */
        assert_true(fd >= 0);
        for (uint32_t k = 0; k < cases[i].fill; k++) {
            if (m->type == BPF_MAP_TYPE_LPM_TRIE) {
                uint32_t prefix = 96;

                memcpy(key, &prefix, 4);
                memcpy(key + 4, &k, 4);
            } else {
                memcpy(key, &k, 4);
            }
            assert_int_equal(bpf_map_update_elem(fd, key, val, BPF_ANY), 0);
        }
        assert_near(opd_bpf_map_estimate(m, ncpus, cases[i].fill), memlock(fd),
                    cases[i].tolerance, (int)i);
        close(fd);
    }
}

static struct opd_bpf_sizing sizing(uint64_t limit)
{
    return (struct opd_bpf_sizing){
        .limit = limit,
        .fixed = 8u << 20,
        .ncpus = 2,
        .count_entries = 16384,
        .count_key_size = 48,
        .stack_entries = 8192,
        .stack_value_size = 1024,
        .unwind_bytes = 64u << 20,
        .unwind_row_size = 16,
    };
}

static void test_fit(void **state)
{
    struct opd_bpf_sizing s = sizing(0);
    char err[512] = "";
    uint64_t full = opd_bpf_sizing_bytes(&s);

    (void)state;
    /* No limit, or one that holds everything: unchanged. */
    assert_int_equal(opd_bpf_sizing_fit(&s, err, sizeof(err)), 0);
    s.limit = full;
    assert_int_equal(opd_bpf_sizing_fit(&s, err, sizeof(err)), 0);
    assert_int_equal(s.unwind_bytes, 64u << 20);
    assert_int_equal(s.stack_entries, 8192);

    /* 48 MiB: the unwind tables, the largest, shrink first; the result fits. */
    s = sizing(48u << 20);
    assert_int_equal(opd_bpf_sizing_fit(&s, err, sizeof(err)), 0);
    assert_true(opd_bpf_sizing_bytes(&s) <= 48u << 20);
    assert_true(s.unwind_bytes < 64u << 20);
    assert_int_equal(s.count_entries, 16384);

    /* 12 MiB: everything at or near its smallest. */
    s = sizing(12u << 20);
    assert_int_equal(opd_bpf_sizing_fit(&s, err, sizeof(err)), 0);
    assert_true(opd_bpf_sizing_bytes(&s) <= 12u << 20);
    assert_true(s.stack_entries < 8192);

    /* 8 MiB: the fixed maps alone take that; a clear error. */
    s = sizing(8u << 20);
    assert_int_equal(opd_bpf_sizing_fit(&s, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "bpf_memory_limit_mib 8 MiB cannot hold the BPF maps"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_estimate_recorded),
        cmocka_unit_test(test_estimate_vs_kernel),
        cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
