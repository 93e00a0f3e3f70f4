/* Sliding-window CPU time per (service, namespace, team, function) for the prometheus
 * exporter. The window is cut into slots; each series keeps one sum per slot, and a slot
 * is cleared when time moves past it, so a series whose process or pod is gone drops out
 * once the window has slid over its last sample. The number of series is bounded: past
 * max_series, new functions of a service are added to its function="other" series.
 * Time is passed in (CLOCK_MONOTONIC ns) so tests can move it. Not thread-safe: the
 * exporter holds a lock around every call. */
#ifndef OPD_PROMWIN_H
#define OPD_PROMWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opd_promwin;

struct opd_promwin_labels {
    const char *service_name;
    const char *k8s_namespace_name;
    const char *team;
    const char *function;
};

/* window_ns is cut into n_slots slots (>= 1). NULL with errno (EINVAL, ENOMEM). */
struct opd_promwin *opd_promwin_create(uint64_t window_ns, size_t n_slots, size_t max_series);
/* NULL is a no-op. */
void opd_promwin_destroy(struct opd_promwin *w);

/* Adds seconds of CPU time at now_ns. Strings are copied. Returns 0, 1 when the time went
 * to the service's "other" series because max_series was reached, or -ENOMEM. */
int opd_promwin_add(struct opd_promwin *w, uint64_t now_ns, const struct opd_promwin_labels *l,
                    double seconds);

/* Writes the gauges of the window ending at now_ns: otelprofd_function_cpu_seconds for
 * the top_n functions of each (service, namespace, team) with the rest summed as
 * function="other", and otelprofd_service_cpu_seconds per service. OpenMetrics adds
 * # UNIT lines (the caller writes the final # EOF). Returns 0, -ENOMEM or -EIO. */
int opd_promwin_write(struct opd_promwin *w, uint64_t now_ns, size_t top_n, bool openmetrics,
                      FILE *out);

/* Live series (after expiring those the window left at now_ns). */
size_t opd_promwin_series(struct opd_promwin *w, uint64_t now_ns);

/* Seconds added to an "other" series because max_series was reached. */
double opd_promwin_overflow_seconds(const struct opd_promwin *w);

#endif
