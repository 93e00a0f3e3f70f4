/* The kernel side as seen from user space: loads the BPF sampler, attaches it to one
 * perf_event per online CPU, swaps and drains the map generations, reads the kernel
 * counters and edits the scope filter. Not thread-safe: one thread drives it. */
#ifndef OPD_PROFILING_SAMPLER_H
#define OPD_PROFILING_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "bpf/profile.h"
#include "bpf/walk.h"
#include "collector/receivers/profiling/drain.h"

struct opd_sampler;

struct opd_sampler_opts {
    const char *who; /* log name, e.g. "receiver/profiling"; borrowed */
    uint32_t samples_per_second;
    bool cycles; /* hardware cycles instead of cpu-clock when available */
    bool kernel_frames;
    uint32_t max_frames;    /* 1..OPD_MAX_FRAMES */
    uint32_t count_entries; /* counts map size per generation */
    uint32_t stack_entries; /* stacks map size per generation */
    bool off_cpu;           /* load the off-CPU program too (offcpu.c attaches it) */
    bool memory;            /* load the allocation probes too (alloc.c attaches them) */
    uint32_t unwind_rows;   /* .eh_frame table rows (unwind_glue.c); 0: frame pointers */
    bool tables_required;   /* a refused table walk fails the load (else frame pointers) */
    uint32_t unwind_files;  /* table file slots */
};

/* Parts of the sampler a kernel may refuse while accepting the rest. */
enum opd_sampler_feature {
    OPD_SAMPLER_TABLES = 0, /* the .eh_frame table walk (else frame pointers) */
    OPD_SAMPLER_PYTHON,     /* CPython frames */
    OPD_SAMPLER_OFFCPU,     /* off-CPU programs */
    OPD_SAMPLER_MEMORY,     /* allocation probes */
    OPD_SAMPLER_EXEC_HOOK,  /* exec notifications */
    OPD_SAMPLER_FEATURES,
};

/* Opens and loads the BPF object (nothing attached yet). When the kernel refuses a
 * program only one feature needs, that feature is turned off (logged once as
 * "degraded: ...", see opd_sampler_degraded) and the rest loads. NULL with errno when
 * the core cannot load, after logging the program and the verifier's reason. */
struct opd_sampler *opd_sampler_create(const struct opd_sampler_opts *opts);

/* Why feature f was turned off at load (the refused program and the verifier's reason;
 * owned by s), or NULL when it was not. */
const char *opd_sampler_degraded(const struct opd_sampler *s, enum opd_sampler_feature f);
/* The feature's name for logs and metrics, e.g. "Python frames". */
const char *opd_sampler_feature_name(enum opd_sampler_feature f);
/* The options as loaded: those of opd_sampler_create() less the features turned off. */
const struct opd_sampler_opts *opd_sampler_effective_opts(const struct opd_sampler *s);
struct opd_bpf_load;
/* Each loaded program's verifier cost and the load time (owned by s). */
const struct opd_bpf_load *opd_sampler_load_report(const struct opd_sampler *s);
/* Detaches and frees everything. NULL is a no-op. */
void opd_sampler_destroy(struct opd_sampler *s);

struct profile_bpf;
/* The loaded BPF object (borrowed), for the off-CPU part that shares its filter, stacks
 * hashing and generations (offcpu.c). */
struct profile_bpf *opd_sampler_skel(struct opd_sampler *s);

/* Attaches to every online CPU not attached yet (re-reads the online list, so calling it
 * again picks up hot-added CPUs). Returns the number of CPUs attached in total, or
 * -errno when none could be (e.g. -EACCES, -ENOENT). */
int opd_sampler_attach(struct opd_sampler *s);
/* Stops sampling on every CPU (closes the events). What was recorded stays in the maps
 * for the next drain; opd_sampler_attach() starts again. */
void opd_sampler_detach(struct opd_sampler *s);
/* Whether the hardware cycles event is in use (false: cpu-clock). */
bool opd_sampler_uses_cycles(const struct opd_sampler *s);
/* Number of CPUs currently attached. */
int opd_sampler_ncpus(const struct opd_sampler *s);

/* Switches generations, waits until no program writes the old one, then moves its
 * counts and stacks into out (appended; out is not reset) and empties it. Returns 0 or
 * -errno (then part of the generation may be lost). */
int opd_sampler_drain(struct opd_sampler *s, struct opd_drain *out);

/* Fills total[OPD_CNT__MAX] with the kernel counters summed over CPUs since load.
 * Returns 0 or -errno. */
int opd_sampler_counters(struct opd_sampler *s, uint64_t total[OPD_CNT__MAX]);

/* Process events (first sample of a process, exec). fn is called for each from
 * opd_sampler_poll_events(), on the polling thread. Returns 0 or -errno. */
typedef void (*opd_proc_event_fn)(void *arg, const struct opd_proc_event *ev);
int opd_sampler_events_open(struct opd_sampler *s, opd_proc_event_fn fn, void *arg);
/* Waits up to timeout_ms for events and delivers them. Returns the number delivered or
 * -errno (-EINTR is harmless). Safe to call from one thread other than the drain's. */
int opd_sampler_poll_events(struct opd_sampler *s, int timeout_ms);

/* File descriptor of the loaded object's map called name (owned by the sampler), or
 * -ENOENT. Lets per-runtime helpers (python/) fill the maps their BPF part reads. */
int opd_sampler_map_fd(struct opd_sampler *s, const char *name);

/* Scope filter. mode is OPD_FILTER_INCLUDE, OPD_FILTER_EXCLUDE or 0 to remove the entry.
 * Returns 0 or -errno (-E2BIG when the filter map is full). */
int opd_sampler_filter_pid(struct opd_sampler *s, uint32_t pid, int mode);
int opd_sampler_filter_cgroup(struct opd_sampler *s, uint64_t cgroup_id, int mode);
/* When on, every exec is announced (not only of processes already sampled). */
void opd_sampler_all_execs(struct opd_sampler *s, bool on);
/* When on, only threads matching an include entry are sampled. */
void opd_sampler_include_active(struct opd_sampler *s, bool on);

/* Keys every record by the ids of the pid namespace with this nsfs device and inode (a
 * stat of /proc/self/ns/pid) and drops threads outside it (counted as filtered); ino 0
 * keeps the host's ids. Set before attaching. */
void opd_sampler_pidns(struct opd_sampler *s, uint64_t dev, uint64_t ino);

#endif
