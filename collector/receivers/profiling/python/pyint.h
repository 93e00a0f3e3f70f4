/* Internals shared by the files of the CPython tracker (python.c: tracking, publishing,
 * resolution, merging; pyahead.c: reading code objects ahead of the drain and rechecking
 * processes without CPython). Not for use outside this directory. */
#ifndef OPD_PROFILING_PYINT_H
#define OPD_PROFILING_PYINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/pycode.h"
#include "collector/receivers/profiling/python/python.h"

/* Processes and code objects one prefetch round looks at, at most: bounds the time the
 * round takes whatever the number of CPython processes (the rest wait for later rounds). */
#define PREFETCH_PROCS 32
#define PREFETCH_CODES 256
#define PREFETCH_READS 4096 /* memory reads of one round (about 1 us each) */

/* The code object cache is set-associative, so that two hot objects (or a hot one and one
 * of an exited process still to drain) that hash alike do not evict each other. */
#define CACHE_WAYS 4

/* Processes without CPython are inspected again later, in case they load libpython
 * (embedding): the WATCH_SLOTS most recent ones, each recheck_ms after it was first seen,
 * then at intervals doubling up to RECHECK_MAX_NS, at most RECHECK_PROCS per round. */
#define WATCH_SLOTS     1024
#define RECHECK_MAX_NS  (300ULL * 1000000000ULL) /* embedders load libpython early in life */
#define RECHECK_PROCS   4
#define RECHECK_SOON_NS (100ULL * 1000000ULL) /* first interval of a python launcher */
#define MAPS_MAX        (8u << 20)            /* larger /proc/PID/maps files are not reread */

struct py_watch {
    int32_t pid; /* 0: free */
    uint64_t due_ns;
    uint64_t every_ns; /* doubles after each recheck that finds nothing, up to RECHECK_MAX */
    uint64_t sig;      /* hash of its maps lines naming python at the last check; 0: none yet */
};

/* One tracked CPython process, in an open-addressing table keyed by pid (0 = empty). */
struct py_proc {
    int32_t pid;
    bool dead;    /* exited: kept, with its cached code objects, for the samples still to drain */
    uint64_t gen; /* attach count when published; dead: when it exited */
    const struct opd_py_layout *layout;
    uint64_t runtime;              /* _PyRuntime in the process */
    uint64_t code_type;            /* &PyCode_Type in the process */
    uint64_t eval_start, eval_end; /* eval loop in the process */
};

struct code_slot {
    int32_t pid;
    bool used;
    bool bad; /* the read failed: remembered so a stale address is not reread per frame */
    uint64_t addr;
    uint64_t used_at; /* py->tick of the last lookup that found or chose it */
    struct opd_py_code code;
};

struct opd_python {
    pthread_mutex_t lock;
    char *who;
    char *procfs_root;
    int map_fd;
    struct py_proc *procs;
    size_t procs_cap, n_procs, max_procs;
    struct code_slot *cache;
    size_t cache_cap; /* slots: sets of CACHE_WAYS */
    uint64_t tick;    /* cache lookups, for least-recently-used eviction */
    struct opd_python_stats st;
    struct opd_metric *m_processes, *m_unsupported, *m_unresolved, *m_prefetched, *m_late;
    uint64_t gen;  /* counts attachments and exits: orders entries by age */
    size_t cursor; /* next process table slot a prefetch round starts at */
    pthread_t thread;
    pthread_cond_t wake;
    bool thread_started, stop;
    int period_ms;
    struct py_watch *watch; /* ring of WATCH_SLOTS, NULL when rechecks are off */
    size_t watch_head, watch_scan;
    uint64_t recheck_ns;
};

/* Every function below expects py->lock held by the caller. */

/* The tracked process pid (running or exited), or NULL. */
struct py_proc *opd_py_proc_find(struct opd_python *py, int32_t pid);

/* The cache slot of the code object at addr of pid: *hit set, the slot holding it (maybe
 * as a failed read, see bad), now the most recently used; else *hit clear, the slot to fill
 * in its set of CACHE_WAYS (a free one, else the least recently used), whose filler sets
 * used_at to py->tick. */
struct code_slot *opd_py_cache_slot(struct opd_python *py, int32_t pid, uint64_t addr, bool *hit);

/* opd_python_attach() without the recheck bookkeeping. Sets *named when a file named like
 * python is mapped but holds no interpreter (it may be about to load libpython). */
int opd_py_attach_locked(struct opd_python *py, const struct opd_proc *proc, bool *named);

/* Remembers pid, which runs no CPython yet, for rechecks; the oldest entry gives way.
 * soon: first recheck at the next round (a launcher whose libpython the loader has not
 * mapped yet when the process was first seen), else after recheck_ms. */
void opd_py_watch_add(struct opd_python *py, int32_t pid, bool soon);

/* The read-ahead thread (arg: the struct opd_python); lock not held. Returns NULL when
 * py->stop is set. */
void *opd_py_ahead_thread(void *arg);

#endif
