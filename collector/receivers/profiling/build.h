/* Turns one drained generation into one OTLP-shaped batch: one resource per process
 * (pid, executable, container, service, host), one scope "otelprofd", one CPU profile
 * (samples/count, period cpu/nanoseconds = 1e9/Hz) and one profile per other record kind
 * present (off_cpu/nanoseconds, alloc_space/bytes, alloc_objects/count,
 * inuse_space/bytes), whose samples carry thread.name and
 * thread.id and whose stacks are symbolized locations (kernel frames leaf-most, then
 * user frames). */
#ifndef OPD_PROFILING_BUILD_H
#define OPD_PROFILING_BUILD_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/receivers/profiling/drain.h"

struct opd_batch;
struct opd_proctab;
struct opd_python;
struct opd_symbolizer;

struct opd_build_params {
    struct opd_proctab *tab;    /* required */
    struct opd_symbolizer *sym; /* NULL: frames keep address and mapping only */
    struct opd_python *py;      /* NULL: CPython frames are dropped, native ones kept */
    const char *host_name;
    const char *scope_version;
    uint32_t samples_per_second;
    uint64_t alloc_sample_bytes; /* period of the memory profiles */
    bool service_name_from_env;
    uint64_t now; /* CLOCK_MONOTONIC ns, for the process table */
    /* Process names (comm) a process must match one of (NULL/0: all) and must match
     * none of. Borrowed, compiled POSIX extended regexes. */
    const regex_t *comm_include;
    size_t n_comm_include;
    const regex_t *comm_exclude;
    size_t n_comm_exclude;
};

struct opd_build_stats {
    uint64_t samples;       /* sum of counts put in the batch */
    uint64_t filtered;      /* samples dropped by the comm filter */
    uint64_t processes;     /* resources */
    uint64_t frames;        /* distinct frames looked up */
    uint64_t frames_named;  /* ... of which got a function name */
    uint64_t no_user_stack; /* samples whose user stack id was missing from the drain */
};

/* Builds the batch for d (borrowed). Returns a new batch (refs = 1; possibly without
 * resources when d is empty or everything was filtered) or NULL with errno = ENOMEM.
 * stats (may be NULL) is overwritten. */
struct opd_batch *opd_profiling_build(const struct opd_build_params *p, const struct opd_drain *d,
                                      struct opd_build_stats *stats);

/* Whether comm passes the include/exclude regexes of p. */
bool opd_profiling_comm_allowed(const struct opd_build_params *p, const char *comm);

#endif
