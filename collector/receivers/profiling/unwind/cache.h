/* Table cache: which files' unwind tables are loaded where in the shared row arena.
 *
 * Each file (keyed by GNU build id, else by device + inode + mtime) gets a file slot and a
 * contiguous extent of rows in an arena of capacity_rows rows. The cache does not hold the
 * rows itself: it writes them through a sink (the BPF maps opd_unwind_rows and
 * opd_unwind_files, or memory in tests). Rows are written before the file slot that points
 * at them, and a slot is cleared (count 0, new generation) before its rows are reused, so
 * the unwinder never follows a slot into rows of another file. When the arena or the slot
 * table is full the least recently used files are evicted and counted. Files without
 * usable CFI are remembered too (zero rows) so they are parsed once.
 *
 * Not thread safe: the receiver's drain thread owns it. */
#ifndef OPD_UNWIND_CACHE_H
#define OPD_UNWIND_CACHE_H

#include <stdint.h>

#include "bpf/unwind_table.h"
#include "collector/receivers/profiling/unwind/cfi.h"

struct opd_telemetry;

#define OPD_UNWIND_KEY_MAX 40

/* A file identity: opaque bytes compared exactly. */
struct opd_unwind_key {
    uint8_t len;
    uint8_t bytes[OPD_UNWIND_KEY_MAX];
};

/* Key from a GNU build id (truncated to OPD_UNWIND_KEY_MAX - 1 bytes). */
void opd_unwind_key_build_id(struct opd_unwind_key *k, const uint8_t *id, size_t len);
/* Key from the file's identity on this host. */
void opd_unwind_key_inode(struct opd_unwind_key *k, uint64_t dev, uint64_t ino,
                          int64_t mtime_ns);

/* Where the cache writes. Each op returns 0 or a negative errno. */
struct opd_unwind_sink {
    int (*write_rows)(void *arg, uint32_t start, const struct opd_unwind_row *rows,
                      uint32_t n);
    int (*write_file)(void *arg, uint32_t file_id, const struct opd_unwind_file *f);
    void *arg;
};

struct opd_unwind_cache_config {
    uint32_t capacity_rows; /* arena size in rows (16 bytes each); must be > 0 */
    uint32_t max_files;     /* file slots; must be > 0 */
};

/* What a lookup hands back: the slot to put in a range, and the file's pc_base. */
struct opd_unwind_cache_ref {
    uint32_t file_id;
    uint32_t gen;
    uint64_t pc_base;
    uint32_t nrows; /* 0: the file has no table (walk it by frame pointer) */
};

/* Builds the table of the file being looked up. Returns 0 with *out filled (the cache
 * takes the rows), or a negative errno (the file is then remembered as having no table). */
typedef int (*opd_unwind_build_fn)(void *arg, struct opd_unwind_table *out);

struct opd_unwind_cache_stats {
    uint64_t hits, misses;
    uint64_t builds_failed; /* files without a usable table */
    uint64_t evictions;     /* files dropped to make room */
    uint64_t too_big;       /* tables larger than the whole arena */
    uint64_t sink_errors;
    uint32_t files_loaded;  /* slots holding rows */
    uint32_t rows_used;     /* arena rows in use */
};

struct opd_unwind_cache;

/* Creates a cache. The sink is copied. tel may be NULL; otherwise gauges
 * otelprofd_unwind_table_bytes and otelprofd_unwind_files_loaded and counters
 * otelprofd_unwind_table_evictions and otelprofd_unwind_table_build_failures are
 * registered with label receiver="<who>". NULL with errno EINVAL or ENOMEM. */
struct opd_unwind_cache *opd_unwind_cache_create(const struct opd_unwind_cache_config *cfg,
                                                 const struct opd_unwind_sink *sink,
                                                 struct opd_telemetry *tel, const char *who);

/* Frees the cache (the sink's contents are left as they are). NULL is a no-op. */
void opd_unwind_cache_destroy(struct opd_unwind_cache *c);

/* Returns the file's slot, building and loading its table on first use (build is called
 * only then) and marking it most recently used. A file that has no table still gets a
 * ref with nrows 0. Returns 0, -ENOMEM, -ENOSPC when every slot is in use by files it
 * may not evict, or the sink's error. */
int opd_unwind_cache_get(struct opd_unwind_cache *c, const struct opd_unwind_key *key,
                         opd_unwind_build_fn build, void *arg, struct opd_unwind_cache_ref *ref);

/* Marks a file as used now without loading anything; -ENOENT when it is not cached. */
int opd_unwind_cache_touch(struct opd_unwind_cache *c, const struct opd_unwind_key *key);

/* Copies the counters. */
void opd_unwind_cache_get_stats(const struct opd_unwind_cache *c,
                                struct opd_unwind_cache_stats *out);

#endif
