/* Kernel memory of the BPF maps the profiling receiver creates: measured per map after load
 * (self metrics and one start-up log line beside RSS), and planned before load so that the
 * sum stays within the receiver's bpf_memory_limit_mib.
 *
 * On kernels >= 5.11 map memory is charged to the daemon's memory cgroup like RSS, so a
 * pod's memory limit sees both; before that it counted against RLIMIT_MEMLOCK.
 *
 * Bytes of one map: the kernel's own figure when it gives one (the "memlock" line of
 * /proc/self/fdinfo/<map fd>, exact on kernels >= 6.4), else an estimate from bpf_map_info
 * (opd_bpf_map_estimate below): type, key and value sizes, max_entries and the per-type
 * overhead of the kernel's allocation (element headers, bucket arrays, per-CPU copies for
 * every possible CPU). Maps that allocate on insert (hash maps with BPF_F_NO_PREALLOC, LPM
 * tries) are estimated from their current number of entries, counted by walking their keys
 * (at most max_entries steps), since only the kernel knows what they hold; that estimate is
 * refreshed at every drain. */
#ifndef OPD_PROFILING_BPF_MEMORY_H
#define OPD_PROFILING_BPF_MEMORY_H

#include <stddef.h>
#include <stdint.h>

struct bpf_object;
struct opd_sampler;
struct opd_telemetry;

/* What the estimate needs from bpf_map_info. */
struct opd_bpf_map_shape {
    uint32_t type; /* enum bpf_map_type */
    uint32_t key_size, value_size, max_entries, map_flags;
};

/* Estimated kernel bytes of a map of this shape, with ncpus possible CPUs; entries is the
 * number of entries held, used only by maps that allocate on insert. Never fails. */
uint64_t opd_bpf_map_estimate(const struct opd_bpf_map_shape *m, int ncpus, uint64_t entries);

/* The maps sized from the receiver's options, before load. */
struct opd_bpf_sizing {
    uint64_t limit;          /* bytes; 0 = unbounded */
    uint64_t fixed;          /* bytes of every other map (an allowance, checked after load) */
    int ncpus;               /* possible CPUs */
    uint32_t count_entries;  /* in/out: each of the two counts maps */
    uint32_t count_key_size; /* struct opd_sample_key */
    uint32_t stack_entries;  /* in/out: each of the two stacks maps */
    uint32_t stack_value_size;
    uint64_t unwind_bytes;   /* in/out: unwind table rows; 0 = frame pointers only */
    uint32_t unwind_row_size;
};

/* Bytes of the maps described by s (fixed part included), as planned. */
uint64_t opd_bpf_sizing_bytes(const struct opd_bpf_sizing *s);

/* Shrinks the largest of the sized maps, 10 % at a time, until the total fits s->limit
 * (never below 1024 entries per counts or stacks map or 1 MiB of unwind table). Returns 0
 * when it fits (s updated, possibly unchanged), or -E2BIG with the reason in err when even
 * the smallest sizes do not. */
int opd_bpf_sizing_fit(struct opd_bpf_sizing *s, char *err, size_t errlen);

struct opd_bpf_memory;

/* Measures every map of the loaded object obj (borrowed: it must outlive the result) and
 * publishes otelprofd_profiling_bpf_map_bytes{receiver=id,map=NAME} per map,
 * otelprofd_profiling_bpf_memory_bytes{receiver=id} (their sum) and
 * otelprofd_profiling_bpf_memory_limit_bytes (limit, 0 = none) in tel (may be NULL: then
 * nothing is published). NULL with errno on failure. */
struct opd_bpf_memory *opd_bpf_memory_create(struct bpf_object *obj, uint64_t limit,
                                             struct opd_telemetry *tel, const char *id);

/* The same over the sampler's loaded skeleton (borrowed). */
struct opd_bpf_memory *opd_bpf_memory_of_sampler(struct opd_sampler *s, uint64_t limit,
                                                 struct opd_telemetry *tel, const char *id);

/* Measures again (maps that allocate on insert change) and updates the gauges; logs a
 * warning when the total first goes over the limit. Returns the total in bytes. */
uint64_t opd_bpf_memory_refresh(struct opd_bpf_memory *m);

/* Total bytes at the last measurement, and how many maps were measured / estimated. */
uint64_t opd_bpf_memory_total(const struct opd_bpf_memory *m);
void opd_bpf_memory_counts(const struct opd_bpf_memory *m, size_t *maps, size_t *estimated);

/* NULL is a no-op. */
void opd_bpf_memory_destroy(struct opd_bpf_memory *m);

/* ---- the receiver's use ---- */

/* Bytes allowed for the maps not sized from the options (filters, counters, seen set, ring
 * buffer, CPython, off-CPU, allocation and unwind range maps ...), which
 * opd_bpf_memory_report checks after load. Measured: 2.7 MiB with 2 possible CPUs on
 * 6.18, of which about 60 KiB per CPU in the per-CPU scratch maps; the allowance is
 * 8 MiB plus 128 KiB per possible CPU. */
#define OPD_BPF_FIXED_ALLOWANCE(ncpus) ((8ull << 20) + (128ull << 10) * (uint64_t)(ncpus))

struct opd_sampler_opts;

/* For validate: 0 when maps of these sizes (counts and stacks maps per generation, frame
 * budget, unwind table bytes) can be made to fit limit, else -E2BIG with the reason. */
int opd_bpf_memory_check_config(uint64_t limit, uint32_t frames, uint32_t count_entries,
                                uint32_t stack_entries, uint64_t unwind_bytes, char *err,
                                size_t errlen);

/* Before load: sizes so's counts, stacks and unwind maps down to fit limit, logging what it
 * changed. 0, or -E2BIG (logged) when they cannot fit. */
int opd_bpf_memory_plan(struct opd_sampler_opts *so, uint64_t limit, const char *who);

/* After load: logs the maps' total beside the process's RSS, and returns -E2BIG (logged)
 * when the total exceeds limit (non-zero). */
int opd_bpf_memory_report(struct opd_bpf_memory *m, uint64_t limit, const char *who);

#endif
