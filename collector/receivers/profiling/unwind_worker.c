/* The unwind tables' own thread (see unwind_worker.h). */
#include "collector/receivers/profiling/unwind_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/unwind_glue.h"
#include "collector/telemetry.h"

#define POLL_NS 200000000ull /* walks that met unpublished code: checked this often */

struct request {
    uint32_t pid;
    bool exec;
};

struct opd_unwind_worker {
    struct opd_unwind_worker_ops ops;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool stop;
    struct request *q; /* ring of cap requests */
    size_t cap, head, n;
    struct opd_metric *m_dropped;
};

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
            else
                w->ops.sync(w->ops.arg, batch[i].pid);
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
    if (tel)
        w->m_dropped = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_unwind_requests_dropped", labels,
            "Processes not queued for table publishing (queue full): published later, when "
            "their walks report code without tables.");
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

void opd_unwind_worker_push(struct opd_unwind_worker *w, uint32_t pid, bool exec)
{
    pthread_mutex_lock(&w->lock);
    for (size_t i = 0; i < w->n; i++) {
        struct request *r = &w->q[(w->head + i) % w->cap];

        if (r->pid == pid) {
            r->exec = r->exec || exec;
            goto out;
        }
    }
    if (w->n == w->cap) {
        opd_metric_add(w->m_dropped, 1);
        goto out;
    }
    w->q[(w->head + w->n) % w->cap] = (struct request){.pid = pid, .exec = exec};
    w->n++;
    pthread_cond_signal(&w->cond);
out:
    pthread_mutex_unlock(&w->lock);
}
