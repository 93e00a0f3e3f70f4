/* Memory (allocation) profiles: the allocator uprobes of the sampler's BPF object
 * (alloc.bpf.c). This side picks the processes in the memory scope, attaches the probes
 * to each allocator file they map (libc, jemalloc, tcmalloc: malloc, calloc, realloc,
 * free, posix_memalign, aligned_alloc, mmap, munmap), detaches them when no profiled
 * process maps the file any more, and drains the sampled allocations as alloc_space,
 * alloc_objects and inuse_space records, scaled up to estimates as pprof does for its
 * sampled heap profiles. With a memory scope (pids, comm) the probes are attached per
 * process, so that other processes sharing the library pay nothing; without, once per
 * file for every process. Not thread-safe: the drain thread drives it. */
#ifndef OPD_PROFILING_ALLOC_H
#define OPD_PROFILING_ALLOC_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/alloc.h"
#include "collector/receivers/profiling/drain.h"

struct profile_bpf;
struct opd_sampler;
struct opd_alloc;

struct opd_alloc_config {
    const char *who;         /* log name; copied */
    const char *procfs_root; /* NULL: "/proc"; copied */
    uint64_t sample_bytes;   /* mean bytes between samples, > 0 */
    /* Memory scope: processes with one of these pids or whose name matches one of these
     * regexes; every process (in the receiver's scope) when both are empty. Borrowed
     * for the object's life. */
    const uint32_t *pids;
    size_t n_pids;
    const regex_t *comm;
    size_t n_comm;
};

/* Between open and load of the sampler's object: whether the allocation programs are
 * loaded; when not, their maps shrink to one entry. */
void opd_alloc_configure(struct profile_bpf *skel, bool on);

/* Fills the interval table: OPD_ALLOC_INTERVALS quantiles of the exponential
 * distribution with mean `mean` (each at least 1), so that a random entry makes a
 * Poisson process of samples over the bytes allocated. */
void opd_alloc_intervals(uint64_t mean, uint64_t out[OPD_ALLOC_INTERVALS]);

/* Scales count sampled allocations totalling bytes, sampled at one per `rate` bytes on
 * average, up to estimates of all allocations of that kind (pprof's scaleHeapSample:
 * each is weighted by 1 / (1 - exp(-avg / rate))). */
void opd_alloc_scale(uint64_t count, uint64_t bytes, uint64_t rate, uint64_t *objects,
                     uint64_t *space);

/* Whether path (as in /proc/PID/maps) is an allocator library whose functions are
 * probed: libc, jemalloc or tcmalloc. */
bool opd_alloc_is_allocator(const char *path);

/* Starts memory profiling on s (created with opts.memory): fills the interval table and
 * turns the probes on; nothing is attached until opd_alloc_refresh(). s is borrowed and
 * must outlive the result. NULL with errno on failure. */
struct opd_alloc *opd_alloc_create(struct opd_sampler *s, const struct opd_alloc_config *cfg);
/* Detaches every probe and frees. NULL is a no-op. */
void opd_alloc_destroy(struct opd_alloc *a);

/* Rescans the processes: in-scope ones are profiled and their allocator files probed;
 * files no profiled process maps any more are detached. Returns the number of profiled
 * processes or -errno when /proc cannot be read. */
int opd_alloc_refresh(struct opd_alloc *a);

/* Call right after opd_sampler_drain(s, out): moves the sampled allocations of the
 * generation just switched away from into out (OPD_PROF_ALLOC_SPACE and
 * OPD_PROF_ALLOC_OBJECTS records), adds one OPD_PROF_INUSE_SPACE record per key of the
 * live sampled blocks of profiled processes, plus the stacks they refer to, and sorts
 * out's stacks again. Returns 0, -ENOMEM or -errno of a map operation. */
int opd_alloc_drain(struct opd_alloc *a, struct opd_drain *out);

/* Counters since start, by enum opd_alloc_counter: sampled allocations, blocks not
 * tracked because the live map was full (the bounded map's overflow), samples lost to a
 * full counts map, sampled blocks freed. Returns 0 or -errno. */
int opd_alloc_counters(struct opd_alloc *a, uint64_t out[OPD_ACNT__MAX]);

#endif
