/* The exporter helper: a bounded sending queue drained by consumer threads, retry with
 * exponential backoff for retryable failures, an optional persistent queue file, and the
 * Collector's exporter self-metrics. An exporter hands it encoded requests (opaque
 * bytes plus the number of profile samples they hold) and a send callback; consume()
 * then never waits for the network.
 *
 * Metrics (label exporter="<id>"): otelcol_exporter_sent_profile_samples,
 * otelcol_exporter_send_failed_profile_samples, otelcol_exporter_enqueue_failed_profile_samples (samples),
 * otelcol_exporter_queue_size, otelcol_exporter_queue_capacity (gauges),
 * otelcol_exporter_send_retries (attempts after the first), otelcol_exporter_sent_bytes,
 * and otelcol_exporter_dropped_profile_samples{reason="queue_full|permanent|retries_exhausted|
 * shutdown|storage"} which splits every drop by its cause. */
#ifndef OPD_EXPORTERHELPER_H
#define OPD_EXPORTERHELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/exporterhelper/eh_config.h"

struct opd_telemetry;
struct opd_exporterhelper;

/* What a send attempt reports back. */
struct opd_eh_send_status {
    int64_t retry_after_ns; /* server-requested minimum delay before a retry; 0 = none */
    uint64_t rejected;      /* samples the server reported as rejected (partial success) */
    bool resend_now;        /* retryable, and the sender already fixed the cause (e.g. it
                               switched compression): resend without waiting */
};

/* Sends one request. Returns 0 (delivered), -EAGAIN (retryable) or another -errno
 * (permanent); the callback logs the cause itself. Called from consumer threads. */
typedef int (*opd_eh_send_fn)(void *ctx, const uint8_t *data, size_t len, uint64_t items,
                              struct opd_eh_send_status *st);

struct opd_eh_storage {
    const char *path;  /* queue file */
    int64_t max_bytes; /* 0 = unbounded */
    bool fsync;
};

struct opd_eh_params {
    const char *who; /* log name */
    const char *id;  /* metric label value */
    struct opd_telemetry *telemetry;
    const struct opd_eh_queue_config *queue;
    const struct opd_eh_retry_config *retry;
    opd_eh_send_fn send;
    void (*cancel)(void *ctx); /* aborts sends in flight at the shutdown deadline */
    void *ctx;
};

/* Creates the helper and registers its metrics. NULL with errno on failure. */
struct opd_exporterhelper *opd_eh_create(const struct opd_eh_params *p);

/* Opens the persistent queue (when storage is not NULL; its requests are queued first)
 * and starts the consumers. Returns 0 or -errno. */
int opd_eh_start(struct opd_exporterhelper *eh, const struct opd_eh_storage *storage);

/* Queues a request; takes ownership of data (opd_malloc'ed) in every case. Returns 0, or
 * -ENOSPC when the queue is full (the request is dropped and counted), -ESHUTDOWN after
 * shutdown. With the queue disabled, sends synchronously and returns the send result. */
int opd_eh_submit(struct opd_exporterhelper *eh, uint8_t *data, size_t len, uint64_t items);

/* Stops taking requests and sends what is queued until deadline_ns (CLOCK_MONOTONIC);
 * then cancels sends in flight. What is left is counted as dropped (reason shutdown), or
 * stays in the persistent queue for the next start. Idempotent; returns 0, or -ETIMEDOUT
 * when requests were left. */
int opd_eh_shutdown(struct opd_exporterhelper *eh, uint64_t deadline_ns);

/* Frees the helper (after shutdown). NULL is a no-op. */
void opd_eh_destroy(struct opd_exporterhelper *eh);

/* Current queue occupancy in sizer units. */
int64_t opd_eh_queue_size(struct opd_exporterhelper *eh);

#endif
