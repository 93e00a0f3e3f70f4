/* Exporter helper: delivery and counting through the queue, retry and backoff, the
 * permanent/retryable split, queue overflow, the shutdown deadline, and the persistent
 * queue file (recovery after restart, torn and corrupt records skipped). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/exporterhelper/exporterhelper.h"
#include "collector/exporterhelper/pqueue.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

/* A scripted destination: returns script[i] for call i (0 after the script), optionally
 * holding every call until released. */
struct fake {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int script[16];
    size_t n_script, calls;
    bool hold;
    uint64_t delivered_items;
    size_t delivered_bytes;
    int64_t retry_after_ns;
};

static int fake_send(void *ctx, const uint8_t *data, size_t len, uint64_t items,
                     struct opd_eh_send_status *st)
{
    struct fake *f = ctx;
    int rc;

    pthread_mutex_lock(&f->lock);
    while (f->hold)
        pthread_cond_wait(&f->cond, &f->lock);
    rc = f->calls < f->n_script ? f->script[f->calls] : 0;
    f->calls++;
    if (rc == 0) {
        f->delivered_items += items;
        f->delivered_bytes += len;
    }
    st->retry_after_ns = f->retry_after_ns;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void fake_cancel(void *ctx)
{
    struct fake *f = ctx;

    pthread_mutex_lock(&f->lock);
    f->hold = false;
    /* What is cut off by the deadline comes back as retryable, as a cancelled call. */
    for (size_t i = f->calls; i < 16; i++)
        f->script[i] = -EAGAIN;
    f->n_script = 16;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static void fake_init(struct fake *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
}

static void fake_release(struct fake *f)
{
    pthread_mutex_lock(&f->lock);
    f->hold = false;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct env {
    struct opd_telemetry *tel;
    struct opd_eh_queue_config q;
    struct opd_eh_retry_config r;
    struct fake f;
    struct opd_exporterhelper *eh;
};

static void env_init(struct env *e, int consumers, int qsize, const char *sizer)
{
    memset(e, 0, sizeof(*e));
    e->tel = opd_telemetry_create();
    assert_non_null(e->tel);
    e->q = (struct opd_eh_queue_config){
        .enabled = true, .num_consumers = consumers, .queue_size = qsize, .sizer = (char *)sizer};
    e->r = (struct opd_eh_retry_config){.enabled = true,
                                        .initial_interval_ns = 1000000,
                                        .max_interval_ns = 4000000,
                                        .max_elapsed_time_ns = 2000000000LL,
                                        .multiplier = 2,
                                        .randomization_factor = 0.5};
    fake_init(&e->f);
}

static void env_create(struct env *e)
{
    struct opd_eh_params p = {.who = "exporter/test",
                              .id = "test",
                              .telemetry = e->tel,
                              .queue = &e->q,
                              .retry = &e->r,
                              .send = fake_send,
                              .cancel = fake_cancel,
                              .ctx = &e->f};
    e->eh = opd_eh_create(&p);
    assert_non_null(e->eh);
}

static int64_t metric(struct env *e, const char *name)
{
    return opd_metric_get(opd_telemetry_find(e->tel, name, "exporter=\"test\""));
}

static int64_t dropped(struct env *e, const char *reason)
{
    char l[128];
    snprintf(l, sizeof(l), "exporter=\"test\",reason=\"%s\"", reason);
    return opd_metric_get(opd_telemetry_find(e->tel, "otelcol_exporter_dropped_profile_samples", l));
}

static void env_fini(struct env *e)
{
    opd_eh_destroy(e->eh);
    opd_telemetry_destroy(e->tel);
}

static uint8_t *payload(size_t n, uint8_t fill)
{
    uint8_t *p = opd_malloc(n);
    assert_non_null(p);
    memset(p, fill, n);
    return p;
}

static void test_delivers_and_counts(void **state)
{
    struct env e;

    env_init(&e, 3, 100, "requests");
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(opd_eh_submit(e.eh, payload(10, (uint8_t)i), 10, 7), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(e.f.delivered_items, 140);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 140);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_bytes"), 200);
    assert_int_equal(metric(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    assert_int_equal(metric(&e, "otelcol_exporter_queue_capacity"), 100);
    assert_int_equal(metric(&e, "otelcol_exporter_queue_size"), 0);
    /* After shutdown nothing is taken. */
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 5), -ESHUTDOWN);
    assert_int_equal(dropped(&e, "shutdown"), 5);
    env_fini(&e);
}

static void test_retry_then_deliver(void **state)
{
    struct env e;

    env_init(&e, 1, 10, "requests");
    e.f.script[0] = e.f.script[1] = e.f.script[2] = -EAGAIN;
    e.f.n_script = 3;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(4, 1), 4, 3), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(e.f.calls, 4);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 3);
    assert_int_equal(metric(&e, "otelcol_exporter_send_retries"), 3);
    assert_int_equal(metric(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    env_fini(&e);
}

static void test_permanent_not_retried(void **state)
{
    struct env e;

    env_init(&e, 1, 10, "requests");
    e.f.script[0] = -EIO;
    e.f.n_script = 1;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(4, 1), 4, 9), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(e.f.calls, 1);
    assert_int_equal(metric(&e, "otelcol_exporter_send_failed_profile_samples"), 9);
    assert_int_equal(dropped(&e, "permanent"), 9);
    assert_int_equal(metric(&e, "otelcol_exporter_send_retries"), 0);
    env_fini(&e);
}

static void test_retries_exhausted(void **state)
{
    struct env e;

    env_init(&e, 1, 10, "requests");
    for (int i = 0; i < 16; i++)
        e.f.script[i] = -EAGAIN;
    e.f.n_script = 16;
    e.r.max_elapsed_time_ns = 20000000; /* 20 ms of 1..4 ms backoffs */
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(4, 1), 4, 2), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_true(e.f.calls >= 3 && e.f.calls < 16);
    assert_int_equal(dropped(&e, "retries_exhausted"), 2);
    assert_int_equal(metric(&e, "otelcol_exporter_send_failed_profile_samples"), 2);
    env_fini(&e);
}

static void test_queue_full_counted(void **state)
{
    struct env e;
    int full = 0;

    env_init(&e, 1, 30, "items");
    e.f.hold = true;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    /* The consumer takes the first request and blocks in send; 30 items then fit. */
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 10), 0);
    while (opd_eh_queue_size(e.eh) != 0)
        usleep(1000);
    for (int i = 0; i < 5; i++)
        if (opd_eh_submit(e.eh, payload(1, 0), 1, 10) == -ENOSPC)
            full++;
    assert_int_equal(full, 2);
    assert_int_equal(metric(&e, "otelcol_exporter_queue_size"), 30);
    assert_int_equal(metric(&e, "otelcol_exporter_enqueue_failed_profile_samples"), 20);
    assert_int_equal(dropped(&e, "queue_full"), 20);
    fake_release(&e.f);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 40);
    env_fini(&e);
}

struct submitter {
    struct env *e;
    int rc;
    bool done;
};

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    s->rc = opd_eh_submit(s->e->eh, payload(1, 0), 1, 3);
    __atomic_store_n(&s->done, true, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_block_on_overflow(void **state)
{
    struct env e;
    struct submitter s = {.e = &e};
    pthread_t t;

    env_init(&e, 1, 1, "requests");
    e.q.block_on_overflow = true;
    e.f.hold = true;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 3), 0); /* in flight */
    while (opd_eh_queue_size(e.eh) != 0)
        usleep(1000);
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 3), 0); /* queued: full */
    pthread_create(&t, NULL, submit_thread, &s);
    usleep(100000);
    /* The third waits for room instead of being dropped... */
    assert_false(__atomic_load_n(&s.done, __ATOMIC_SEQ_CST));
    assert_int_equal(dropped(&e, "queue_full"), 0);
    fake_release(&e.f);
    pthread_join(t, NULL);
    assert_int_equal(s.rc, 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 9);
    env_fini(&e);

    /* ...and a shutdown releases a blocked caller, counting its samples as dropped. */
    env_init(&e, 1, 1, "requests");
    e.q.block_on_overflow = true;
    e.f.hold = true;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 3), 0);
    while (opd_eh_queue_size(e.eh) != 0)
        usleep(1000);
    assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 3), 0);
    s.done = false;
    pthread_create(&t, NULL, submit_thread, &s);
    usleep(100000);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 50000000), -ETIMEDOUT);
    pthread_join(t, NULL);
    assert_int_equal(s.rc, -ESHUTDOWN);
    assert_int_equal(dropped(&e, "shutdown"), 9);
    env_fini(&e);
}

static void test_shutdown_deadline_drops(void **state)
{
    struct env e;
    uint64_t t0;

    env_init(&e, 1, 100, "requests");
    e.f.hold = true;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(opd_eh_submit(e.eh, payload(1, 0), 1, 5), 0);
    t0 = now_ns();
    assert_int_equal(opd_eh_shutdown(e.eh, t0 + 50000000), -ETIMEDOUT);
    assert_true(now_ns() - t0 < 2000000000ULL);
    /* Every sample is accounted for exactly once: none sent, all dropped at shutdown. */
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 0);
    assert_int_equal(dropped(&e, "shutdown"), 20);
    assert_int_equal(metric(&e, "otelcol_exporter_send_failed_profile_samples"), 20);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns()), 0); /* idempotent */
    env_fini(&e);
}

static void test_retry_after_honoured(void **state)
{
    struct env e;
    uint64_t t0;

    env_init(&e, 1, 10, "requests");
    e.f.script[0] = -EAGAIN;
    e.f.n_script = 1;
    e.f.retry_after_ns = 200000000; /* server asks for 200 ms; backoff alone is ~1 ms */
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    t0 = now_ns();
    assert_int_equal(opd_eh_submit(e.eh, payload(4, 1), 4, 1), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_true(now_ns() - t0 >= 200000000ULL);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 1);
    env_fini(&e);
}

static void test_backoff(void **state)
{
    struct opd_eh_retry_config r = {.enabled = true,
                                    .initial_interval_ns = 5000000000LL,
                                    .max_interval_ns = 30000000000LL,
                                    .multiplier = 1.5,
                                    .randomization_factor = 0.5};
    char err[128];

    assert_int_equal(opd_eh_backoff_ns(&r, 0, 0.0), 2500000000LL);
    assert_int_equal(opd_eh_backoff_ns(&r, 0, 0.5), 5000000000LL);
    assert_true(opd_eh_backoff_ns(&r, 0, 0.9999) < 7500000000LL);
    assert_int_equal(opd_eh_backoff_ns(&r, 1, 0.5), 7500000000LL);
    assert_int_equal(opd_eh_backoff_ns(&r, 50, 0.5), 30000000000LL);
    assert_int_equal(opd_eh_retry_config_check(&r, err, sizeof(err)), 0);
    r.multiplier = 0.5;
    assert_int_equal(opd_eh_retry_config_check(&r, err, sizeof(err)), -EINVAL);
}

/* ---- persistent queue ---------------------------------------------------------------- */

static char tmpdir[256];

static int setup_dir(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/opd-eh-test-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_pqueue_recover(void **state)
{
    char path[300];
    struct opd_pq_item *items;
    size_t n;
    uint64_t seq[3];
    struct opd_pqueue *q;

    snprintf(path, sizeof(path), "%s/a.queue", tmpdir);
    q = opd_pqueue_open(path, 0, true, "test", &items, &n);
    assert_non_null(q);
    assert_int_equal(n, 0);
    opd_pq_items_free(items, n);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"one", 3, 1, &seq[0]), 0);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"two", 3, 2, &seq[1]), 0);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"three", 5, 3, &seq[2]), 0);
    assert_int_equal(opd_pqueue_ack(q, seq[1]), 0);
    assert_int_equal(opd_pqueue_pending(q), 2);
    opd_pqueue_close(q);

    q = opd_pqueue_open(path, 0, false, "test", &items, &n);
    assert_non_null(q);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].items, 1);
    assert_memory_equal(items[0].data, "one", 3);
    assert_int_equal(items[1].items, 3);
    assert_memory_equal(items[1].data, "three", 5);
    /* New sequence numbers never collide with recovered ones. */
    uint64_t s;
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"x", 1, 1, &s), 0);
    assert_true(s > seq[2]);
    assert_int_equal(opd_pqueue_ack(q, items[0].seq), 0);
    assert_int_equal(opd_pqueue_ack(q, items[1].seq), 0);
    assert_int_equal(opd_pqueue_ack(q, s), 0);
    opd_pq_items_free(items, n);
    opd_pqueue_close(q);
    /* All acknowledged: the file is empty again. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_pqueue_torn_and_corrupt(void **state)
{
    char path[300];
    struct opd_pq_item *items;
    size_t n;
    uint64_t seq;
    struct opd_pqueue *q;
    struct stat st;
    int fd;

    snprintf(path, sizeof(path), "%s/b.queue", tmpdir);
    q = opd_pqueue_open(path, 0, false, "test", &items, &n);
    assert_non_null(q);
    opd_pq_items_free(items, n);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"aaaaaaaa", 8, 1, &seq), 0);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"bbbbbbbb", 8, 2, &seq), 0);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"cccccccc", 8, 3, &seq), 0);
    assert_int_equal(opd_pqueue_put(q, (const uint8_t *)"dddddddd", 8, 4, &seq), 0);
    opd_pqueue_close(q);
    /* Flip a payload byte of record 2 and cut record 4 in half (a torn last write). */
    assert_int_equal(stat(path, &st), 0);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 40 + 36), 1);
    assert_int_equal(ftruncate(fd, st.st_size - 6), 0);
    close(fd);

    q = opd_pqueue_open(path, 0, false, "test", &items, &n);
    assert_non_null(q);
    assert_int_equal(n, 2);
    assert_memory_equal(items[0].data, "aaaaaaaa", 8);
    assert_memory_equal(items[1].data, "cccccccc", 8);
    opd_pq_items_free(items, n);
    opd_pqueue_close(q);
    /* The bad regions were compacted away: a second open finds the same two, cleanly. */
    q = opd_pqueue_open(path, 0, false, "test", &items, &n);
    assert_int_equal(n, 2);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2 * (OPD_PQ_HEADER_SIZE + 8));
    opd_pq_items_free(items, n);
    opd_pqueue_close(q);
}

static void test_pqueue_bound(void **state)
{
    char path[300];
    struct opd_pq_item *items;
    size_t n;
    uint64_t seq;
    struct opd_pqueue *q;
    uint8_t buf[100] = {0};

    snprintf(path, sizeof(path), "%s/c.queue", tmpdir);
    q = opd_pqueue_open(path, 300, false, "test", &items, &n);
    assert_non_null(q);
    opd_pq_items_free(items, n);
    assert_int_equal(opd_pqueue_put(q, buf, sizeof(buf), 1, &seq), 0);
    assert_int_equal(opd_pqueue_put(q, buf, sizeof(buf), 1, &seq), 0);
    assert_int_equal(opd_pqueue_put(q, buf, sizeof(buf), 1, &seq), -ENOSPC);
    /* Once a request is retired its room comes back, although the log still holds it:
     * the queue compacts before it refuses. */
    assert_int_equal(opd_pqueue_ack(q, seq - 1), 0);
    assert_int_equal(opd_pqueue_put(q, buf, sizeof(buf), 2, &seq), 0);
    assert_int_equal(opd_pqueue_pending(q), 2);
    opd_pqueue_close(q);
    q = opd_pqueue_open(path, 300, false, "test", &items, &n);
    assert_non_null(q);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].items, 1);
    assert_int_equal(items[1].items, 2);
    opd_pq_items_free(items, n);
    opd_pqueue_close(q);
}

static void test_scan_garbage(void **state)
{
    struct opd_pq_scan_stats st;
    uint8_t junk[4096];
    uint8_t rec[OPD_PQ_HEADER_SIZE + 3];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(opd_pq_scan(junk, sizeof(junk), &st, NULL, NULL), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.corrupt, 1);
    /* A header claiming a huge payload is not believed. */
    opd_pq_header(rec, OPD_PQ_PUT, 1, 1, (const uint8_t *)"abc", 3);
    memcpy(rec + OPD_PQ_HEADER_SIZE, "abc", 3);
    assert_int_equal(opd_pq_scan(rec, sizeof(rec), &st, NULL, NULL), 0);
    assert_int_equal(st.records, 1);
    rec[27] = 0x7f;
    assert_int_equal(opd_pq_scan(rec, sizeof(rec), &st, NULL, NULL), 0);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.corrupt, 1);
}

static void test_persistent_across_restart(void **state)
{
    struct opd_eh_storage storage = {.fsync = true};
    char path[300];
    struct env e;

    snprintf(path, sizeof(path), "%s/eh.queue", tmpdir);
    storage.path = path;
    /* First life: the destination never answers; the deadline leaves everything queued. */
    env_init(&e, 2, 100, "requests");
    e.f.hold = true;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, &storage), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(opd_eh_submit(e.eh, payload(16, (uint8_t)i), 16, 10), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 30000000), -ETIMEDOUT);
    assert_int_equal(dropped(&e, "shutdown"), 0); /* kept on disk, not dropped */
    env_fini(&e);
    /* Second life: everything from the first is delivered. */
    env_init(&e, 2, 100, "requests");
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, &storage), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 5000000000ULL), 0);
    assert_int_equal(e.f.delivered_items, 50);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 50);
    env_fini(&e);
    /* Third life: nothing left. */
    env_init(&e, 1, 100, "requests");
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, &storage), 0);
    assert_int_equal(opd_eh_shutdown(e.eh, now_ns() + 1000000000ULL), 0);
    assert_int_equal(e.f.calls, 0);
    env_fini(&e);
}

static void test_sync_when_queue_disabled(void **state)
{
    struct env e;

    env_init(&e, 1, 10, "requests");
    e.q.enabled = false;
    e.f.script[0] = -EAGAIN;
    e.f.script[1] = -EINVAL;
    e.f.n_script = 2;
    env_create(&e);
    assert_int_equal(opd_eh_start(e.eh, NULL), 0);
    assert_int_equal(opd_eh_submit(e.eh, payload(2, 0), 2, 4), -EIO);
    assert_int_equal(e.f.calls, 2);
    assert_int_equal(opd_eh_submit(e.eh, payload(2, 0), 2, 4), 0);
    assert_int_equal(metric(&e, "otelcol_exporter_sent_profile_samples"), 4);
    assert_int_equal(dropped(&e, "permanent"), 4);
    opd_eh_shutdown(e.eh, now_ns());
    env_fini(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivers_and_counts),
        cmocka_unit_test(test_retry_then_deliver),
        cmocka_unit_test(test_permanent_not_retried),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_queue_full_counted),
        cmocka_unit_test(test_block_on_overflow),
        cmocka_unit_test(test_shutdown_deadline_drops),
        cmocka_unit_test(test_retry_after_honoured),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_pqueue_recover),
        cmocka_unit_test(test_pqueue_torn_and_corrupt),
        cmocka_unit_test(test_pqueue_bound),
        cmocka_unit_test(test_scan_garbage),
        cmocka_unit_test(test_persistent_across_restart),
        cmocka_unit_test(test_sync_when_queue_disabled),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
