/* Self-telemetry registry: counters and gauges that components register at create
 * time and update lock-free from any thread. The registry owns every metric; a
 * metric pointer stays valid until opd_telemetry_destroy(). The Prometheus text
 * exposition of the whole registry is written by opd_telemetry_write_prometheus(). */
#ifndef OPD_TELEMETRY_H
#define OPD_TELEMETRY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opd_metric_type {
    OPD_METRIC_COUNTER,
    OPD_METRIC_GAUGE,
};

struct opd_metric {
    char *name;   /* e.g. "otelcol_exporter_sent_profile_samples" */
    char *labels; /* rendered label set, e.g. exporter="otlp_grpc/primary"; may be "" */
    char *help;
    enum opd_metric_type type;
    _Atomic int64_t value;
    /* Values are integers; a metric in base units that needs fractions (seconds) keeps
     * them in 1/scale units and is exposed as value/scale. 0 or 1 = plain integer. */
    int64_t scale;
};

struct opd_telemetry;

/* Creates an empty registry; NULL with errno on failure. */
struct opd_telemetry *opd_telemetry_create(void);
/* Frees the registry and every metric in it. NULL is a no-op. */
void opd_telemetry_destroy(struct opd_telemetry *t);

/* Returns the metric with this name and label set, creating it at zero when it is new.
 * The registry copies the strings. NULL with errno on failure (-ENOMEM, or -EINVAL when
 * the name exists with another type). */
struct opd_metric *opd_telemetry_metric(struct opd_telemetry *t, enum opd_metric_type type,
                                        const char *name, const char *labels, const char *help);

static inline void opd_metric_add(struct opd_metric *m, int64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

static inline void opd_metric_set(struct opd_metric *m, int64_t v)
{
    if (m)
        atomic_store_explicit(&m->value, v, memory_order_relaxed);
}

static inline int64_t opd_metric_get(const struct opd_metric *m)
{
    return m ? atomic_load_explicit(&((struct opd_metric *)m)->value, memory_order_relaxed) : 0;
}

/* Formats m's exposed value (value/scale) into buf. Returns buf. */
const char *opd_metric_format(const struct opd_metric *m, char *buf, size_t len);

/* Looks up a metric; NULL when absent. */
struct opd_metric *opd_telemetry_find(struct opd_telemetry *t, const char *name,
                                      const char *labels);

/* Calls fn for every metric, in registration order. */
void opd_telemetry_foreach(struct opd_telemetry *t, void (*fn)(const struct opd_metric *, void *),
                           void *arg);

/* Writes the registry in Prometheus text format 0.0.4. Returns 0 or -errno. */
int opd_telemetry_write_prometheus(struct opd_telemetry *t, FILE *out);

#endif
