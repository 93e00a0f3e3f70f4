/* Per-process executable ranges for the BPF unwinder: for each pid, every executable
 * file mapping becomes LPM-trie keys {pid, address prefix} whose value names the file's
 * table slot and the bias that turns a runtime pc into a row pc. Files come from the
 * table cache, which builds their tables on first sight; mappings without a table (JIT,
 * anonymous, no CFI) are published with OPD_RANGE_FP_ONLY so the unwinder knows to use the
 * frame pointer there.
 *
 * opd_unwind_procs_sync() is meant to run when a process is first seen, when a sample
 * misses every range (dlopen) and on exec; opd_unwind_procs_remove() on exit. Not thread
 * safe. */
#ifndef OPD_UNWIND_PROCS_H
#define OPD_UNWIND_PROCS_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/unwind_table.h"
#include "collector/receivers/profiling/unwind/cache.h"

/* One executable mapping of a process, as /proc/PID/maps shows it. */
struct opd_unwind_mapping {
    uint64_t start, end; /* [start, end) */
    uint64_t offset;     /* file offset of start */
    uint64_t dev, inode; /* inode 0: anonymous */
    const char *path;    /* "" when anonymous, "[vdso]", or a path inside the process root */
};

/* Where range keys go (the LPM trie opd_unwind_ranges, or memory in tests). */
struct opd_unwind_range_sink {
    int (*update)(void *arg, const struct opd_unwind_range_key *k,
                  const struct opd_unwind_range *v);
    int (*remove)(void *arg, const struct opd_unwind_range_key *k);
    void *arg;
};

/* Splits [start, end) of pid into aligned power-of-two blocks (at most 128) written to
 * keys[0..cap). Returns the number of keys, -E2BIG when cap is too small, -EINVAL when the
 * range is empty. */
int opd_unwind_range_keys(uint32_t pid, uint64_t start, uint64_t end,
                          struct opd_unwind_range_key *keys, size_t cap);

struct opd_unwind_procs;

/* Creates the tracker. cache and the sink's target must outlive it. procfs_root NULL
 * means "/proc". NULL with errno ENOMEM or EINVAL. */
struct opd_unwind_procs *opd_unwind_procs_create(struct opd_unwind_cache *cache,
                                                 const struct opd_unwind_range_sink *sink,
                                                 const char *procfs_root);

/* Frees the tracker; published ranges stay in the sink. NULL is a no-op. */
void opd_unwind_procs_destroy(struct opd_unwind_procs *p);

/* Publishes pid's executable mappings (maps[0..n), any order), replacing what was
 * published for it before: ranges that disappeared are removed, new or changed ones
 * written. Files are opened through <procfs>/PID/map_files (so deleted and in-container
 * files work) and fall back to <procfs>/PID/root/<path>. Returns 0 when every mapping
 * was published (files without a table count as published, FP_ONLY), -ENOMEM, or the
 * sink's error. */
int opd_unwind_procs_sync(struct opd_unwind_procs *p, uint32_t pid,
                          const struct opd_unwind_mapping *maps, size_t n);

/* Reads <procfs>/PID/maps and syncs its executable mappings. -ESRCH when the process is
 * gone. */
int opd_unwind_procs_sync_proc(struct opd_unwind_procs *p, uint32_t pid);

/* Removes every range of pid (process exit). Returns 0 or -ENOENT when pid is unknown. */
int opd_unwind_procs_remove(struct opd_unwind_procs *p, uint32_t pid);

/* Number of range keys currently published, for metrics and tests. */
size_t opd_unwind_procs_keys(const struct opd_unwind_procs *p);

#endif
