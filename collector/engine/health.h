/* Component health: a process-wide board where components say whether they work, read by
 * the health_check extension. Two kinds of report:
 *
 *  - a state, for things that are either up or not (the profiling receiver's eBPF
 *    programs attached or not). Receiver owners: call
 *        opd_health_report(self->logname, false, "starting");
 *    in create(), then
 *        opd_health_report(self->logname, true, "attached to 8 CPUs");
 *    once the programs are attached, and ok=false with the reason when they detach or
 *    attaching failed. A component that reported false is unhealthy until it reports true.
 *
 *  - an attempt, for exporters: after every send attempt (each retry too) call
 *        opd_health_report_attempt(self->logname, err == 0, err ? "<why>" : NULL);
 *    An exporter is unhealthy while its last attempt failed, it failed at least
 *    `failure_threshold` times in a row, and the last failure is younger than `window`
 *    (see struct opd_health_policy). An exporter that never attempted is healthy.
 *
 * Until a component reports itself, the health_check extension derives the same two
 * facts from the self-telemetry on each check (otelprofd_profiling_cpus_attached; an
 * exporter's failure counters growing while otelcol_exporter_sent_profile_samples does not), so
 * explicit reports add the reason text and react between checks.
 *
 * Names are the component's logname ("exporter/otlp_grpc/primary"); the board copies
 * them. Every function is thread-safe and cheap enough for the data path. The board is
 * global because every component of the process reports to the one extension. */
#ifndef OPD_HEALTH_H
#define OPD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Sets the state of component. message (may be NULL) says why; it is copied. Returns 0
 * or -ENOMEM (the report is then lost, and logged). */
int opd_health_report(const char *component, bool ok, const char *message);

/* Sets the state of component as derived by the health_check extension from telemetry:
 * like opd_health_report(), except that when the component already reported the same
 * state itself, its own message (which says more, e.g. what the kernel refused) stays. */
int opd_health_report_derived(const char *component, bool ok, const char *message);

/* Records one attempt of component (an exporter). message says why it failed; NULL on
 * success. Returns 0 or -ENOMEM. */
int opd_health_report_attempt(const char *component, bool ok, const char *message);

/* Forgets component (at destroy, so a removed component cannot keep the process
 * unhealthy). Unknown names are ignored. */
void opd_health_forget(const char *component);

/* Forgets everything (tests, and a fresh service). */
void opd_health_reset(void);

struct opd_health_policy {
    uint64_t window_ns;         /* failures older than this no longer count */
    uint64_t failure_threshold; /* consecutive failed attempts that make an exporter unhealthy */
};

/* Evaluates the board at now_ns (CLOCK_MONOTONIC) and, when out is not NULL, writes a JSON
 * object {"healthy":…, "components":[{"component":…, "healthy":…, "message":…}, …]}
 * (every component when all is true, else only the unhealthy ones). Returns true when
 * every component is healthy. */
bool opd_health_evaluate(const struct opd_health_policy *policy, uint64_t now_ns, bool all,
                         FILE *out);

#endif
