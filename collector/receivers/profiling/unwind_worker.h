/* The thread that keeps the unwind tables in step with processes, off the process
 * watcher: building the tables of a large file not seen before takes up to a second
 * (libLLVM), and the watcher must meanwhile go on reading process events (metadata of
 * short-lived processes, CPython detection). The watcher queues pids here; the worker
 * publishes them (opd_unwind_glue_sync/_exec) and polls for walks that met unpublished
 * code (opd_unwind_glue_poll) every 50 ms. */
#ifndef OPD_PROFILING_UNWIND_WORKER_H
#define OPD_PROFILING_UNWIND_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_telemetry;
struct opd_unwind_worker;

/* What the worker does, called on its own thread only: the receiver passes the glue's
 * opd_unwind_glue_sync/_exec/_poll (opd_unwind_worker_glue_ops), tests their own. */
struct opd_unwind_worker_ops {
    int (*sync)(void *arg, uint32_t pid);
    int (*exec)(void *arg, uint32_t pid);
    void (*poll)(void *arg);
    void *arg; /* borrowed: must outlive the worker */
};

struct opd_unwind_glue;
/* The ops that drive glue g (borrowed). */
struct opd_unwind_worker_ops opd_unwind_worker_glue_ops(struct opd_unwind_glue *g);

/* Starts the worker. cap bounds the queue of pids waiting; a pid that does not fit is
 * counted (otelprofd_unwind_requests_dropped) and still published later, when its walks
 * report code with no table. tel may be NULL; id is the receiver="..." label. NULL with
 * errno (ENOMEM, or pthread_create's error). */
struct opd_unwind_worker *opd_unwind_worker_create(const struct opd_unwind_worker_ops *ops,
                                                   size_t cap, struct opd_telemetry *tel,
                                                   const char *id);

/* Stops and joins the thread (a build under way finishes first), drops what is queued and
 * frees the worker. NULL is a no-op. */
void opd_unwind_worker_destroy(struct opd_unwind_worker *w);

/* Queues pid for publishing: exec true when it replaced its image. first_ns: when its first
 * sample was taken (CLOCK_MONOTONIC), 0 when unknown; the time from then until its tables
 * are published is measured (otelprofd_unwind_tables_published_within). A pid already
 * queued is not queued twice (an exec upgrades the request). Never blocks on a table
 * build. */
void opd_unwind_worker_push(struct opd_unwind_worker *w, uint32_t pid, bool exec,
                            uint64_t first_ns);

#endif
