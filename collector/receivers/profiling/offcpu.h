/* Off-CPU profiles: the sched_switch program of the sampler's BPF object (offcpu.bpf.c)
 * records, for a sampled fraction of context switches, where a thread left the CPU and,
 * when it comes back, how long it was away. This side attaches it and drains its map
 * generation together with the sampler's, as OPD_PROF_OFF_CPU records whose values are
 * off-CPU nanoseconds scaled up by the sampled fraction. Not thread-safe: the drain
 * thread drives it. */
#ifndef OPD_PROFILING_OFFCPU_H
#define OPD_PROFILING_OFFCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/receivers/profiling/drain.h"

struct profile_bpf;
struct opd_sampler;
struct opd_offcpu;

/* Between open and load of the sampler's object: whether the off-CPU program is loaded
 * at all; when not, its maps shrink to one entry so that they cost nothing. */
void opd_offcpu_configure(struct profile_bpf *skel, bool on);

/* The kernel threshold for a fraction in [0, 1] of switches to record: 0 = none,
 * UINT32_MAX = all. Values outside the range are clamped. */
uint32_t opd_offcpu_threshold(double fraction);
/* Scales the off-CPU time recorded under threshold thr up to an estimate of all of it.
 * Saturates instead of wrapping. */
uint64_t opd_offcpu_scale(uint64_t ns, uint32_t thr);

/* Attaches the off-CPU program of s (created with opts.off_cpu) recording fraction of
 * the switches. s is borrowed and must outlive the result; who is copied. NULL with
 * errno on failure (e.g. EINVAL for a fraction <= 0, or the attach error). */
struct opd_offcpu *opd_offcpu_create(struct opd_sampler *s, double fraction, const char *who);
/* Detaches and frees. NULL is a no-op. */
void opd_offcpu_destroy(struct opd_offcpu *o);

/* Call right after opd_sampler_drain(s, out): moves the off-CPU times of the generation
 * it just switched away from into out, plus the stacks they refer to that out lacks, and
 * sorts out's stacks again. Returns 0, -ENOMEM, or -errno of a map operation. */
int opd_offcpu_drain(struct opd_offcpu *o, struct opd_drain *out);

#endif
