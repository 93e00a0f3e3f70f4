/* CPython support of the profiling receiver: finds CPython in a sampled process, publishes
 * what the BPF walk (bpf/python.bpf.h) needs into its map, and turns the Python frame
 * words of a recorded stack into function, file and line, merged into the native stack.
 *
 * Thread safety: every function locks the object; the event thread attaches processes
 * while the drain thread resolves frames. */
#ifndef OPD_PROFILING_PYTHON_H
#define OPD_PROFILING_PYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/python/pycode.h"

struct opd_proc;
struct opd_telemetry;

struct opd_python_config {
    const char *procfs_root; /* NULL means "/proc" */
    int map_fd;              /* opd_py_procs of the loaded sampler; -1: none (tests) */
    size_t max_procs;        /* CPython processes tracked; 0 means 4096 */
    size_t cache_slots;      /* code objects cached; 0 means 2048 (rounded up to 2^k) */
    int prefetch_ms;         /* period of the read-ahead of code objects; 0 means 200,
                              * < 0: no read-ahead thread (opd_python_prefetch only) */
    int recheck_ms;          /* a process attached without CPython is inspected again this
                              * long after (libpython loaded later), then at doubling
                              * intervals; 0 means 5000, < 0 never */
};

/* Counters (also exported as self-metrics when created with telemetry). */
struct opd_python_stats {
    uint64_t processes;   /* CPython processes published to the BPF walk */
    uint64_t unsupported; /* CPython processes of an unknown version: native frames only */
    uint64_t frames;      /* Python frames resolved */
    uint64_t unresolved;  /* Python frames whose code object could not be read */
    uint64_t cache_hits, cache_misses;
    uint64_t prefetch_rounds; /* read-ahead rounds run */
    uint64_t prefetched;      /* code objects read ahead of the drain */
    uint64_t exited;          /* tracked processes seen gone by the read-ahead */
    uint64_t rechecks;        /* rechecks of a process that had no CPython */
    uint64_t reinspections;   /* rechecks whose python mappings changed: files inspected */
    uint64_t late;            /* processes found running CPython on a recheck */
};

/* One resolved Python frame. Strings point into the object's cache and stay valid until
 * the next call on the object. */
struct opd_python_frame {
    const char *function; /* qualified name (3.11+), else the name */
    const char *name;     /* co_name */
    const char *file;     /* co_filename */
    int32_t line;
};

struct opd_python;

/* Creates the tracker. cfg is copied. tel may be NULL. who names the component in logs;
 * it is copied. Unless cfg->prefetch_ms < 0 it starts a thread that every prefetch_ms
 * reads the code objects on the stacks of up to 32 tracked processes (256 objects at most)
 * into the cache, so that names survive a process that exits before the drain, and notices
 * exited processes: their entries stay, for the samples still to drain, until room is
 * needed. NULL with errno ENOMEM (or the thread's creation error) on failure. */
struct opd_python *opd_python_create(const struct opd_python_config *cfg, struct opd_telemetry *tel,
                                     const char *who);
/* Frees everything and removes every published entry from the map. NULL is a no-op. */
void opd_python_destroy(struct opd_python *py);

/* Inspects the executable mappings of proc (from the process table). Returns 1 when the
 * process runs a supported CPython (now published to the BPF map), 0 when it runs none
 * (then the pid is inspected again recheck_ms later and at intervals doubling up to
 * 5 minutes, among the 1024 most recent such pids, at most 4 per read-ahead round, in case
 * it loads libpython later),
 * -ENOTSUP for a CPython of an unknown version (counted; its samples keep native frames),
 * or -errno (-ENOMEM, -ENOSPC when max_procs are tracked). */
int opd_python_attach(struct opd_python *py, const struct opd_proc *proc);

/* One read-ahead round now, in the caller's thread (what the thread does each period):
 * reads code objects ahead and rechecks the processes that are due. Returns 0. */
int opd_python_prefetch(struct opd_python *py);

/* Forgets pid (exit, exec) and removes it from the map. Unknown pids are a no-op. */
void opd_python_forget(struct opd_python *py, int32_t pid);

/* Whether pid is a tracked CPython process. */
bool opd_python_tracked(struct opd_python *py, int32_t pid);

/* Merges a recorded user stack: ip[0..len) holds native frames (leaf first) followed by
 * Python frame words (OPD_PY_TAG). Writes into out (cap entries) the native frames with
 * each eval-call segment of Python frames placed just before (leaf side of) the
 * _PyEval_EvalFrameDefault frame it belongs to; segments left over (the native walk
 * ended early) go after the last native frame. Python words are the tagged suffix of
 * ip; tagged words before it (garbage of a frame-pointer walk) are dropped. Returns the
 * number written. Stacks without Python words are copied unchanged. */
size_t opd_python_merge(struct opd_python *py, int32_t pid, const uint64_t *ip, size_t len,
                        uint64_t *out, size_t cap);

/* The same merge, pure: is_eval tells whether a native pc is in the eval loop. */
size_t opd_python_merge_with(const uint64_t *ip, size_t len, bool (*is_eval)(void *, uint64_t),
                             void *arg, uint64_t *out, size_t cap);

/* Resolves one Python frame word of pid. Returns 0, -ESRCH when pid is not tracked,
 * -ENOENT when its code object cannot be read (stale or freed), -ENOMEM. */
int opd_python_frame(struct opd_python *py, int32_t pid, uint64_t word,
                     struct opd_python_frame *out);

/* A copy of the counters. */
void opd_python_stats(struct opd_python *py, struct opd_python_stats *out);

/* Reads len bytes at addr of process pid (process_vm_readv). Returns 0 or -errno; a short
 * read is -EFAULT. Exposed for tests. */
int opd_python_read_mem(int32_t pid, uint64_t addr, void *buf, size_t len);

#endif
