/* The .eh_frame table unwinder as the profiling receiver runs it: sizes its BPF maps
 * before the sampler loads, keeps the unwind tables and per-process ranges in step with
 * the processes the sampler sees (first sample, exec, dlopen, exit, pid reuse), and turns
 * the kernel-side walk counters into self metrics.
 *
 * Thread safe: the receiver calls opd_unwind_glue_sync/_exec/_poll() from its unwind
 * worker (unwind_worker.h) and opd_unwind_glue_tick() from its drain thread. */
#ifndef OPD_PROFILING_UNWIND_GLUE_H
#define OPD_PROFILING_UNWIND_GLUE_H

#include <stdint.h>

struct opd_sampler;
struct opd_telemetry;
struct profile_bpf;

/* Bytes of one table row in the kernel (struct opd_unwind_row). */
#define OPD_UNWIND_GLUE_ROW_BYTES 16u

struct opd_unwind_glue_config {
    const char *who;         /* log name, e.g. "receiver/profiling"; borrowed */
    const char *id;          /* value of the receiver="..." metric label; borrowed */
    const char *procfs_root; /* NULL: "/proc" */
    uint32_t capacity_rows;  /* rows map size (table memory / 16 bytes) */
    uint32_t max_files;      /* file slots */
};

/* Between open and load of the sampler's object: with rows > 0 the sampler walks user
 * stacks with the tables and the table maps get rows and files entries; with rows == 0
 * it walks frame pointers and the table maps shrink to one entry each. */
void opd_unwind_glue_configure(struct profile_bpf *skel, uint32_t rows, uint32_t files);

struct opd_unwind_glue;

/* Binds to the loaded sampler s (borrowed; must outlive the glue, which only reads and
 * writes its maps). tel may be NULL. NULL with errno EINVAL (s loaded without tables) or
 * ENOMEM. */
struct opd_unwind_glue *opd_unwind_glue_create(struct opd_sampler *s,
                                               const struct opd_unwind_glue_config *cfg,
                                               struct opd_telemetry *tel);

/* Frees the glue; what it published stays in the maps until the sampler goes. NULL is a
 * no-op. */
void opd_unwind_glue_destroy(struct opd_unwind_glue *g);

/* (Re)publishes pid's executable mappings, at its first sample. Builds the tables of
 * files not seen before. Returns 0, -ESRCH when the process is gone, or another negative
 * errno (counted and logged at debug level: that process falls back to frame pointers). */
int opd_unwind_glue_sync(struct opd_unwind_glue *g, uint32_t pid);

/* pid exec'd: re-publishes it when it was published before (its old ranges are stale),
 * else does nothing and returns -ENOENT: exec notifications also come for processes out
 * of scope, and an in-scope one is synced at its first sample. Errors as above. */
int opd_unwind_glue_exec(struct opd_unwind_glue *g, uint32_t pid);

/* Publishes processes whose samples hit no range (new code mapped, processes sampled
 * before their announcement was handled). Cheap when there are none: meant for the
 * unwind worker's loop, so that new code gets tables well within a drain interval and
 * table builds delay neither the drain nor the process events. */
void opd_unwind_glue_poll(struct opd_unwind_glue *g);

/* Once per drain interval: what opd_unwind_glue_poll() does, then drops the ranges of
 * processes that exited or whose pid was reused, and updates the metrics. */
void opd_unwind_glue_tick(struct opd_unwind_glue *g);

#endif
