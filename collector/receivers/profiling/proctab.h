/* Process table of the profiling receiver: what /proc says about each sampled process.
 *
 * Build: this header and symbolizer.h belong to the static library
 * `opd_profiling_symbolize`, defined in collector/receivers/profiling/symbolize.cmake.
 * The receiver's CMakeLists.txt does `include(${CMAKE_CURRENT_SOURCE_DIR}/symbolize.cmake)`
 * and links `opd_profiling_symbolize` (it brings libelf, libdw and libiberty).
 *
 * Per pid the table keeps {pid, start time, comm, exe path, cgroup path, container.id,
 * pod UID, optional OTEL_* environment, executable mappings}. The procfs root is
 * configurable ("/proc", or "/host/proc" in a container with the host's /proc mounted).
 *
 * Lifetime of returned pointers: a `const struct opd_proc *` (and its mappings) stays valid
 * until the next opd_proctab_sweep(), even if the entry is refreshed or evicted meanwhile:
 * replaced data is parked and freed by the sweep. The intended cycle per reporter interval:
 *     for each aggregated sample: opd_proctab_get(), opd_proctab_find_mapping(), symbolize
 *     opd_symbolizer_flush(); opd_proctab_sweep(now);
 * The table is not thread safe: one thread (the drain) uses it, or the caller locks.
 *
 * Exited processes: the sweep notices a process whose /proc entry is gone (or whose start
 * time changed: pid reuse) and keeps its last known metadata for `grace_ns`, so samples
 * drained after it exited are still attributed. Time is injected (`now`, nanoseconds of any
 * monotonic clock) so tests can move it by hand. */
#ifndef OPD_PROFILING_PROCTAB_H
#define OPD_PROFILING_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_telemetry;

/* Bits of opd_proc_mapping.prot. */
#define OPD_MAP_READ    0x1u
#define OPD_MAP_WRITE   0x2u
#define OPD_MAP_EXEC    0x4u
#define OPD_MAP_PRIVATE 0x8u

/* One line of /proc/PID/maps. Only executable mappings are kept in a process entry. */
struct opd_proc_mapping {
    uint64_t start;   /* first address */
    uint64_t end;     /* one past the last address */
    uint64_t offset;  /* file offset of start */
    uint64_t dev;     /* makedev(major, minor) as printed in maps */
    uint64_t inode;   /* 0 for anonymous mappings */
    uint32_t prot;    /* OPD_MAP_* */
    const char *path; /* as printed by the kernel ("/usr/lib/libc.so.6", "[vdso]", "" when
                         anonymous); may end in " (deleted)". Owned by the table. */
};

/* Last known metadata of one process. Every string is owned by the table; "" when unknown. */
struct opd_proc {
    int32_t pid;          /* in the procfs root's pid namespace */
    int32_t nspid;        /* pid inside the process's own pid namespace (perf-PID.map) */
    uint64_t start_time;  /* field 22 of /proc/PID/stat (clock ticks since boot) */
    char comm[17];        /* /proc/PID/comm */
    const char *exe_path; /* readlink /proc/PID/exe, as seen inside the process's root */
    const char *cgroup;   /* the cgroup path (v2 "0::" line, else the first v1 line) */
    char container_id[65];
    char pod_uid[37]; /* with dashes, also when the cgroup path spells it with underscores */
    /* Environment (only when the table was created with read_env). service_name is
     * OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES, else "". */
    const char *service_name;
    const char *resource_attributes;     /* raw OTEL_RESOURCE_ATTRIBUTES or "" */
    const struct opd_proc_mapping *maps; /* executable mappings sorted by start */
    size_t n_maps;
    bool exited;        /* gone from /proc: metadata is the last known */
    uint64_t seen_at;   /* `now` of the last successful read */
    uint64_t exited_at; /* `now` of the sweep that noticed the exit */
};

struct opd_proctab_config {
    const char *procfs_root; /* NULL means "/proc" */
    size_t max_procs;        /* bound on live + exited entries; 0 means 4096 */
    uint64_t grace_ns;       /* how long an exited process is kept; typically one interval */
    bool read_env;           /* read OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES */
};

struct opd_proctab;

/* Creates a table. cfg is copied (procfs_root too). tel may be NULL; otherwise the gauge
 * otelprofd_profiling_processes_tracked and the counters otelprofd_profiling_process_evictions
 * and otelprofd_profiling_process_reads_failed are registered with label `receiver="<who>"`.
 * who names the component in logs (e.g. "receiver/profiling"); it is copied.
 * Returns NULL with errno (ENOMEM, EINVAL) on failure. */
struct opd_proctab *opd_proctab_create(const struct opd_proctab_config *cfg,
                                       struct opd_telemetry *tel, const char *who);

/* Frees the table and everything it returned. NULL is a no-op. */
void opd_proctab_destroy(struct opd_proctab *t);

/* Returns the entry for pid, reading /proc on first sight. A known live entry is returned
 * from the cache; an entry marked exited is replaced when /proc shows a new process under
 * the same pid, else its last known metadata is returned. When the table is full the least
 * recently used entry is evicted (counted). Returns NULL with errno: ESRCH when the process
 * is unknown and gone, ENOMEM, EINVAL. The pointer is valid until opd_proctab_sweep(). */
const struct opd_proc *opd_proctab_get(struct opd_proctab *t, int32_t pid, uint64_t now);

/* Returns the executable mapping of pid that contains addr, rereading /proc/PID/maps once
 * per sweep interval when addr is outside every known mapping (dlopen, JIT). NULL with
 * errno ENOENT when no mapping holds addr, ESRCH when the process is unknown and gone.
 * *proc_out (may be NULL) receives the process entry. Valid until opd_proctab_sweep(). */
const struct opd_proc_mapping *opd_proctab_find_mapping(struct opd_proctab *t, int32_t pid,
                                                        uint64_t addr, uint64_t now,
                                                        const struct opd_proc **proc_out);

/* Marks pid stale so its next lookup rereads everything (call on exec). No-op if unknown. */
void opd_proctab_invalidate(struct opd_proctab *t, int32_t pid);

/* Copies the name of thread tid of process pid (/proc/PID/task/TID/comm) into buf (always
 * NUL-terminated). Names are reread at most once per interval (so renames show) and cached
 * per process until the process is dropped, so a thread that exited after being seen once
 * still has its name. Returns 0, -ESRCH when neither the
 * cache nor /proc knows the thread, -EINVAL on bad arguments. */
int opd_proctab_thread_name(struct opd_proctab *t, int32_t pid, int32_t tid, char *buf, size_t len,
                            uint64_t now);

/* End of an interval: frees data parked since the last sweep, rechecks every live entry
 * against /proc (marking exits and pid reuse), drops exited entries older than grace_ns,
 * and allows one more maps reread per process. Invalidates every pointer returned before. */
void opd_proctab_sweep(struct opd_proctab *t, uint64_t now);

/* Number of entries (live and exited). */
size_t opd_proctab_count(const struct opd_proctab *t);

/* ---- pure helpers (exposed for the receiver's scope filter, tests and fuzzing) ---------- */

/* Extracts the container id (64 or fewer hex/alnum chars as the runtime wrote it) and pod UID
 * from a cgroup path such as
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
 *       cri-containerd-<64hex>.scope             (containerd, systemd driver)
 *   /kubepods/burstable/pod<uid>/<64hex>         (cgroupfs driver)
 *   /system.slice/docker-<64hex>.scope, /docker/<64hex>, .../crio-<64hex>.scope, libpod-...
 * Writes "" when absent. container_id needs 65 bytes, pod_uid 37. Returns 0, or -EINVAL
 * when an argument is NULL. */
int opd_cgroup_parse(const char *path, char container_id[65], char pod_uid[37]);

/* Picks the cgroup path out of the contents of /proc/PID/cgroup: a line that carries a
 * container id (the v2 "0::" line first), else the v2 line, else the first v1 line.
 * Copies it into out (NUL-terminated, truncated to len). Returns 0 or -ENOENT. */
int opd_cgroup_pick(const char *contents, size_t n, char *out, size_t len);

/* Parses the text of /proc/PID/maps. Keeps the mappings whose permissions include all of
 * `need_prot` (OPD_MAP_EXEC for the table). *out is a heap array and each path a heap
 * string inside it: free with opd_procmaps_free(). Malformed lines are skipped, a
 * truncated last line is ignored. Returns the number of mappings (>= 0) or -ENOMEM. */
int opd_procmaps_parse(const char *text, size_t len, uint32_t need_prot,
                       struct opd_proc_mapping **out);

/* Frees what opd_procmaps_parse returned. NULL is a no-op. */
void opd_procmaps_free(struct opd_proc_mapping *maps, size_t n);

#endif
