/* The unwind worker's queue and thread (collector/receivers/profiling/unwind_worker.c)
 * with recording ops instead of the glue: requests are carried out on the worker's thread,
 * a pid queued twice is published once (an exec wins), a full queue counts what it refuses
 * and never blocks the caller, the poll runs without requests, and destroy joins. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/receivers/profiling/unwind_worker.h"
#include "collector/telemetry.h"

struct rec {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool hold;          /* sync blocks while set (a long table build) */
    bool in_sync;       /* the worker is inside a held sync */
    uint32_t sync[64], exec[64];
    size_t n_sync, n_exec, n_poll;
    pthread_t worker;   /* thread the ops ran on */
};

static int rec_sync(void *arg, uint32_t pid)
{
    struct rec *r = arg;

    pthread_mutex_lock(&r->lock);
    r->worker = pthread_self();
    if (r->n_sync < 64)
        r->sync[r->n_sync++] = pid;
    r->in_sync = true;
    pthread_cond_broadcast(&r->cond);
    while (r->hold)
        pthread_cond_wait(&r->cond, &r->lock);
    r->in_sync = false;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int rec_exec(void *arg, uint32_t pid)
{
    struct rec *r = arg;

    pthread_mutex_lock(&r->lock);
    if (r->n_exec < 64)
        r->exec[r->n_exec++] = pid;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void rec_poll(void *arg)
{
    struct rec *r = arg;

    pthread_mutex_lock(&r->lock);
    r->n_poll++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits (at most 5 s) until *count reaches want. */
static bool wait_count(struct rec *r, const size_t *count, size_t want)
{
    struct timespec dl;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&r->lock);
    while (*count < want && pthread_cond_timedwait(&r->cond, &r->lock, &dl) == 0)
        ;
    ok = *count >= want;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
}

static void rec_fini(struct rec *r)
{
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

static void test_requests_on_worker_thread(void **state)
{
    struct rec r;
    struct opd_unwind_worker_ops ops = {rec_sync, rec_exec, rec_poll, &r};
    struct opd_unwind_worker *w;

    (void)state;
    rec_init(&r);
    w = opd_unwind_worker_create(&ops, 16, NULL, "profiling");
    assert_non_null(w);
    opd_unwind_worker_push(w, 10, false, 0);
    opd_unwind_worker_push(w, 11, true, 0);
    assert_true(wait_count(&r, &r.n_sync, 1));
    assert_true(wait_count(&r, &r.n_exec, 1));
    assert_int_equal(r.sync[0], 10);
    assert_int_equal(r.exec[0], 11);
    assert_false(pthread_equal(r.worker, pthread_self()));
    /* Without requests the worker still polls for walks that met unpublished code. */
    assert_true(wait_count(&r, &r.n_poll, 3));
    opd_unwind_worker_destroy(w);
    rec_fini(&r);
}

static void test_full_queue_counts_and_dedupes(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct rec r;
    struct opd_unwind_worker_ops ops = {rec_sync, rec_exec, rec_poll, &r};
    struct opd_unwind_worker *w;
    struct opd_metric *dropped;

    (void)state;
    assert_non_null(tel);
    rec_init(&r);
    r.hold = true;
    w = opd_unwind_worker_create(&ops, 4, tel, "profiling");
    assert_non_null(w);
    /* The worker is stuck in a long build: the caller must not be. */
    opd_unwind_worker_push(w, 1, false, 0);
    assert_true(wait_count(&r, &r.n_sync, 1));
    opd_unwind_worker_push(w, 2, false, 0);
    opd_unwind_worker_push(w, 3, false, 0);
    opd_unwind_worker_push(w, 2, true, 0); /* queued already: becomes an exec, no new slot */
    opd_unwind_worker_push(w, 4, false, 0);
    opd_unwind_worker_push(w, 5, false, 0);
    opd_unwind_worker_push(w, 6, false, 0); /* fifth waiting pid: the queue holds 4 */
    opd_unwind_worker_push(w, 7, false, 0);
    dropped = opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_requests_dropped",
                                   "receiver=\"profiling\"", "");
    assert_non_null(dropped);
    assert_int_equal(opd_metric_get(dropped), 2);
    pthread_mutex_lock(&r.lock);
    r.hold = false;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    assert_true(wait_count(&r, &r.n_sync, 4)); /* 1, then 3, 4, 5 */
    assert_true(wait_count(&r, &r.n_exec, 1));
    assert_int_equal(r.exec[0], 2);
    assert_int_equal(r.sync[1], 3);
    assert_int_equal(r.sync[2], 4);
    assert_int_equal(r.sync[3], 5);
    opd_unwind_worker_destroy(w);
    assert_int_equal(r.n_sync, 4);
    rec_fini(&r);
    opd_telemetry_destroy(tel);
}

static int64_t metric(struct opd_telemetry *tel, const char *name, const char *labels)
{
    struct opd_metric *m = opd_telemetry_metric(tel, OPD_METRIC_COUNTER, name, labels, "");

    assert_non_null(m);
    return opd_metric_get(m);
}

/* A new process's first sample was taken 40 ms before its request: once published, the
 * histogram counts it above the 25 ms bucket (how far above depends on the host's load).
 * A request without a first sample (an exec, a rediscovered pid) is not measured. */
static void test_publish_latency(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct rec r;
    struct opd_unwind_worker_ops ops = {rec_sync, rec_exec, rec_poll, &r};
    struct opd_unwind_worker *w;
    struct timespec ts;
    uint64_t now;
    const char *b = "otelprofd_unwind_tables_published_within";

    (void)state;
    assert_non_null(tel);
    rec_init(&r);
    w = opd_unwind_worker_create(&ops, 4, tel, "profiling");
    assert_non_null(w);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    opd_unwind_worker_push(w, 21, false, now - 40000000ull);
    opd_unwind_worker_push(w, 22, false, 0);
    assert_true(wait_count(&r, &r.n_sync, 2));
    opd_unwind_worker_destroy(w);
    assert_int_equal(metric(tel, "otelprofd_unwind_tables_published",
                            "receiver=\"profiling\""), 1);
    assert_int_equal(metric(tel, b, "receiver=\"profiling\",le=\"0.025\""), 0);
    assert_int_equal(metric(tel, b, "receiver=\"profiling\",le=\"+Inf\""), 1);
    assert_true(metric(tel, "otelprofd_unwind_publish_latency_microseconds",
                       "receiver=\"profiling\"") >= 40000);
    rec_fini(&r);
    opd_telemetry_destroy(tel);
}

static void test_destroy_joins_a_running_build(void **state)
{
    struct rec r;
    struct opd_unwind_worker_ops ops = {rec_sync, rec_exec, rec_poll, &r};
    struct opd_unwind_worker *w;

    (void)state;
    rec_init(&r);
    r.hold = true;
    w = opd_unwind_worker_create(&ops, 4, NULL, NULL);
    assert_non_null(w);
    opd_unwind_worker_push(w, 9, false, 0);
    assert_true(wait_count(&r, &r.n_sync, 1));
    opd_unwind_worker_push(w, 8, false, 0);
    pthread_mutex_lock(&r.lock);
    r.hold = false;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    opd_unwind_worker_destroy(w); /* returns once the build is over; 8 may or may not run */
    assert_false(r.in_sync);
    opd_unwind_worker_destroy(NULL);
    rec_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_on_worker_thread),
        cmocka_unit_test(test_full_queue_counts_and_dedupes),
        cmocka_unit_test(test_publish_latency),
        cmocka_unit_test(test_destroy_joins_a_running_build),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
