/* Turns one drained generation into one OTLP-shaped batch: one resource per process
 * (pid, executable, container, service, host); in scope "otelprofd" one CPU profile
 * (samples/count, period cpu/nanoseconds = 1e9/Hz) and an off-CPU one (off_cpu/nanoseconds,
 * empty period type) when there are such records; in scope "otelprofd.memory" one profile
 * per memory record kind present (alloc_space/bytes, alloc_objects/count,
 * inuse_space/bytes; period memory/bytes = the sampling interval). Samples carry the
 * per-sample attributes of struct opd_sample_attrs (samples left with the same stack and
 * attributes are merged) and their stacks are symbolized locations (kernel frames
 * leaf-most, then user frames). */
#ifndef OPD_PROFILING_BUILD_H
#define OPD_PROFILING_BUILD_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/receivers/profiling/drain.h"
#include "config/config_map.h"

struct opd_batch;
struct opd_proctab;
struct opd_python;
struct opd_symbolizer;

/* Which attributes each sample carries, and in which form. */
struct opd_sample_attrs {
    bool thread_name; /* thread.name */
    bool thread_id;   /* thread.id */
    /* thread.name with every run of digits replaced by '*' (worker-17 → worker-*), so a
     * pool of threads is one value */
    bool normalize_thread_names;
    /* Distinct thread.name values per process and profile; the rest of the threads are
     * "[other]" (the names with the least weight go first). 0: no bound. */
    uint32_t max_thread_names;
    /* process.pid and thread.id as string values instead of integers (backends such as
     * Parca make labels of strings only). */
    bool string_values;
};

/* The receiver's defaults: thread.name, normalized, at most 32 names per profile. */
extern const struct opd_sample_attrs opd_sample_attrs_default;

/* Fills out from the receiver's options (sample_attributes, thread_names,
 * max_thread_names, string_attributes). Returns 0, or -EINVAL with the reason in err
 * (an attribute name that is not one of thread.name and thread.id). */
int opd_sample_attrs_from_config(const struct opd_strlist *names, const char *thread_names,
                                 int64_t max_thread_names, bool string_values,
                                 struct opd_sample_attrs *out, char *err, size_t errlen);

/* Digits-to-'*' normalization of a thread name into out (at least strlen(name) + 1 bytes):
 * each run of decimal digits becomes one '*'. */
void opd_thread_name_normalize(const char *name, char *out);

struct opd_build_params {
    struct opd_proctab *tab;    /* required */
    struct opd_symbolizer *sym; /* NULL: frames keep address and mapping only */
    struct opd_python *py;      /* NULL: CPython frames are dropped, native ones kept */
    const char *host_name;
    const char *scope_version;
    const struct opd_sample_attrs *attrs; /* NULL: opd_sample_attrs_default */
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
