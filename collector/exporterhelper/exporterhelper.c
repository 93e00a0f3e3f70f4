#include "collector/exporterhelper/exporterhelper.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/exporterhelper/pqueue.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

enum drop_reason {
    DROP_QUEUE_FULL,
    DROP_PERMANENT,
    DROP_RETRIES_EXHAUSTED,
    DROP_SHUTDOWN,
    DROP_STORAGE,
    DROP_N,
};

static const char *const drop_names[DROP_N] = {"queue_full", "permanent", "retries_exhausted",
                                               "shutdown", "storage"};

struct req {
    struct req *next;
    uint8_t *data;
    size_t len;
    uint64_t items;
    uint64_t seq;
    bool persisted;
};

struct opd_exporterhelper {
    char *who, *id;
    struct opd_eh_queue_config queue; /* scalar fields only; strings not kept */
    struct opd_eh_retry_config retry;
    bool items_sizer;
    opd_eh_send_fn send;
    void (*cancel)(void *ctx);
    void *ctx;

    pthread_mutex_t lock;
    pthread_cond_t nonempty, space, wake, idle;
    struct req *head, *tail;
    int64_t size;
    int inflight;
    bool started, stopping, aborted, shut;
    pthread_t *threads;
    size_t n_threads;
    struct opd_pqueue *pq;

    struct opd_metric *m_sent, *m_send_failed, *m_enqueue_failed, *m_queue_size, *m_queue_cap,
        *m_retries, *m_bytes, *m_drop[DROP_N];
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double rnd01(void)
{
    static _Thread_local uint64_t s;

    if (!s)
        s = now_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ULL;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

static int64_t units(const struct opd_exporterhelper *eh, const struct req *r)
{
    return eh->items_sizer ? (int64_t)r->items : 1;
}

static struct opd_metric *metric(struct opd_telemetry *t, enum opd_metric_type type,
                                 const char *name, const char *labels, const char *help)
{
    return t ? opd_telemetry_metric(t, type, name, labels, help) : NULL;
}

static int register_metrics(struct opd_exporterhelper *eh, struct opd_telemetry *t)
{
    char labels[256];

    if (!t)
        return 0;
    snprintf(labels, sizeof(labels), "exporter=\"%s\"", eh->id);
    eh->m_sent = metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_sent_profile_samples", labels,
                        "Profile samples successfully sent to the destination.");
    eh->m_send_failed = metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_send_failed_profile_samples",
                               labels, "Profile samples that failed to be sent.");
    eh->m_enqueue_failed =
        metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_enqueue_failed_profile_samples", labels,
               "Profile samples that failed to be added to the sending queue.");
    eh->m_queue_size = metric(t, OPD_METRIC_GAUGE, "otelcol_exporter_queue_size", labels,
                              "Current size of the retry queue (in sizer units).");
    eh->m_queue_cap = metric(t, OPD_METRIC_GAUGE, "otelcol_exporter_queue_capacity", labels,
                             "Fixed capacity of the retry queue (in sizer units).");
    eh->m_retries = metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_send_retries", labels,
                           "Send attempts after the first one of a request.");
    eh->m_bytes = metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_sent_bytes", labels,
                         "Uncompressed request bytes successfully sent.");
    for (int i = 0; i < DROP_N; i++) {
        char l[320];
        snprintf(l, sizeof(l), "%s,reason=\"%s\"", labels, drop_names[i]);
        eh->m_drop[i] = metric(t, OPD_METRIC_COUNTER, "otelcol_exporter_dropped_profile_samples", l,
                               "Profile samples dropped, by reason.");
        if (!eh->m_drop[i])
            return -errno;
    }
    if (!eh->m_sent || !eh->m_send_failed || !eh->m_enqueue_failed || !eh->m_queue_size ||
        !eh->m_queue_cap || !eh->m_retries || !eh->m_bytes)
        return -(errno ? errno : ENOMEM);
    opd_metric_set(eh->m_queue_cap, eh->queue.queue_size);
    return 0;
}

struct opd_exporterhelper *opd_eh_create(const struct opd_eh_params *p)
{
    struct opd_exporterhelper *eh = opd_calloc(1, sizeof(*eh));
    char err[160];
    int rc = -ENOMEM;

    if (!eh)
        goto fail;
    pthread_condattr_t ca;
    pthread_mutex_init(&eh->lock, NULL);
    /* Deadlines are CLOCK_MONOTONIC: a wall-clock step must not stretch a retry. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&eh->nonempty, &ca);
    pthread_cond_init(&eh->space, &ca);
    pthread_cond_init(&eh->wake, &ca);
    pthread_cond_init(&eh->idle, &ca);
    pthread_condattr_destroy(&ca);
    eh->who = opd_strdup(p->who ? p->who : "exporter");
    eh->id = opd_strdup(p->id ? p->id : eh->who);
    if (!eh->who || !eh->id)
        goto fail;
    eh->queue = *p->queue;
    eh->queue.sizer = NULL;
    eh->queue.storage = NULL;
    eh->items_sizer = p->queue->sizer && strcmp(p->queue->sizer, "items") == 0;
    eh->retry = *p->retry;
    if (eh->queue.num_consumers < 1)
        eh->queue.num_consumers = 1;
    if (eh->queue.queue_size < 1)
        eh->queue.queue_size = 1;
    if (p->retry->enabled && opd_eh_retry_config_check(p->retry, err, sizeof(err))) {
        OPD_ERR(eh->who, "%s", err);
        rc = -EINVAL;
        goto fail;
    }
    if (!p->send) {
        rc = -EINVAL;
        goto fail;
    }
    eh->send = p->send;
    eh->cancel = p->cancel;
    eh->ctx = p->ctx;
    rc = register_metrics(eh, p->telemetry);
    if (rc)
        goto fail;
    return eh;
fail:
    opd_eh_destroy(eh);
    errno = -rc;
    return NULL;
}

static void drop(struct opd_exporterhelper *eh, uint64_t items, enum drop_reason why)
{
    if (why == DROP_QUEUE_FULL || why == DROP_STORAGE)
        opd_metric_add(eh->m_enqueue_failed, (int64_t)items);
    else
        opd_metric_add(eh->m_send_failed, (int64_t)items);
    opd_metric_add(eh->m_drop[why], (int64_t)items);
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    opd_free(r->data);
    opd_free(r);
}

/* Retires a request from the persistent queue once it is delivered or given up. */
static void retire(struct opd_exporterhelper *eh, struct req *r)
{
    if (eh->pq && r->persisted) {
        int rc = opd_pqueue_ack(eh->pq, r->seq);
        if (rc)
            OPD_WARN(eh->who, "persistent queue ack: %s", strerror(-rc));
    }
}

enum outcome {
    DELIVERED,
    DROPPED,
    INTERRUPTED, /* the shutdown deadline stopped the retries */
};

/* Sends r with retries; lock not held. */
static enum outcome deliver(struct opd_exporterhelper *eh, struct req *r)
{
    uint64_t start = now_ns();
    unsigned attempt = 0;

    for (;;) {
        struct opd_eh_send_status st = {0};
        int rc = eh->send(eh->ctx, r->data, r->len, r->items, &st);
        if (rc == 0) {
            opd_metric_add(eh->m_sent, (int64_t)r->items);
            opd_metric_add(eh->m_bytes, (int64_t)r->len);
            retire(eh, r);
            return DELIVERED;
        }
        if (rc != -EAGAIN || !eh->retry.enabled) {
            OPD_ERR(eh->who, "dropping %llu profile sample(s): %s error, not retryable",
                    (unsigned long long)r->items,
                    rc == -EAGAIN ? "retryable (retry off)" : "permanent");
            drop(eh, r->items, DROP_PERMANENT);
            retire(eh, r);
            return DROPPED;
        }
        if (st.resend_now && attempt < 3) {
            opd_metric_add(eh->m_retries, 1);
            attempt++;
            continue;
        }
        int64_t backoff = opd_eh_backoff_ns(&eh->retry, attempt, rnd01());
        if (st.retry_after_ns > backoff)
            backoff = st.retry_after_ns;
        uint64_t now = now_ns();
        if (eh->retry.max_elapsed_time_ns > 0 &&
            now + (uint64_t)backoff - start > (uint64_t)eh->retry.max_elapsed_time_ns) {
            OPD_ERR(eh->who,
                    "dropping %llu profile sample(s): no more retries left after "
                    "%.3f s (max_elapsed_time)",
                    (unsigned long long)r->items, (double)(now - start) / 1e9);
            drop(eh, r->items, DROP_RETRIES_EXHAUSTED);
            retire(eh, r);
            return DROPPED;
        }
        OPD_INFO(eh->who, "send failed, retrying in %.3f s (attempt %u)", (double)backoff / 1e9,
                 attempt + 1);
        pthread_mutex_lock(&eh->lock);
        uint64_t until = now_ns() + (uint64_t)backoff;
        while (!eh->aborted) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t n = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
            if (n >= until)
                break;
            uint64_t t = until;
            ts.tv_sec = (time_t)(t / 1000000000ULL);
            ts.tv_nsec = (long)(t % 1000000000ULL);
            pthread_cond_timedwait(&eh->wake, &eh->lock, &ts);
        }
        bool aborted = eh->aborted;
        pthread_mutex_unlock(&eh->lock);
        if (aborted)
            return INTERRUPTED;
        opd_metric_add(eh->m_retries, 1);
        attempt++;
    }
}

static void left_at_shutdown(struct opd_exporterhelper *eh, struct req *r)
{
    if (eh->pq && r->persisted)
        return; /* stays in the queue file for the next start */
    drop(eh, r->items, DROP_SHUTDOWN);
}

static void *consumer_main(void *arg)
{
    struct opd_exporterhelper *eh = arg;

    pthread_mutex_lock(&eh->lock);
    for (;;) {
        while (!eh->head && !eh->stopping && !eh->aborted)
            pthread_cond_wait(&eh->nonempty, &eh->lock);
        if (eh->aborted || !eh->head)
            break;
        struct req *r = eh->head;
        eh->head = r->next;
        if (!eh->head)
            eh->tail = NULL;
        eh->size -= units(eh, r);
        opd_metric_set(eh->m_queue_size, eh->size);
        pthread_cond_signal(&eh->space);
        eh->inflight++;
        pthread_mutex_unlock(&eh->lock);

        if (deliver(eh, r) == INTERRUPTED)
            left_at_shutdown(eh, r);
        req_free(r);

        pthread_mutex_lock(&eh->lock);
        eh->inflight--;
        pthread_cond_broadcast(&eh->idle);
    }
    pthread_mutex_unlock(&eh->lock);
    return NULL;
}

static void push_locked(struct opd_exporterhelper *eh, struct req *r)
{
    r->next = NULL;
    if (eh->tail)
        eh->tail->next = r;
    else
        eh->head = r;
    eh->tail = r;
    eh->size += units(eh, r);
    opd_metric_set(eh->m_queue_size, eh->size);
    pthread_cond_signal(&eh->nonempty);
}

int opd_eh_start(struct opd_exporterhelper *eh, const struct opd_eh_storage *storage)
{
    struct opd_pq_item *items = NULL;
    size_t n = 0;
    int rc = 0;

    if (eh->started)
        return 0;
    if (storage && storage->path) {
        if (!eh->queue.enabled) {
            OPD_ERR(eh->who, "sending_queue.storage needs sending_queue.enabled");
            return -EINVAL;
        }
        eh->pq =
            opd_pqueue_open(storage->path, storage->max_bytes, storage->fsync, eh->who, &items, &n);
        if (!eh->pq)
            return -errno;
        for (size_t i = 0; i < n; i++) {
            struct req *r = opd_calloc(1, sizeof(*r));
            if (!r) {
                rc = -ENOMEM;
                break;
            }
            r->data = items[i].data;
            items[i].data = NULL;
            r->len = items[i].len;
            r->items = items[i].items;
            r->seq = items[i].seq;
            r->persisted = true;
            pthread_mutex_lock(&eh->lock);
            push_locked(eh, r);
            pthread_mutex_unlock(&eh->lock);
        }
        opd_pq_items_free(items, n);
        if (rc)
            return rc;
    }
    if (!eh->queue.enabled) {
        eh->started = true;
        return 0;
    }
    eh->threads = opd_calloc((size_t)eh->queue.num_consumers, sizeof(pthread_t));
    if (!eh->threads)
        return -ENOMEM;
    for (int64_t i = 0; i < eh->queue.num_consumers; i++) {
        rc = pthread_create(&eh->threads[i], NULL, consumer_main, eh);
        if (rc) {
            OPD_ERR(eh->who, "start consumer thread: %s", strerror(rc));
            break;
        }
        eh->n_threads++;
    }
    eh->started = true;
    if (rc) {
        opd_eh_shutdown(eh, now_ns());
        return -rc;
    }
    return 0;
}

int opd_eh_submit(struct opd_exporterhelper *eh, uint8_t *data, size_t len, uint64_t items)
{
    struct req *r;
    int rc = 0;

    if (!eh->queue.enabled) {
        struct req tmp = {.data = data, .len = len, .items = items};
        if (eh->stopping) {
            drop(eh, items, DROP_SHUTDOWN);
            opd_free(data);
            return -ESHUTDOWN;
        }
        enum outcome o = deliver(eh, &tmp);
        if (o == INTERRUPTED)
            left_at_shutdown(eh, &tmp);
        opd_free(data);
        return o == DELIVERED ? 0 : o == DROPPED ? -EIO : -ESHUTDOWN;
    }
    r = opd_calloc(1, sizeof(*r));
    if (!r) {
        drop(eh, items, DROP_QUEUE_FULL);
        opd_free(data);
        return -ENOMEM;
    }
    r->data = data;
    r->len = len;
    r->items = items;
    pthread_mutex_lock(&eh->lock);
    if (eh->stopping) {
        rc = -ESHUTDOWN;
        drop(eh, items, DROP_SHUTDOWN);
        goto out;
    }
    while (eh->size + units(eh, r) > eh->queue.queue_size && eh->size > 0) {
        if (eh->stopping) {
            rc = -ESHUTDOWN;
            drop(eh, items, DROP_SHUTDOWN);
            goto out;
        }
        if (!eh->queue.block_on_overflow) {
            rc = -ENOSPC;
            OPD_WARN(eh->who,
                     "sending queue is full (%lld of %lld): dropping %llu profile "
                     "sample(s)",
                     (long long)eh->size, (long long)eh->queue.queue_size,
                     (unsigned long long)items);
            drop(eh, items, DROP_QUEUE_FULL);
            goto out;
        }
        pthread_cond_wait(&eh->space, &eh->lock);
    }
    if (eh->pq) {
        /* Written to disk before it counts as queued: a crash after this returns loses
         * nothing. */
        rc = opd_pqueue_put(eh->pq, data, len, items, &r->seq);
        if (rc) {
            OPD_WARN(eh->who, "persistent queue: %s: dropping %llu profile sample(s)",
                     rc == -ENOSPC ? "storage full" : strerror(-rc), (unsigned long long)items);
            drop(eh, items, DROP_STORAGE);
            goto out;
        }
        r->persisted = true;
    }
    push_locked(eh, r);
    r = NULL;
out:
    pthread_mutex_unlock(&eh->lock);
    req_free(r);
    return rc;
}

int opd_eh_shutdown(struct opd_exporterhelper *eh, uint64_t deadline_ns)
{
    int rc = 0;

    pthread_mutex_lock(&eh->lock);
    if (eh->shut) {
        pthread_mutex_unlock(&eh->lock);
        return 0;
    }
    eh->stopping = true;
    pthread_cond_broadcast(&eh->nonempty);
    pthread_cond_broadcast(&eh->space);
    while ((eh->head || eh->inflight) && eh->n_threads) {
        struct timespec ts;
        uint64_t now = now_ns();
        if (now >= deadline_ns)
            break;
        ts.tv_sec = (time_t)(deadline_ns / 1000000000ULL);
        ts.tv_nsec = (long)(deadline_ns % 1000000000ULL);
        pthread_cond_timedwait(&eh->idle, &eh->lock, &ts);
    }
    int inflight = eh->inflight;
    if (eh->head || eh->inflight) {
        eh->aborted = true;
        rc = -ETIMEDOUT;
        pthread_cond_broadcast(&eh->wake);
        pthread_cond_broadcast(&eh->nonempty);
    }
    pthread_mutex_unlock(&eh->lock);
    if (rc && eh->cancel)
        eh->cancel(eh->ctx);
    for (size_t i = 0; i < eh->n_threads; i++)
        pthread_join(eh->threads[i], NULL);
    eh->n_threads = 0;
    pthread_mutex_lock(&eh->lock);
    uint64_t left = 0;
    while (eh->head) {
        struct req *r = eh->head;
        eh->head = r->next;
        left += r->items;
        left_at_shutdown(eh, r);
        req_free(r);
    }
    eh->tail = NULL;
    eh->size = 0;
    opd_metric_set(eh->m_queue_size, 0);
    eh->shut = true;
    pthread_mutex_unlock(&eh->lock);
    if (rc)
        OPD_WARN(eh->who,
                 "shutdown deadline reached: %d request(s) in flight abandoned and "
                 "%llu queued profile sample(s) %s",
                 inflight, (unsigned long long)left,
                 eh->pq ? "kept in the persistent queue" : "dropped");
    return rc;
}

int64_t opd_eh_queue_size(struct opd_exporterhelper *eh)
{
    int64_t n;

    pthread_mutex_lock(&eh->lock);
    n = eh->size;
    pthread_mutex_unlock(&eh->lock);
    return n;
}

void opd_eh_destroy(struct opd_exporterhelper *eh)
{
    if (!eh)
        return;
    if (eh->started && !eh->shut)
        opd_eh_shutdown(eh, now_ns());
    opd_pqueue_close(eh->pq);
    opd_free(eh->threads);
    pthread_cond_destroy(&eh->nonempty);
    pthread_cond_destroy(&eh->space);
    pthread_cond_destroy(&eh->wake);
    pthread_cond_destroy(&eh->idle);
    pthread_mutex_destroy(&eh->lock);
    opd_free(eh->who);
    opd_free(eh->id);
    opd_free(eh);
}
