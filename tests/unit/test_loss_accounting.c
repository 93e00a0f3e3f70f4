/* Loss accounting harness: a real exporter helper (queue, retries, shutdown) driven
 * through every drop reason it owns, behind a stand-in receiver that counts what it
 * accepts the way receivers do (otelcol_receiver_accepted_profile_samples). At the end the
 * self-telemetry ledger must close exactly: entered = delivered + Σ dropped + pending,
 * with each reason's count exact. The kernel-side reasons (idle, filtered, map_full) come
 * from the profiling receiver's counters and are covered by test_selftelemetry's table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/engine/selftelemetry.h"
#include "collector/exporterhelper/exporterhelper.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool blocked, cancelled;

/* The first payload byte says what the fake destination does: 'o' accept, 'p' reject
 * permanently, 'r' fail retryably forever, 'b' hang until cancelled (then retryable). */
static int fake_send(void *ctx, const uint8_t *data, size_t len, uint64_t items,
                     struct opd_eh_send_status *st)
{
    switch (data[0]) {
    case 'o':
        return 0;
    case 'p':
        return -EINVAL;
    case 'r':
        return -EAGAIN;
    default:
        pthread_mutex_lock(&lock);
        blocked = true;
        pthread_cond_broadcast(&cond);
        while (!cancelled)
            pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        return -EAGAIN;
    }
}

static void fake_cancel(void *ctx)
{
    pthread_mutex_lock(&lock);
    cancelled = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

static struct opd_metric *accepted;

static int submit(struct opd_exporterhelper *eh, char what, uint64_t items)
{
    uint8_t *d = opd_malloc(1);

    assert_non_null(d);
    d[0] = (uint8_t)what;
    opd_metric_add(accepted, (int64_t)items); /* the receiver accepted them */
    return opd_eh_submit(eh, d, 1, items);
}

static int64_t value(struct opd_telemetry *t, const char *name, const char *labels)
{
    return opd_metric_get(opd_telemetry_find(t, name, labels));
}

/* Waits (up to 5 s) for a counter to reach want. */
static void wait_for(struct opd_telemetry *t, const char *name, const char *labels, int64_t want)
{
    for (int i = 0; i < 500 && value(t, name, labels) != want; i++)
        usleep(10000);
    assert_int_equal(value(t, name, labels), want);
}

static int64_t dropped(const struct opd_loss_row *r, const char *reason)
{
    for (size_t i = 0; i < r->n_dropped; i++)
        if (strcmp(r->dropped[i].reason, reason) == 0)
            return r->dropped[i].n;
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void test_every_exporter_drop_reason(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    /* Sized in items, so otelcol_exporter_queue_size counts samples. */
    struct opd_eh_queue_config q = {
        .enabled = true, .num_consumers = 1, .queue_size = 15, .sizer = "items"};
    struct opd_eh_retry_config r = {.enabled = true,
                                    .initial_interval_ns = 1000000,
                                    .max_interval_ns = 2000000,
                                    .max_elapsed_time_ns =
                                        1500000000, /* 'r' gives up after 1.5 s */
                                    .multiplier = 1.5};
    struct opd_eh_params p = {.who = "exporter/test",
                              .id = "test",
                              .telemetry = t,
                              .queue = &q,
                              .retry = &r,
                              .send = fake_send,
                              .cancel = fake_cancel};
    struct opd_exporterhelper *eh;
    struct opd_loss_row row;
    const char *l = "exporter=\"test\"";

    accepted = opd_telemetry_metric(t, OPD_METRIC_COUNTER, "otelcol_receiver_accepted_profile_samples",
                                    "receiver=\"fake\"", "accepted");
    eh = opd_eh_create(&p);
    assert_non_null(eh);
    assert_int_equal(opd_eh_start(eh, NULL), 0);

    assert_int_equal(submit(eh, 'o', 10), 0);
    wait_for(t, "otelcol_exporter_sent_profile_samples", l, 10);
    assert_int_equal(submit(eh, 'p', 20), 0);
    wait_for(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"test\",reason=\"permanent\"", 20);
    assert_int_equal(submit(eh, 'r', 30), 0);
    wait_for(t, "otelcol_exporter_dropped_profile_samples",
             "exporter=\"test\",reason=\"retries_exhausted\"", 30);
    /* The consumer hangs on 'b'; two more fill the queue; the next one finds it full. */
    assert_int_equal(submit(eh, 'b', 5), 0);
    pthread_mutex_lock(&lock);
    while (!blocked)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    assert_int_equal(submit(eh, 'o', 7), 0);
    assert_int_equal(submit(eh, 'o', 8), 0);
    assert_int_equal(submit(eh, 'o', 9), -ENOSPC);

    /* While it runs the ledger sees 15 queued and 5 in flight (unaccounted until done). */
    assert_int_equal(opd_loss_compute(t, &row, 1), 1);
    assert_int_equal(row.entered, 89);
    assert_int_equal(row.pending, 15);
    assert_int_equal(row.unaccounted, 5);

    /* Shutdown with a short deadline: the hung send is cancelled (well inside its retry
     * time, so it counts as a shutdown drop) and the queue is dropped. The ledger is read
     * once the helper is gone, so no consumer thread is still finishing. */
    opd_eh_shutdown(eh, now_ns() + 50000000ull);
    opd_eh_destroy(eh);
    assert_int_equal(opd_loss_compute(t, &row, 1), 1);
    assert_string_equal(row.exporter, "test");
    assert_int_equal(row.entered, 10 + 20 + 30 + 5 + 7 + 8 + 9);
    assert_int_equal(row.delivered, 10);
    assert_int_equal(dropped(&row, "permanent"), 20);
    assert_int_equal(dropped(&row, "retries_exhausted"), 30);
    assert_int_equal(dropped(&row, "queue_full"), 9);
    assert_int_equal(dropped(&row, "shutdown"), 5 + 7 + 8);
    assert_int_equal(row.pending, 0);
    assert_int_equal(row.unaccounted, 0);
    assert_int_equal(value(t, "otelcol_exporter_sent_profile_samples", l), 10);
    opd_telemetry_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_exporter_drop_reason),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
