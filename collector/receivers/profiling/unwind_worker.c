/* The unwind tables' own thread (see unwind_worker.h). */
#include "collector/receivers/profiling/unwind_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/unwind_glue.h"
#include "collector/telemetry.h"

#define POLL_NS 50000000ull /* walks that met unpublished code: checked this often */

struct request {
    uint32_t pid;
    bool exec;
    uint64_t first_ns; /* first sample of a new process; 0: not measured */
};

/* Upper bounds (ms) of the publish latency histogram's buckets. */
static const unsigned latency_ms[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500};
#define N_LATENCY (sizeof(latency_ms) / sizeof(latency_ms[0]))

struct opd_unwind_worker {
    struct opd_unwind_worker_ops ops;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool stop;
    struct request *q; /* ring of cap requests */
    size_t cap, head, n;
    struct opd_metric *m_dropped;
    /* From a new process's first sample until its tables are published. */
    struct opd_metric *m_lat_bucket[N_LATENCY + 1], *m_lat_count, *m_lat_sum_us, *m_lat_max_us;
    int64_t lat_max_us;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Records one publish latency (worker thread only). */
static void observe_latency(struct opd_unwind_worker *w, uint64_t first_ns)
{
    uint64_t now = mono_ns();
    int64_t us = now > first_ns ? (int64_t)((now - first_ns) / 1000) : 0;

    for (size_t i = 0; i <= N_LATENCY; i++) {
        if (i == N_LATENCY || us <= (int64_t)latency_ms[i] * 1000)
            opd_metric_add(w->m_lat_bucket[i], 1);
    }
    opd_metric_add(w->m_lat_count, 1);
    opd_metric_add(w->m_lat_sum_us, us);
    if (us > w->lat_max_us) {
        w->lat_max_us = us;
        opd_metric_set(w->m_lat_max_us, us);
    }
}

/* Takes every queued request into out (room for w->cap); returns how many. Lock held. */
static size_t take_all(struct opd_unwind_worker *w, struct request *out)
{
    size_t n = w->n;

    for (size_t i = 0; i < n; i++)
        out[i] = w->q[(w->head + i) % w->cap];
    w->head = 0;
    w->n = 0;
    return n;
}

static void *worker_main(void *arg)
{
    struct opd_unwind_worker *w = arg;
    struct request *batch = opd_calloc(w->cap, sizeof(*batch));

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec ts;
        size_t n;

        if (w->n == 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += (long)POLL_NS;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&w->cond, &w->lock, &ts);
            if (w->stop)
                break;
        }
        n = batch ? take_all(w, batch) : 0;
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < n; i++) {
            if (batch[i].exec)
                w->ops.exec(w->ops.arg, batch[i].pid);
            else if (w->ops.sync(w->ops.arg, batch[i].pid) == 0 && batch[i].first_ns)
                observe_latency(w, batch[i].first_ns);
        }
        w->ops.poll(w->ops.arg);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    opd_free(batch);
    return NULL;
}

static int glue_sync(void *g, uint32_t pid)
{
    return opd_unwind_glue_sync(g, pid);
}

static int glue_exec(void *g, uint32_t pid)
{
    return opd_unwind_glue_exec(g, pid);
}

static void glue_poll(void *g)
{
    opd_unwind_glue_poll(g);
}

struct opd_unwind_worker_ops opd_unwind_worker_glue_ops(struct opd_unwind_glue *g)
{
    return (struct opd_unwind_worker_ops){glue_sync, glue_exec, glue_poll, g};
}

static void add_latency_metrics(struct opd_unwind_worker *w, struct opd_telemetry *tel,
                                const char *labels)
{
    char l[320];

    for (size_t i = 0; i <= N_LATENCY; i++) {
        if (i < N_LATENCY)
            snprintf(l, sizeof(l), "%s,le=\"%g\"", labels, latency_ms[i] / 1000.0);
        else
            snprintf(l, sizeof(l), "%s,le=\"+Inf\"", labels);
        w->m_lat_bucket[i] = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_unwind_tables_published_within", l,
            i ? NULL
              : "New processes whose unwind tables were published within le seconds of "
                "their first sample (samples before that are walked by frame pointer); "
                "cumulative, as a histogram's buckets.");
    }
    w->m_lat_count = opd_telemetry_metric(tel, OPD_METRIC_COUNTER,
                                          "otelprofd_unwind_tables_published", labels,
                                          "New processes whose tables were published.");
    w->m_lat_sum_us = opd_telemetry_metric(
        tel, OPD_METRIC_COUNTER, "otelprofd_unwind_publish_latency_microseconds", labels,
        "Sum of the publish latencies (first sample to published tables), in microseconds.");
    w->m_lat_max_us = opd_telemetry_metric(
        tel, OPD_METRIC_GAUGE, "otelprofd_unwind_publish_latency_max_microseconds", labels,
        "Longest publish latency seen, in microseconds.");
}

struct opd_unwind_worker *opd_unwind_worker_create(const struct opd_unwind_worker_ops *ops,
                                                   size_t cap, struct opd_telemetry *tel,
                                                   const char *id)
{
    struct opd_unwind_worker *w = opd_calloc(1, sizeof(*w));
    pthread_condattr_t ca;
    char labels[256];
    int err = -ENOMEM;

    if (!w)
        goto out;
    w->ops = *ops;
    w->cap = cap ? cap : 1;
    w->q = opd_calloc(w->cap, sizeof(*w->q));
    if (!w->q)
        goto out;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(labels, sizeof(labels), "receiver=\"%s\"", id ? id : "profiling");
    if (tel) {
        w->m_dropped = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_unwind_requests_dropped", labels,
            "Processes not queued for table publishing (queue full): published later, when "
            "their walks report code without tables.");
        add_latency_metrics(w, tel, labels);
    }
    err = -pthread_create(&w->thread, NULL, worker_main, w);
    if (err) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        goto out;
    }
    pthread_setname_np(w->thread, "opd-unwind");
out:
    if (err) {
        if (w)
            opd_free(w->q);
        opd_free(w);
        errno = -err;
        return NULL;
    }
    return w;
}

void opd_unwind_worker_destroy(struct opd_unwind_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    opd_free(w->q);
    opd_free(w);
}

void opd_unwind_worker_push(struct opd_unwind_worker *w, uint32_t pid, bool exec,
                            uint64_t first_ns)
{
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n; i++) {
        struct request *r = &w->q[(w->head + i) % w->cap];

        if (r->pid == pid) {
            r->exec = r->exec || exec;
            if (!r->first_ns)
                r->first_ns = first_ns;
            goto out;
        }
    }
    if (w->n == w->cap) {
        opd_metric_add(w->m_dropped, 1);
        goto out;
    }
    w->q[(w->head + w->n) % w->cap] =
        (struct request){.pid = pid, .exec = exec, .first_ns = first_ns};
    w->n++;
    pthread_cond_signal(&w->cond);
out:
    pthread_mutex_unlock(&w->lock);
}
