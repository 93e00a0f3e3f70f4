/* Privileged test of the sampler core without the pipeline: load, attach to every CPU,
 * spin a child for a known CPU time, drain twice and check that the child's samples,
 * stacks and the kernel counters add up, and that the pid filter keeps it out.
 * Exits 77 (skip) with a reason when the host does not allow BPF sampling. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/receivers/profiling/preflight.h"
#include "collector/receivers/profiling/sampler.h"

#define HZ 199

static volatile unsigned long sink;

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spin(double seconds)
{
    double end = cpu_now() + seconds;

    while (cpu_now() < end)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i * 7;
}

static pid_t spawn_spinner(double seconds)
{
    pid_t pid = fork();

    if (pid == 0) {
        spin(seconds);
        _exit(0);
    }
    return pid;
}

static int fail(const char *what)
{
    fprintf(stderr, "FAIL: %s\n", what);
    return 1;
}

static uint64_t child_samples(const struct opd_drain *d, pid_t pid, uint64_t *with_ustack)
{
    uint64_t n = 0;

    *with_ustack = 0;
    for (size_t i = 0; i < d->n_recs; i++) {
        const struct opd_drain_record *r = &d->recs[i];

        if (r->key.tgid != (uint32_t)pid)
            continue;
        n += r->count;
        if (opd_drain_stack(d, r->key.ustack))
            *with_ustack += r->count;
    }
    return n;
}

int main(void)
{
    struct opd_preflight_facts facts;
    struct opd_sampler_opts opts = {
        .who = "test/sampler",
        .samples_per_second = HZ,
        .kernel_frames = true,
        .max_frames = OPD_MAX_FRAMES,
    };
    uint64_t before[OPD_CNT__MAX], after[OPD_CNT__MAX], n, ustk, drained = 0;
    struct opd_sampler *s;
    struct opd_drain d;
    struct rusage ru;
    double cpu_s;
    char err[512], warn[512];
    int rc = 1, status;
    pid_t child;

    setvbuf(stdout, NULL, _IONBF, 0);
    if (opd_preflight_gather(&facts) ||
        opd_preflight_check(&facts, err, sizeof(err), warn, sizeof(warn))) {
        printf("SKIP: %s\n", err);
        return 77;
    }
    s = opd_sampler_create(&opts);
    if (!s) {
        printf("SKIP: cannot load the BPF sampler: %s\n", strerror(errno));
        return 77;
    }
    opd_drain_init(&d);
    if (opd_sampler_attach(s) <= 0) {
        rc = fail("attach");
        goto out;
    }
    if (opd_sampler_counters(s, before)) {
        rc = fail("counters");
        goto out;
    }

    /* 1: a child spinning for 1 s gets about HZ samples per CPU second it got (the host
     * may be busy), with user stacks. */
    child = spawn_spinner(1.0);
    if (wait4(child, &status, 0, &ru) != child) {
        rc = fail("wait4");
        goto out;
    }
    cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
    if (opd_sampler_drain(s, &d)) {
        rc = fail("drain");
        goto out;
    }
    n = child_samples(&d, child, &ustk);
    printf("child %d: %.3f s CPU, %llu samples (%llu with a user stack), %zu records, %zu stacks\n",
           child, cpu_s, (unsigned long long)n, (unsigned long long)ustk, d.n_recs, d.n_stacks);
    if (cpu_s < 0.2) {
        rc = fail("the child got almost no CPU");
        goto out;
    }
    if (n < 0.75 * HZ * cpu_s || n > 1.25 * HZ * cpu_s) {
        rc = fail("child sample count not within 25% of Hz x CPU seconds");
        goto out;
    }
    if (ustk < n * 9 / 10) {
        rc = fail("fewer than 90% of the child's samples have a user stack");
        goto out;
    }
    if (opd_sampler_counters(s, after)) {
        rc = fail("counters");
        goto out;
    }
    printf("kernel counters: samples %llu recorded %llu idle %llu filtered %llu map_full %llu "
           "ustack_fail %llu kstack_fail %llu\n",
           (unsigned long long)(after[OPD_CNT_SAMPLES] - before[OPD_CNT_SAMPLES]),
           (unsigned long long)(after[OPD_CNT_RECORDED] - before[OPD_CNT_RECORDED]),
           (unsigned long long)(after[OPD_CNT_IDLE] - before[OPD_CNT_IDLE]),
           (unsigned long long)(after[OPD_CNT_FILTERED] - before[OPD_CNT_FILTERED]),
           (unsigned long long)(after[OPD_CNT_MAP_FULL] - before[OPD_CNT_MAP_FULL]),
           (unsigned long long)(after[OPD_CNT_USTACK_FAIL] - before[OPD_CNT_USTACK_FAIL]),
           (unsigned long long)(after[OPD_CNT_KSTACK_FAIL] - before[OPD_CNT_KSTACK_FAIL]));
    /* Every recorded sample is in a drained record, give or take those taken after the
     * swap (they are in the new generation). */
    if (opd_drain_sample_count(&d) > after[OPD_CNT_RECORDED] - before[OPD_CNT_RECORDED]) {
        rc = fail("drained more samples than the kernel recorded");
        goto out;
    }

    /* 2: excluded by pid, the child is never recorded and counted as filtered. */
    drained += opd_drain_sample_count(&d);
    opd_drain_reset(&d);
    child = fork();
    if (child == 0) {
        /* Wait for the parent to install the filter before spinning. */
        usleep(200000);
        spin(0.5);
        _exit(0);
    }
    if (opd_sampler_filter_pid(s, (uint32_t)child, OPD_FILTER_EXCLUDE)) {
        rc = fail("filter");
        goto out;
    }
    opd_sampler_counters(s, before);
    if (wait4(child, &status, 0, &ru) != child) {
        rc = fail("wait4");
        goto out;
    }
    cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
            ru.ru_stime.tv_usec / 1e6;
    opd_sampler_counters(s, after);
    if (opd_sampler_drain(s, &d)) {
        rc = fail("drain 2");
        goto out;
    }
    n = child_samples(&d, child, &ustk);
    printf("excluded child %d: %.3f s CPU, %llu samples, %llu filtered\n", child, cpu_s,
           (unsigned long long)n,
           (unsigned long long)(after[OPD_CNT_FILTERED] - before[OPD_CNT_FILTERED]));
    /* Every sample of the child is counted as filtered (other threads are not). */
    if (n != 0 ||
        (double)(after[OPD_CNT_FILTERED] - before[OPD_CNT_FILTERED]) < 0.75 * HZ * cpu_s) {
        rc = fail("pid exclusion");
        goto out;
    }
    opd_sampler_filter_pid(s, (uint32_t)child, 0);
    drained += opd_drain_sample_count(&d);

    /* 3: nothing is lost between generations. With an include set that matches nothing,
     * recording stops; two more drains empty both generations, and everything the kernel
     * ever counted as recorded has come out of the drains. */
    opd_sampler_include_active(s, true);
    usleep(50000);
    opd_drain_reset(&d);
    if (opd_sampler_drain(s, &d) || opd_sampler_drain(s, &d) || opd_sampler_counters(s, after)) {
        rc = fail("final drains");
        goto out;
    }
    drained += opd_drain_sample_count(&d);
    printf("drained %llu samples in total, the kernel recorded %llu (map full: %llu)\n",
           (unsigned long long)drained, (unsigned long long)after[OPD_CNT_RECORDED],
           (unsigned long long)after[OPD_CNT_MAP_FULL]);
    if (drained != after[OPD_CNT_RECORDED] || after[OPD_CNT_MAP_FULL] != 0) {
        rc = fail("samples lost between the kernel and the drains");
        goto out;
    }
    printf("PASS\n");
    rc = 0;
out:
    opd_drain_fini(&d);
    opd_sampler_destroy(s);
    return rc;
}
