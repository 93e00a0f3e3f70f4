/* The running collector: the pipeline graph built from a loaded config, and its
 * lifecycle. Receivers are shared by id across pipelines, processors are created once per
 * pipeline, exporters are shared by id; a fanout goes wherever a node feeds several.
 * Start runs extensions, exporters, processors, then receivers; shutdown runs in the
 * opposite order so that data drains downstream before the next stage stops. */
#ifndef OPD_SERVICE_H
#define OPD_SERVICE_H

#include <stdint.h>

struct opd_config;
struct opd_telemetry;
struct opd_service;

/* Creates every component of cfg's pipelines. cfg and tel are borrowed and must outlive
 * the service. NULL with errno on failure; the failing component is logged by id. */
struct opd_service *opd_service_create(const struct opd_config *cfg, struct opd_telemetry *tel);

/* Starts everything in reverse topological order. On a failure, shuts down what already
 * started and returns the error. */
int opd_service_start(struct opd_service *s);

/* Shuts down in forward order; each component gets the time left until deadline_ns
 * (CLOCK_MONOTONIC). Idempotent. Returns the first error. */
int opd_service_shutdown(struct opd_service *s, uint64_t deadline_ns);

/* Destroys every component (after shutdown). NULL is a no-op. */
void opd_service_destroy(struct opd_service *s);

/* Monotonic clock in nanoseconds. */
uint64_t opd_now_ns(void);

#endif
