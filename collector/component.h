/* Component model. A component type is a factory (a const table of its name, kind,
 * config map and constructor); a configured use of it is an instance: a struct that
 * begins with struct opd_component, whose ops vtable the pipeline engine drives.
 *
 * Lifecycle: create → start → consume* → shutdown → destroy.
 *  - consume() takes ownership of the batch in every case, success or error; the caller
 *    must not touch it afterwards. Returns 0, -EAGAIN (retryable) or another -errno.
 *  - shutdown() is idempotent: a receiver stops producing, a processor passes on what it
 *    holds, an exporter flushes its queue until the deadline. Nothing is consumed after.
 *  - destroy() frees the instance; destroy(NULL) is a no-op.
 * Receivers are shared by id across pipelines, processors exist once per pipeline,
 * exporters are shared by id. The engine starts exporters first and receivers last, and
 * shuts down in the opposite order, so data drains downstream. */
#ifndef OPD_COMPONENT_H
#define OPD_COMPONENT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config_map.h"

struct opd_batch;
struct opd_component;
struct opd_host;
struct opd_telemetry;

enum opd_kind {
    OPD_KIND_RECEIVER,
    OPD_KIND_PROCESSOR,
    OPD_KIND_EXPORTER,
    OPD_KIND_EXTENSION,
};

/* Retryable errors are -EAGAIN; everything else is permanent. */
static inline bool opd_err_is_retryable(int err)
{
    return err == -EAGAIN;
}

struct opd_component_ops {
    /* Starts threads, opens connections. host stays valid until destroy. */
    int (*start)(struct opd_component *self, struct opd_host *host);
    /* Processors and exporters: takes ownership of batch (see above). */
    int (*consume)(struct opd_component *self, struct opd_batch *batch);
    /* Stops and drains; deadline_ns is CLOCK_MONOTONIC. Idempotent. */
    int (*shutdown)(struct opd_component *self, uint64_t deadline_ns);
    void (*destroy)(struct opd_component *self);
};

struct opd_component {
    const struct opd_component_ops *ops;
    const struct opd_factory *factory;
    char *id;   /* "type[/name]" as written in the config (the type may be an alias) */
    char *logname; /* "exporter/otlp_grpc/primary": what log lines and metrics name */
};

/* What a factory's create() gets besides its config. */
struct opd_create_params {
    const char *id;      /* component id; create() copies it if it keeps it */
    const char *logname; /* "kind/id" */
    struct opd_telemetry *telemetry;
    /* For receivers and processors: where batches go (a processor, a fanout or an
     * exporter). Not owned. NULL for exporters and extensions. */
    struct opd_component *next;
};

struct opd_factory {
    const char *type;
    const char *alias; /* Collector alias (e.g. "otlp" for otlp_grpc) or NULL */
    enum opd_kind kind;
    const char *description;
    const struct opd_config_map *config_map;
    size_t config_size;
    bool mutates_data; /* processors that change batches in place */
    /* Optional cross-field check after binding: 0, or -EINVAL with a message in errbuf
     * (reported at the component's file:line:col). */
    int (*validate)(const void *cfg, char *errbuf, size_t errlen);
    /* Returns a new instance whose base fields the engine fills (id, logname, factory).
     * cfg is borrowed for the call: copy what you keep. NULL with errno on failure. */
    struct opd_component *(*create)(const struct opd_create_params *params, const void *cfg);
};

/* Services the engine offers components. */
struct opd_host {
    /* Returns the started extension with this id (e.g. "bearertokenauth/x"), or NULL. */
    struct opd_component *(*get_extension)(struct opd_host *host, const char *id);
    struct opd_telemetry *telemetry;
};

/* Hands batch to c (ownership moves; see consume above). */
int opd_component_consume(struct opd_component *c, struct opd_batch *batch);

/* Fills the base fields (factory, id, logname) of a freshly created instance; the engine
 * calls it after create(). Returns 0 or -ENOMEM. */
int opd_component_init_base(struct opd_component *c, const struct opd_factory *f,
                            const char *id);
/* Calls c's destroy op, then frees the base fields the engine filled. Components never
 * free their base fields themselves. NULL is a no-op. */
void opd_component_destroy(struct opd_component *c);

const char *opd_kind_name(enum opd_kind kind);

/* The registry: a plain table of every compiled-in factory. */
const struct opd_factory *opd_registry_find(enum opd_kind kind, const char *type);
/* Returns the NULL-terminated table. */
const struct opd_factory *const *opd_registry_all(void);

#endif
