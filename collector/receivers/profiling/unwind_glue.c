/* Table unwinder wiring for the profiling receiver (see unwind_glue.h). */
#include "collector/receivers/profiling/unwind_glue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"
#include "collector/receivers/profiling/unwind/bpf_sink.h"
#include "collector/receivers/profiling/unwind/cache.h"
#include "collector/receivers/profiling/unwind/procs.h"
#include "collector/telemetry.h"
#include "profile.skel.h"

/* Processes that found no range, published per interval at most: each may build tables,
 * and the drain thread must not stall on a burst of new processes. */
#define UNKNOWN_PER_TICK 256

/* A process whose ranges are published, with its start time (clock ticks since boot) so
 * that a reused pid is told apart from the process the ranges were made for. */
struct tracked {
    uint32_t pid;
    uint64_t start;
};

struct opd_unwind_glue {
    pthread_mutex_t lock;
    char *who;
    char *procfs_root;
    struct opd_unwind_bpf_maps maps;
    struct opd_unwind_sink table_sink;
    struct opd_unwind_range_sink range_sink;
    struct opd_unwind_cache *cache;
    struct opd_unwind_procs *procs;
    int unknown_fd, stats_fd;
    struct tracked *tracked;
    size_t n_tracked, cap_tracked;
    struct opd_metric *stat[OPD_UNW__MAX];
    struct opd_metric *m_procs, *m_keys, *m_sync_fail, *m_syncs, *m_sync_us;
};

/* The BPF table walk exists for x86_64 only (bpf/profile.bpf.c): elsewhere the object has
 * none of its maps, the configure step does nothing and create fails with EOPNOTSUPP. */
#if defined(__x86_64__)

void opd_unwind_glue_configure(struct profile_bpf *skel, uint32_t rows, uint32_t files)
{
    skel->rodata->opd_unwind_tables = rows > 0;
    bpf_map__set_max_entries(skel->maps.opd_unwind_rows, rows ? rows : 1);
    bpf_map__set_max_entries(skel->maps.opd_unwind_files, rows && files ? files : 1);
    if (!rows) {
        bpf_map__set_max_entries(skel->maps.opd_unwind_ranges, 1);
        bpf_map__set_max_entries(skel->maps.opd_unwind_unknown, 1);
    }
}

/* Start time of pid (field 22 of /proc/PID/stat), 0 when the process is gone. */
static uint64_t proc_start(const struct opd_unwind_glue *g, uint32_t pid)
{
    char path[256], buf[1024], *p;
    unsigned long long v = 0;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%u/stat", g->procfs_root, pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The name may hold spaces and parentheses: fields start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                     "%*d %*d %*d %*d %llu",
                     &v) != 1)
        return 0;
    return v;
}

static struct tracked *find_tracked(struct opd_unwind_glue *g, uint32_t pid)
{
    for (size_t i = 0; i < g->n_tracked; i++) {
        if (g->tracked[i].pid == pid)
            return &g->tracked[i];
    }
    return NULL;
}

static void untrack(struct opd_unwind_glue *g, struct tracked *t)
{
    opd_unwind_procs_remove(g->procs, t->pid);
    *t = g->tracked[--g->n_tracked];
}

static int sync_locked(struct opd_unwind_glue *g, uint32_t pid)
{
    struct tracked *t = find_tracked(g, pid);
    uint64_t start = proc_start(g, pid);
    struct timespec t0, t1;
    long us;
    int err;

    if (!start) {
        if (t)
            untrack(g, t);
        return -ESRCH;
    }
    if (!t) {
        if (g->n_tracked == g->cap_tracked) {
            size_t cap = g->cap_tracked ? 2 * g->cap_tracked : 64;
            struct tracked *v = opd_realloc(g->tracked, cap * sizeof(*v));

            if (!v)
                return -ENOMEM;
            g->tracked = v;
            g->cap_tracked = cap;
        }
        t = &g->tracked[g->n_tracked++];
        t->pid = pid;
    }
    t->start = start;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    err = opd_unwind_procs_sync_proc(g->procs, pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    opd_metric_add(g->m_syncs, 1);
    opd_metric_add(g->m_sync_us, us);
    if (us > 50000)
        OPD_DEBUG(g->who, "unwind: publishing pid %u took %ld ms", pid, us / 1000);
    if (err == -ESRCH) {
        untrack(g, t);
    } else if (err) {
        /* Whatever was published stays: those mappings still unwind with tables. */
        opd_metric_add(g->m_sync_fail, 1);
        OPD_DEBUG(g->who, "unwind: cannot publish the mappings of pid %u: %s", pid, strerror(-err));
    }
    return err;
}

int opd_unwind_glue_sync(struct opd_unwind_glue *g, uint32_t pid)
{
    int err;

    pthread_mutex_lock(&g->lock);
    err = sync_locked(g, pid);
    pthread_mutex_unlock(&g->lock);
    return err;
}

int opd_unwind_glue_exec(struct opd_unwind_glue *g, uint32_t pid)
{
    int err = -ENOENT;

    pthread_mutex_lock(&g->lock);
    if (find_tracked(g, pid))
        err = sync_locked(g, pid);
    pthread_mutex_unlock(&g->lock);
    return err;
}

/* Drops exited processes and re-publishes reused pids (a process that exited and whose
 * pid went to a new one before this sweep). */
static void sweep(struct opd_unwind_glue *g)
{
    for (size_t i = 0; i < g->n_tracked;) {
        struct tracked *t = &g->tracked[i];
        uint64_t start = proc_start(g, t->pid);

        if (!start) {
            untrack(g, t); /* moves the last entry here: look at index i again */
            continue;
        }
        if (start != t->start)
            sync_locked(g, t->pid);
        i++;
    }
}

/* Takes the pids the walk found no range for out of opd_unwind_unknown and publishes
 * them. Collected first: deleting while iterating would restart the key walk. */
static void drain_unknown(struct opd_unwind_glue *g)
{
    uint32_t pids[UNKNOWN_PER_TICK], key, next;
    unsigned n = 0;
    int err;

    err = bpf_map_get_next_key(g->unknown_fd, NULL, &next);
    while (!err && n < UNKNOWN_PER_TICK) {
        pids[n++] = next;
        key = next;
        err = bpf_map_get_next_key(g->unknown_fd, &key, &next);
    }
    for (unsigned i = 0; i < n; i++) {
        bpf_map_delete_elem(g->unknown_fd, &pids[i]);
        sync_locked(g, pids[i]);
    }
}

void opd_unwind_glue_poll(struct opd_unwind_glue *g)
{
    pthread_mutex_lock(&g->lock);
    drain_unknown(g);
    pthread_mutex_unlock(&g->lock);
}

void opd_unwind_glue_tick(struct opd_unwind_glue *g)
{
    uint64_t v[OPD_UNW__MAX];

    pthread_mutex_lock(&g->lock);
    drain_unknown(g); /* in case the receiver runs no process watcher */
    sweep(g);
    opd_metric_set(g->m_procs, (int64_t)g->n_tracked);
    opd_metric_set(g->m_keys, (int64_t)opd_unwind_procs_keys(g->procs));
    pthread_mutex_unlock(&g->lock);
    if (opd_unwind_bpf_read_stats(g->stats_fd, v) == 0) {
        for (unsigned i = 0; i < OPD_UNW__MAX; i++)
            opd_metric_set(g->stat[i], (int64_t)v[i]);
    }
}

static const char *const stat_help[OPD_UNW__MAX] = {
    [OPD_UNW_WALKS] = "User stack walks by the table unwinder.",
    [OPD_UNW_FRAMES_CFI] = "Frames the unwinder found through an .eh_frame table row.",
    [OPD_UNW_FRAMES_FP] = "Frames the unwinder found by a frame-pointer step (no table).",
    [OPD_UNW_STOP_OUTERMOST] = "Walks that reached the outermost frame (complete stacks).",
    [OPD_UNW_STOP_FP_END] = "Walks ended by a null frame pointer where no table applied.",
    [OPD_UNW_STOP_TRUNCATED] = "Walks stopped at max_frames.",
    [OPD_UNW_ERR_READ] = "Walks ended because user stack memory was unreadable.",
    [OPD_UNW_ERR_NO_PROGRESS] = "Walks ended because the stack pointer did not move up.",
    [OPD_UNW_ERR_RULE] = "Walks ended at a CFI rule the unwinder cannot evaluate.",
    [OPD_UNW_ERR_PC] = "Walks ended at a pc outside user space.",
    [OPD_UNW_ERR_FP] = "Walks ended at an implausible frame pointer.",
    [OPD_UNW_NO_RANGE] = "Walks that met a pc in no published mapping (published next interval).",
    [OPD_UNW_STALE_FILE] = "Lookups that met an evicted table.",
};

static struct opd_metric *metric(struct opd_telemetry *tel, enum opd_metric_type t,
                                 const char *name, const char *labels, const char *help)
{
    return tel ? opd_telemetry_metric(tel, t, name, labels, help) : NULL;
}

static void register_metrics(struct opd_unwind_glue *g, struct opd_telemetry *tel, const char *id)
{
    char l[256];

    snprintf(l, sizeof(l), "receiver=\"%s\"", id);
    for (unsigned i = 0; i < OPD_UNW__MAX; i++)
        g->stat[i] = metric(tel, OPD_METRIC_COUNTER, opd_unwind_stat_name(i), l, stat_help[i]);
    g->m_procs = metric(tel, OPD_METRIC_GAUGE, "otelprofd_unwind_processes", l,
                        "Processes whose executable mappings are published to the unwinder.");
    g->m_keys = metric(tel, OPD_METRIC_GAUGE, "otelprofd_unwind_range_keys", l,
                       "Address-range keys published to the unwinder.");
    g->m_sync_fail = metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_sync_failures", l,
                            "Processes whose mappings could not all be published.");
    g->m_syncs = metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_syncs", l,
                        "Times a process's mappings were (re)published.");
    g->m_sync_us = metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_sync_time_microseconds", l,
                          "Time spent publishing mappings, table builds included.");
}

struct opd_unwind_glue *opd_unwind_glue_create(struct opd_sampler *s,
                                               const struct opd_unwind_glue_config *cfg,
                                               struct opd_telemetry *tel)
{
    struct profile_bpf *skel = opd_sampler_skel(s);
    struct opd_unwind_glue *g = NULL;
    int err = -EINVAL;

    if (!skel->rodata->opd_unwind_tables || !cfg->capacity_rows || !cfg->max_files)
        goto out;
    err = -ENOMEM;
    g = opd_calloc(1, sizeof(*g));
    if (!g)
        goto out;
    pthread_mutex_init(&g->lock, NULL);
    g->who = opd_strdup(cfg->who ? cfg->who : "receiver/profiling");
    g->procfs_root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    if (!g->who || !g->procfs_root)
        goto out;
    g->maps.rows_fd = bpf_map__fd(skel->maps.opd_unwind_rows);
    g->maps.files_fd = bpf_map__fd(skel->maps.opd_unwind_files);
    g->maps.ranges_fd = bpf_map__fd(skel->maps.opd_unwind_ranges);
    g->unknown_fd = bpf_map__fd(skel->maps.opd_unwind_unknown);
    g->stats_fd = bpf_map__fd(skel->maps.opd_unwind_stats);
    opd_unwind_bpf_sinks(&g->maps, &g->table_sink, &g->range_sink);
    register_metrics(g, tel, cfg->id ? cfg->id : "profiling");
    g->cache = opd_unwind_cache_create(
        &(struct opd_unwind_cache_config){cfg->capacity_rows, cfg->max_files}, &g->table_sink, tel,
        cfg->id ? cfg->id : "profiling");
    if (!g->cache) {
        err = -errno;
        goto out;
    }
    g->procs = opd_unwind_procs_create(g->cache, &g->range_sink, g->procfs_root);
    if (!g->procs) {
        err = -errno;
        goto out;
    }
    err = 0;
out:
    if (err) {
        opd_unwind_glue_destroy(g);
        errno = -err;
        return NULL;
    }
    return g;
}

void opd_unwind_glue_destroy(struct opd_unwind_glue *g)
{
    if (!g)
        return;
    opd_unwind_procs_destroy(g->procs);
    opd_unwind_cache_destroy(g->cache);
    opd_free(g->tracked);
    opd_free(g->who);
    opd_free(g->procfs_root);
    pthread_mutex_destroy(&g->lock);
    opd_free(g);
}

#else /* !__x86_64__ */

void opd_unwind_glue_configure(struct profile_bpf *skel, uint32_t rows, uint32_t files)
{
    (void)skel;
    (void)rows;
    (void)files;
}

struct opd_unwind_glue *opd_unwind_glue_create(struct opd_sampler *s,
                                               const struct opd_unwind_glue_config *cfg,
                                               struct opd_telemetry *tel)
{
    (void)s;
    (void)cfg;
    (void)tel;
    errno = EOPNOTSUPP;
    return NULL;
}

void opd_unwind_glue_destroy(struct opd_unwind_glue *g)
{
    (void)g;
}

int opd_unwind_glue_sync(struct opd_unwind_glue *g, uint32_t pid)
{
    (void)g;
    (void)pid;
    return -EOPNOTSUPP;
}

int opd_unwind_glue_exec(struct opd_unwind_glue *g, uint32_t pid)
{
    (void)g;
    (void)pid;
    return -EOPNOTSUPP;
}

void opd_unwind_glue_poll(struct opd_unwind_glue *g)
{
    (void)g;
}

void opd_unwind_glue_tick(struct opd_unwind_glue *g)
{
    (void)g;
}

#endif
