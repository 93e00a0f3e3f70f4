/* Self-telemetry endpoint (service.telemetry.metrics.address, default localhost:8888):
 * serves GET /metrics with every metric of the registry (counters get the `_total` suffix
 * on the wire, as the Collector's Prometheus exposition does), the process metrics
 * otelcol_process_cpu_seconds_total, otelcol_process_memory_rss_bytes and
 * otelcol_process_uptime_seconds_total, and the loss-accounting summary below. Prometheus
 * text 0.0.4 by default, OpenMetrics 1.0 when the Accept header asks for it.
 *
 * Loss accounting: for every exporter E the samples that entered the daemon must equal
 *     delivered(E) + dropped(E, reason…) + pending(E)
 * where
 *   entered   = Σ profiling receivers: otelprofd_profiling_samples_taken
 *             + Σ other receivers:     otelcol_receiver_accepted_profile_samples
 *                                      + otelcol_receiver_refused_profile_samples
 *   delivered = otelcol_exporter_sent_profile_samples{exporter=E}
 *   dropped   = idle, filtered, map_full (otelprofd_profiling_samples_lost / _idle),
 *               comm_filtered (otelprofd_profiling_samples_comm_filtered),
 *               processor drops (otelprofd_processor_dropped_profiles{processor,reason}:
 *               a processor that drops or refuses samples counts them there itself; a
 *               processor's own otelprofd_<type>_dropped_samples{processor} counts too,
 *               as reason <type>),
 *               queue_full, permanent, retries_exhausted, shutdown, storage
 *               (otelcol_exporter_dropped_profile_samples{exporter=E,reason})
 *   pending   = otelprofd_exporter_queue_samples{exporter=E} (samples queued), or
 *               otelcol_exporter_queue_size{exporter=E} when that is absent (right only
 *               with the items sizer: it counts in the queue's sizer units)
 * A receiver's otelcol_receiver_refused_profile_samples is not a drop: behind a fanout, one
 * exporter's error refuses a batch the other exporters took, and the failing exporter
 * counts its own drop.
 * It is published as otelprofd_loss_samples_{entered,delivered,dropped}_total and the
 * gauges otelprofd_loss_samples_{pending,unaccounted}; unaccounted is what is missing,
 * and is 0 once the pipeline is quiet (samples in flight between stages show up there
 * while it runs). */
#ifndef OPD_SELFTELEMETRY_H
#define OPD_SELFTELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opd_telemetry;
struct opd_selftelemetry;

/* Starts serving tel at address ("host:port"). tel is borrowed and must outlive the
 * handle. NULL with errno (EINVAL bad address, EADDRINUSE, ENOMEM, ...). */
struct opd_selftelemetry *opd_selftelemetry_start(const char *address, struct opd_telemetry *tel);

/* Logs the loss accounting once more, stops serving and frees the handle. NULL is a
 * no-op. */
void opd_selftelemetry_stop(struct opd_selftelemetry *st);

/* The port being served (after binding port 0). */
int opd_selftelemetry_port(const struct opd_selftelemetry *st);

/* Writes the whole exposition of tel (registry, process metrics, loss accounting).
 * Returns 0 or -EIO. */
int opd_selftelemetry_write(struct opd_telemetry *tel, bool openmetrics, FILE *out);

/* ---- loss accounting ----------------------------------------------------------------- */

#define OPD_LOSS_MAX_REASONS 16

struct opd_loss_row {
    char exporter[128];
    int64_t entered;
    int64_t delivered;
    int64_t pending;
    bool pending_in_samples; /* from otelprofd_exporter_queue_samples (else queue_size) */
    struct {
        char reason[32];
        int64_t n;
    } dropped[OPD_LOSS_MAX_REASONS];
    size_t n_dropped;
    int64_t unaccounted; /* entered - delivered - Σ dropped - pending */
};

/* Computes one row per exporter (an exporter is anything with a metric labelled
 * exporter="…") from the registry. Fills at most cap rows; returns the number of
 * exporters found (0 when memory ran out). */
size_t opd_loss_compute(struct opd_telemetry *tel, struct opd_loss_row *rows, size_t cap);

#endif
