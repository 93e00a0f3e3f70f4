/* Allocation profiling in user space (no BPF needed): the random interval table, the
 * pprof-style scaling of sampled allocations, allocator file recognition and the
 * receiver's memory config section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "collector/receivers/profiling/alloc.h"
#include "collector/receivers/profiling/receiver.h"
#include "config/config_map.h"
#include "config/errors.h"
#include "config/node.h"

static void test_intervals(void **state)
{
    uint64_t iv[OPD_ALLOC_INTERVALS];
    double sum = 0;

    (void)state;
    opd_alloc_intervals(524288, iv);
    for (size_t i = 0; i < OPD_ALLOC_INTERVALS; i++) {
        assert_true(iv[i] >= 1);
        if (i)
            assert_true(iv[i] <= iv[i - 1]); /* quantiles of a decreasing transform */
        sum += (double)iv[i];
    }
    /* The mean of the table is the configured mean (within the discretisation). */
    assert_true(fabs(sum / OPD_ALLOC_INTERVALS - 524288) < 0.02 * 524288);
    /* Spread like an exponential: the median is mean × ln 2. */
    assert_true(fabs((double)iv[OPD_ALLOC_INTERVALS / 2] - 524288 * log(2)) < 0.05 * 524288);
    /* A tiny mean never yields 0 (which would sample every call forever). */
    opd_alloc_intervals(1, iv);
    for (size_t i = 0; i < OPD_ALLOC_INTERVALS; i++)
        assert_true(iv[i] >= 1);
}

static void test_scale(void **state)
{
    uint64_t objects, space;

    (void)state;
    /* Blocks much larger than the rate are always sampled: no scaling. */
    opd_alloc_scale(10, 10 * 100000000ull, 65536, &objects, &space);
    assert_int_equal(objects, 10);
    assert_int_equal(space, 1000000000ull);
    /* Small blocks: each sample stands for about rate / size blocks. 1 KiB at 64 KiB:
     * 1 / (1 - exp(-1/64)) = 64.5. */
    opd_alloc_scale(100, 100 * 1024, 65536, &objects, &space);
    assert_true(objects >= 6440 && objects <= 6460);
    assert_true(space >= 6440 * 1024 && space <= 6460 * 1024);
    /* Nothing sampled, or no rate: values unchanged. */
    opd_alloc_scale(0, 0, 65536, &objects, &space);
    assert_int_equal(objects, 0);
    assert_int_equal(space, 0);
    opd_alloc_scale(3, 300, 0, &objects, &space);
    assert_int_equal(objects, 3);
    assert_int_equal(space, 300);
}

static void test_is_allocator(void **state)
{
    (void)state;
    assert_true(opd_alloc_is_allocator("/usr/lib/x86_64-linux-gnu/libc.so.6"));
    assert_true(opd_alloc_is_allocator("/lib64/libc-2.31.so"));
    assert_true(opd_alloc_is_allocator("/usr/lib/libjemalloc.so.2"));
    assert_true(opd_alloc_is_allocator("/usr/lib/libtcmalloc.so.4"));
    assert_true(opd_alloc_is_allocator("/usr/lib/libtcmalloc_minimal.so.4.5.9"));
    assert_true(opd_alloc_is_allocator("/usr/lib/libtcmalloc_minimal_debug.so.4"));
    assert_false(opd_alloc_is_allocator("/usr/lib/libjemalloc.a"));
    assert_true(opd_alloc_is_allocator("libc.so.6"));
    assert_false(opd_alloc_is_allocator("/usr/lib/libc-client.so.2007e"));
    assert_false(opd_alloc_is_allocator("/usr/lib/libcrypto.so.3"));
    assert_false(opd_alloc_is_allocator("/usr/bin/python3"));
    assert_false(opd_alloc_is_allocator("/opt/libc.so.6/evil/libm.so.6"));
    assert_false(opd_alloc_is_allocator(""));
}

static const struct opd_factory *f = &opd_profiling_receiver_factory;

/* Parses yaml into cfg (defaults first); returns the number of binding errors. */
static size_t parse(const char *yaml, struct opd_profiling_config *cfg)
{
    struct opd_cfg_errors errs;
    struct opd_node *root;
    size_t n;

    memset(cfg, 0, sizeof(*cfg));
    assert_int_equal(opd_config_defaults(f->config_map, cfg), 0);
    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse("t.yaml", yaml, strlen(yaml), &errs);
    assert_non_null(root);
    opd_config_bind(f->config_map, root, cfg, "receivers::profiling", &errs);
    n = opd_cfg_errors_count(&errs);
    opd_node_destroy(root);
    opd_cfg_errors_fini(&errs);
    return n;
}

static void test_config(void **state)
{
    struct opd_profiling_config cfg;
    char err[512];

    (void)state;
    /* Defaults: memory profiling off, 512 KiB, off-CPU off. */
    assert_int_equal(parse("{}", &cfg), 0);
    assert_false(cfg.memory.enabled);
    assert_int_equal(cfg.memory.sample_bytes, 512 * 1024);
    assert_true(cfg.off_cpu_threshold == 0);
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), 0);
    opd_config_release(f->config_map, &cfg);

    assert_int_equal(parse("off_cpu_threshold: 0.25\nmemory:\n  enabled: true\n"
                           "  sample_bytes: 64KiB\n  include:\n    comm: ['^app$']\n",
                           &cfg),
                     0);
    assert_true(cfg.memory.enabled);
    assert_int_equal(cfg.memory.sample_bytes, 65536);
    assert_true(cfg.off_cpu_threshold == 0.25);
    assert_int_equal(cfg.memory.include.comm.n, 1);
    assert_int_equal(f->validate(&cfg, err, sizeof(err)), 0);
    opd_config_release(f->config_map, &cfg);

    /* Out of range, unknown keys, bad scope entries: clear errors. */
    assert_int_not_equal(parse("off_cpu_threshold: 2\n", &cfg), 0);
    opd_config_release(f->config_map, &cfg);
    assert_int_not_equal(parse("memory:\n  sample_bytes: 0\n", &cfg), 0);
    opd_config_release(f->config_map, &cfg);
    assert_int_not_equal(parse("memory:\n  rate: 1\n", &cfg), 0);
    opd_config_release(f->config_map, &cfg);
    assert_int_equal(parse("memory:\n  include:\n    comm: ['(']\n", &cfg), 0);
    assert_int_not_equal(f->validate(&cfg, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "memory.include.comm"));
    opd_config_release(f->config_map, &cfg);
    assert_int_equal(parse("memory:\n  include:\n    cgroup_prefixes: ['/a']\n", &cfg), 0);
    assert_int_not_equal(f->validate(&cfg, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "cgroup_prefixes"));
    opd_config_release(f->config_map, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_is_allocator),
        cmocka_unit_test(test_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
