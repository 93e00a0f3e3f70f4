/* receiver "profiling" (see receiver.h): preflight, sampler lifecycle, the drain thread
 * and self metrics. The work of one interval is: swap and drain the kernel maps, build
 * the batch, sweep the process table, flush the symbolizer, refresh the scope filter,
 * attach hot-added CPUs, hand the batch on. */
#include "collector/receivers/profiling/receiver.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/engine/health.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/alloc.h"
#include "collector/receivers/profiling/bpf_memory.h"
#include "collector/receivers/profiling/bpf_runtime.h"
#include "collector/receivers/profiling/build.h"
#include "collector/receivers/profiling/filter.h"
#include "collector/receivers/profiling/k8s_scope_glue.h"
#include "collector/receivers/profiling/pidns.h"
#include "collector/receivers/profiling/offcpu.h"
#include "collector/receivers/profiling/preflight.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/python.h"
#include "collector/receivers/profiling/sampler.h"
#include "collector/receivers/profiling/symbolizer.h"
#include "collector/receivers/profiling/unwind_glue.h"
#include "collector/receivers/profiling/unwind_worker.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

#ifndef OPD_VERSION
#define OPD_VERSION "0.0.0"
#endif

/* Kernel map sizes per generation, scaled to the samples one interval can bring (every
 * sample distinct in the worst case) within these bounds. Hash maps used from perf_event
 * programs are preallocated, and a stacks entry is 1 KiB, so the stacks maps are what
 * costs kernel memory: 2 generations × 16384 × 1 KiB = 32 MiB at most. */
#define MIN_ENTRIES       4096
#define MAX_COUNT_ENTRIES 65536
#define MAX_STACK_ENTRIES 16384

/* How long start waits for the first LIST of the Kubernetes scope's pods. */
#define K8S_SYNC_TIMEOUT_NS (10 * 1000000000ull)

static uint32_t map_entries(uint32_t hz, uint64_t interval_ns, uint32_t max)
{
    long ncpus = sysconf(_SC_NPROCESSORS_CONF);
    uint64_t n = (uint64_t)(ncpus > 0 ? ncpus : 1) * hz * (interval_ns / 1000000) / 1000;

    return n < MIN_ENTRIES ? MIN_ENTRIES : n > max ? max : (uint32_t)n;
}

struct kmetric {
    enum opd_counter idx;
    const char *name;
    const char *reason; /* label for the lost-samples counter, NULL for the others */
    const char *help;
};

static const struct kmetric kmetrics[] = {
    {OPD_CNT_SAMPLES, "otelprofd_profiling_samples_taken", NULL,
     "Samples the kernel program ran for."},
    {OPD_CNT_RECORDED, "otelprofd_profiling_samples_recorded", NULL,
     "Samples aggregated in the kernel."},
    {OPD_CNT_IDLE, "otelprofd_profiling_samples_idle", NULL,
     "Samples of idle CPUs (not recorded)."},
    {OPD_CNT_FILTERED, "otelprofd_profiling_samples_lost", "filtered",
     "Samples not recorded or recorded incomplete, by reason."},
    {OPD_CNT_MAP_FULL, "otelprofd_profiling_samples_lost", "map_full", NULL},
    {OPD_CNT_USTACK_FAIL, "otelprofd_profiling_samples_lost", "user_stack_failed", NULL},
    {OPD_CNT_KSTACK_FAIL, "otelprofd_profiling_samples_lost", "kernel_stack_failed", NULL},
    {OPD_CNT_STACK_MAP_FULL, "otelprofd_profiling_samples_lost", "stack_map_full", NULL},
    {OPD_CNT_USTACK_TRUNCATED, "otelprofd_profiling_samples_lost", "user_stack_truncated", NULL},
    {OPD_CNT_STAGE_LOST, "otelprofd_profiling_samples_lost", "stage_failed", NULL},
    {OPD_CNT_EVENTS_LOST, "otelprofd_profiling_process_events_lost", NULL,
     "Process notifications dropped because the ring buffer was full."},
    {OPD_CNT_STAGE_FAIL, "otelprofd_profiling_bpf_stage_failures", NULL,
     "Tail calls into the next BPF stage of a sample that failed (the sample went on without "
     "that stage, or was lost: samples_lost{reason=\"stage_failed\"})."},
};
#define N_KMETRICS (sizeof(kmetrics) / sizeof(kmetrics[0]))

struct prof_recv {
    struct opd_component base;
    struct opd_component *next;
    char *who;

    /* Settings copied from the config. */
    uint32_t hz;
    uint64_t interval_ns;
    bool cycles, kernel_frames, service_from_env, symbolize, dwarf_lines;
    uint32_t max_frames;
    uint32_t max_stacks;
    double off_cpu_threshold;
    bool mem_enabled;
    uint64_t mem_sample_bytes;
    struct opd_prof_filter_rules mem_rules; /* the memory scope */
    size_t max_processes;
    int64_t cache_size;
    char *procfs_root, *cgroup_root;
    char **debug_dirs;
    size_t n_debug_dirs;
    struct opd_scope_filter scope;
    struct opd_prof_k8s_scope *k8s; /* scope.namespaces / pod_selector; NULL without */
    struct opd_sample_attrs sample_attrs;
    char host_name[256];

    /* Run state. */
    struct opd_sampler *sampler;
    struct opd_offcpu *offcpu; /* NULL when off_cpu_threshold is 0 */
    struct opd_alloc *alloc;   /* NULL when memory profiling is off */
    struct opd_proctab *tab;
    struct opd_symbolizer *sym;
    struct opd_python *py;         /* CPython frames; NULL when the BPF map is missing */
    struct opd_unwind_glue *unw;   /* .eh_frame tables; NULL when walking frame pointers */
    struct opd_bpf_runtime *bpfrt; /* NULL without a metrics registry */
    struct opd_bpf_memory *bpfmem;
    uint64_t bpf_limit; /* bytes, 0 = none */
    char *unwind_method;
    char *unwind_id; /* the receiver id, label of the unwinder's metrics */
    uint64_t unwind_bytes;
    uint32_t unwind_files;
    struct opd_drain drain;
    uint64_t window_start; /* CLOCK_REALTIME ns of the current window's start */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool running, stop;
    /* The process watcher reads /proc for a process as soon as its first sample is taken
     * (while it still runs), so short-lived processes keep their metadata and mappings.
     * tab_lock guards the process table between it and the drain thread. */
    pthread_t watcher;
    bool watching;
    _Atomic bool watch_stop;
    pthread_mutex_t tab_lock;
    pthread_mutex_t filter_lock;          /* the scope filter, between the two threads */
    struct opd_unwind_worker *unw_worker; /* publishes tables off the watcher */

    struct opd_telemetry *tel;
    struct opd_metric *km[N_KMETRICS];
    struct opd_metric *proc_events, *exported, *batches, *drain_us, *drain_errors, *cpus, *frames,
        *frames_named, *comm_filtered, *accepted, *refused;
    struct opd_metric *mem[OPD_ACNT__MAX]; /* memory profiling kernel counters */
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void update_kernel_metrics(struct prof_recv *r)
{
    uint64_t c[OPD_CNT__MAX];

    if (opd_sampler_counters(r->sampler, c))
        return;
    for (size_t i = 0; i < N_KMETRICS; i++)
        opd_metric_set(r->km[i], (int64_t)c[kmetrics[i].idx]);
    if (r->alloc) {
        uint64_t a[OPD_ACNT__MAX];

        if (opd_alloc_counters(r->alloc, a) == 0) {
            for (size_t i = 0; i < OPD_ACNT__MAX; i++)
                opd_metric_set(r->mem[i], (int64_t)a[i]);
        }
    }
}

/* One interval's work. final: the last one, at shutdown: sampling stops first, so the
 * kernel counters read at the end account for exactly what was drained. */
static void cycle(struct prof_recv *r, bool final)
{
    struct opd_build_params bp = {
        .tab = r->tab,
        .sym = r->sym,
        .py = r->py,
        .host_name = r->host_name,
        .scope_version = OPD_VERSION,
        .attrs = &r->sample_attrs,
        .alloc_sample_bytes = r->mem_sample_bytes,
        .samples_per_second = r->hz,
        .service_name_from_env = r->service_from_env,
        .comm_include = r->scope.include.comm,
        .n_comm_include = r->scope.include.n_comm,
        .comm_exclude = r->scope.exclude.comm,
        .n_comm_exclude = r->scope.exclude.n_comm,
    };
    struct opd_build_stats st;
    struct opd_batch *batch = NULL;
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), end;
    int err;

    if (final)
        opd_sampler_detach(r->sampler);
    opd_drain_reset(&r->drain);
    end = clock_ns(CLOCK_REALTIME);
    err = opd_sampler_drain(r->sampler, &r->drain);
    if (err) {
        opd_metric_add(r->drain_errors, 1);
        OPD_WARN(r->who, "drain incomplete: %s", strerror(-err));
    }
    if (r->offcpu && (err = opd_offcpu_drain(r->offcpu, &r->drain))) {
        opd_metric_add(r->drain_errors, 1);
        OPD_WARN(r->who, "off-CPU drain incomplete: %s", strerror(-err));
    }
    if (r->alloc && (err = opd_alloc_drain(r->alloc, &r->drain))) {
        opd_metric_add(r->drain_errors, 1);
        OPD_WARN(r->who, "memory drain incomplete: %s", strerror(-err));
    }
    r->drain.start_unix_ns = r->window_start;
    r->drain.end_unix_ns = end;
    r->window_start = end;
    pthread_mutex_lock(&r->tab_lock);
    bp.now = clock_ns(CLOCK_MONOTONIC);
    if (!r->sym && !r->symbolize) {
        /* Without on-host symbolization frames still carry their mappings' build ids,
         * for the backend to symbolize them. */
        struct opd_symbolizer_config sc = {.procfs_root = r->procfs_root, .ids_only = true};

        r->sym = opd_symbolizer_create(&sc, r->tab, r->tel, r->who);
        bp.sym = r->sym;
    }
    if (r->drain.n_recs) {
        batch = opd_profiling_build(&bp, &r->drain, &st);
        if (!batch) {
            OPD_ERR(r->who, "dropping %" PRIu64 " samples: cannot build the batch: %s",
                    opd_drain_sample_count(&r->drain), strerror(errno));
        } else {
            opd_metric_add(r->frames, (int64_t)st.frames);
            opd_metric_add(r->frames_named, (int64_t)st.frames_named);
            opd_metric_add(r->comm_filtered, (int64_t)st.filtered);
        }
    }
    /* The batch holds copies of every string: the tables may now drop what they parked. */
    if (r->sym)
        opd_symbolizer_flush(r->sym);
    opd_proctab_sweep(r->tab, clock_ns(CLOCK_MONOTONIC));
    pthread_mutex_unlock(&r->tab_lock);
    update_kernel_metrics(r);
    if (r->unw)
        opd_unwind_glue_tick(r->unw);
    opd_bpf_runtime_update(r->bpfrt);
    opd_bpf_memory_refresh(r->bpfmem);
    opd_metric_set(r->drain_us, (int64_t)((clock_ns(CLOCK_MONOTONIC) - t0) / 1000));

    if (batch && batch->n_resources) {
        uint64_t n = opd_batch_sample_count(batch);

        opd_metric_add(r->batches, 1);
        err = opd_component_consume(r->next, batch);
        if (err) {
            opd_metric_add(r->refused, (int64_t)n);
            OPD_WARN(r->who, "next component refused %" PRIu64 " samples: %s", n, strerror(-err));
        } else {
            opd_metric_add(r->accepted, (int64_t)n);
            opd_metric_add(r->exported, (int64_t)n);
        }
    } else {
        opd_batch_unref(batch);
    }
    if (final)
        return;
    /* Keep up with the host: new processes and cgroups for the filter, hot-added CPUs. */
    pthread_mutex_lock(&r->filter_lock);
    if (r->k8s)
        opd_prof_k8s_scope_refresh(r->k8s, &r->scope);
    opd_prof_filter_refresh(&r->scope, r->sampler, r->who);
    pthread_mutex_unlock(&r->filter_lock);
    if (opd_sampler_attach(r->sampler) > 0)
        opd_metric_set(r->cpus, opd_sampler_ncpus(r->sampler));
    /* New processes in the memory scope get their allocator probed. */
    if (r->alloc && (err = opd_alloc_refresh(r->alloc)) < 0)
        OPD_WARN(r->who, "memory: cannot rescan processes: %s", strerror(-err));
}

static void *drain_thread(void *arg)
{
    struct prof_recv *r = arg;
    uint64_t next = clock_ns(CLOCK_MONOTONIC) + r->interval_ns;
    bool final;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
                              .tv_nsec = (long)(next % 1000000000ull)};

        if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) != ETIMEDOUT && !r->stop)
            continue;
        final = r->stop;
        pthread_mutex_unlock(&r->lock);
        /* At shutdown too: what was sampled up to now still goes out. */
        cycle(r, final);
        next += r->interval_ns;
        if (next < clock_ns(CLOCK_MONOTONIC))
            next = clock_ns(CLOCK_MONOTONIC) + r->interval_ns; /* fell behind: no burst */
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static void on_proc_event(void *arg, const struct opd_proc_event *ev)
{
    struct prof_recv *r = arg;

    opd_metric_add(r->proc_events, 1);
    /* Tables on their own thread: a large file's build must not hold back the events
     * (and the metadata and CPython detection) of the processes after it. */
    if (r->unw_worker)
        opd_unwind_worker_push(r->unw_worker, ev->pid, ev->kind == OPD_EV_EXEC,
                               ev->kind == OPD_EV_NEW ? ev->ts : 0);
    if (ev->kind == OPD_EV_EXEC) {
        pthread_mutex_lock(&r->filter_lock);
        opd_prof_filter_exec(&r->scope, r->sampler, ev->pid);
        pthread_mutex_unlock(&r->filter_lock);
    }
    pthread_mutex_lock(&r->tab_lock);
    if (ev->kind == OPD_EV_EXEC) {
        opd_proctab_invalidate(r->tab, (int32_t)ev->pid);
        if (r->py)
            opd_python_forget(r->py, (int32_t)ev->pid); /* its next sample announces it anew */
    } else {
        const struct opd_proc *proc =
            opd_proctab_get(r->tab, (int32_t)ev->pid, clock_ns(CLOCK_MONOTONIC));

        if (proc && r->py)
            opd_python_attach(r->py, proc);
    }
    pthread_mutex_unlock(&r->tab_lock);
}

static void *watch_thread(void *arg)
{
    struct prof_recv *r = arg;

    while (!atomic_load(&r->watch_stop)) {
        int n = opd_sampler_poll_events(r->sampler, 200);

        if (n < 0 && n != -EINTR) {
            OPD_WARN(r->who, "process events unavailable: %s", strerror(-n));
            break;
        }
    }
    return NULL;
}

static int preflight(struct prof_recv *r)
{
    struct opd_preflight_facts f;
    char err[768], warn[512];
    int rc;

    rc = opd_preflight_gather(&f);
    if (rc)
        OPD_WARN(r->who, "preflight: cannot read capabilities: %s", strerror(-rc));
    rc = opd_preflight_check(&f, err, sizeof(err), warn, sizeof(warn));
    if (rc) {
        OPD_ERR(r->who, "cannot sample: %s", err);
        return rc;
    }
    if (warn[0])
        OPD_WARN(r->who, "%s", warn);
    OPD_INFO(r->who, "kernel %s, BTF present, perf_event_paranoid=%d, capabilities ok", f.release,
             f.paranoid);
    return 0;
}

/* The kernel names processes by their host ids; procfs_root must number them the same way
 * (see pidns.h). When it is the /proc of a pid namespace otelprofd runs in, the sampler
 * translates ids into that namespace and drops threads outside it. An unreadable
 * procfs_root is only warned about here; the process table reports what it cannot read. */
static int check_pidns(struct prof_recv *r)
{
    struct opd_pidns_facts f;
    int err = opd_pidns_gather(r->procfs_root, &f);

    if (err) {
        OPD_WARN(r->who, "procfs_root %s: cannot read %s/self: %s", r->procfs_root, r->procfs_root,
                 strerror(-err));
        return 0;
    }
    if (!opd_pidns_needs_translation(&f)) {
        if (!f.own_is_init)
            OPD_INFO(r->who,
                     "running in a pid namespace of its own; process ids are read "
                     "from the host's procfs at %s",
                     r->procfs_root);
        return 0;
    }
    opd_sampler_pidns(r->sampler, f.own_dev, f.own_ino);
    OPD_INFO(r->who,
             "running in pid namespace %lu with its /proc at %s: only the processes "
             "of this namespace are profiled, under their ids here",
             f.own_ino, r->procfs_root);
    return 0;
}

/* What is sampling and how, with every feature the kernel refused: the health board's
 * message for this receiver, and the last line of its start. */
static void describe(const struct prof_recv *r, int ncpus, char *buf, size_t len)
{
    size_t w;

    w = (size_t)snprintf(
        buf, len, "eBPF programs attached to %d CPU(s); user stacks walked by %s", ncpus,
        r->unw ? ".eh_frame tables (frame pointers where a file has none)" : "frame pointers");
    for (int f = 0; f < OPD_SAMPLER_FEATURES && w < len; f++) {
        const char *why = opd_sampler_degraded(r->sampler, (enum opd_sampler_feature)f);

        if (why)
            w += (size_t)snprintf(buf + w, len - w, "; degraded: %s off (%s)",
                                  opd_sampler_feature_name((enum opd_sampler_feature)f), why);
    }
}

static int prof_start(struct opd_component *self, struct opd_host *host)
{
    struct prof_recv *r = (struct prof_recv *)self;
    struct opd_sampler_opts so = {
        .who = r->who,
        .samples_per_second = r->hz,
        .cycles = r->cycles,
        .kernel_frames = r->kernel_frames,
        .max_frames = r->max_frames,
        /* Each drain window's distinct stacks must fit: sized from the sample rate unless
         * max_stacks bounds it (what does not fit is counted as map_full). */
        .count_entries =
            r->max_stacks ? r->max_stacks : map_entries(r->hz, r->interval_ns, MAX_COUNT_ENTRIES),
        .stack_entries =
            r->max_stacks ? r->max_stacks : map_entries(r->hz, r->interval_ns, MAX_STACK_ENTRIES),
        .off_cpu = r->off_cpu_threshold > 0,
        .memory = r->mem_enabled,
    };
    uint32_t frames = r->max_frames ? r->max_frames : OPD_DEFAULT_FRAMES;
    struct opd_proctab_config pc = {
        .procfs_root = r->procfs_root,
        .max_procs = r->max_processes,
        .grace_ns = 2 * r->interval_ns,
        .read_env = r->service_from_env,
    };
    pthread_condattr_t ca;
    int err;

    err = preflight(r);
    if (err)
        return err;
    r->tab = opd_proctab_create(&pc, r->tel, r->who);
    if (!r->tab)
        return -errno;
    if (r->symbolize) {
        struct opd_symbolizer_config sc = {
            .procfs_root = r->procfs_root,
            .debug_dirs = (const char *const *)r->debug_dirs,
            .n_debug_dirs = r->n_debug_dirs,
            .cache_size = (size_t)r->cache_size,
            .dwarf_lines = r->dwarf_lines,
        };

        r->sym = opd_symbolizer_create(&sc, r->tab, r->tel, r->who);
        if (!r->sym)
            return -errno;
    }
    if (strcmp(r->unwind_method, "frame_pointer") != 0) {
        so.unwind_rows = (uint32_t)(r->unwind_bytes / OPD_UNWIND_GLUE_ROW_BYTES);
        so.unwind_files = r->unwind_files;
        so.tables_required = strcmp(r->unwind_method, "eh_frame") == 0;
    }
    if ((err = opd_bpf_memory_plan(&so, r->bpf_limit, r->who)))
        return err;
    r->sampler = opd_sampler_create(&so);
    if (!r->sampler)
        return -errno;
    so = *opd_sampler_effective_opts(r->sampler); /* less what this kernel refused */
    OPD_INFO(r->who,
             "frame budget %u; stacks maps 2 x %u entries of %u bytes (%.1f MiB of kernel "
             "memory)",
             frames, so.stack_entries, (unsigned)OPD_STACK_BYTES(frames),
             2.0 * so.stack_entries * OPD_STACK_BYTES(frames) / (1024.0 * 1024.0));
    r->bpfmem = opd_bpf_memory_of_sampler(r->sampler, r->bpf_limit, r->tel, r->unwind_id);
    if (!r->bpfmem)
        return -errno;
    if ((err = opd_bpf_memory_report(r->bpfmem, r->bpf_limit, r->who)))
        return err;
    err = check_pidns(r);
    if (err)
        return err;
    if (r->tel && !(r->bpfrt = opd_bpf_runtime_create(r->sampler, r->tel, r->unwind_id)))
        return -errno;
    if (so.unwind_rows) {
        struct opd_unwind_glue_config uc = {
            .who = r->who,
            .id = r->unwind_id,
            .procfs_root = r->procfs_root,
            .capacity_rows = so.unwind_rows,
            .max_files = so.unwind_files,
        };

        r->unw = opd_unwind_glue_create(r->sampler, &uc, r->tel);
        if (!r->unw && strcmp(r->unwind_method, "auto") != 0)
            return -errno;
        if (!r->unw) {
            /* Without published tables every walk takes frame-pointer steps. */
            OPD_WARN(r->who, "unwinding: no .eh_frame tables (%s); walking frame pointers",
                     strerror(errno));
        } else {
            OPD_INFO(r->who,
                     "unwinding: .eh_frame tables (%" PRIu64 " MiB, %u files), frame "
                     "pointers elsewhere",
                     r->unwind_bytes >> 20, so.unwind_files);
            struct opd_unwind_worker_ops ops = opd_unwind_worker_glue_ops(r->unw);

            r->unw_worker = opd_unwind_worker_create(&ops, r->max_processes, r->tel, r->unwind_id);
            if (!r->unw_worker)
                return -errno;
        }
    }
    {
        struct opd_python_config pc = {
            .procfs_root = r->procfs_root,
            .map_fd = opd_sampler_map_fd(r->sampler, "opd_py_procs"),
            .max_procs = r->max_processes,
        };

        if (pc.map_fd >= 0 && !opd_sampler_degraded(r->sampler, OPD_SAMPLER_PYTHON)) {
            r->py = opd_python_create(&pc, r->tel, r->who);
            if (!r->py)
                return -errno;
        }
    }
    err = opd_sampler_events_open(r->sampler, on_proc_event, r);
    if (err)
        OPD_WARN(r->who, "no process events (%s): short-lived processes may lose metadata",
                 strerror(-err));
    else if (pthread_create(&r->watcher, NULL, watch_thread, r) == 0)
        r->watching = true;
    if (r->k8s && (err = opd_prof_k8s_scope_start(r->k8s, r->tel, K8S_SYNC_TIMEOUT_NS)))
        return err;
    /* The filter goes in before the first sample is taken. */
    pthread_mutex_lock(&r->filter_lock);
    if (r->k8s)
        opd_prof_k8s_scope_refresh(r->k8s, &r->scope);
    err = opd_prof_filter_refresh(&r->scope, r->sampler, r->who);
    pthread_mutex_unlock(&r->filter_lock);
    if (err && err != -E2BIG)
        return err;
    if (so.off_cpu) {
        r->offcpu = opd_offcpu_create(r->sampler, r->off_cpu_threshold, r->who);
        if (!r->offcpu)
            return -errno;
        OPD_INFO(r->who, "off-CPU: recording %g of context switches", r->off_cpu_threshold);
    }
    if (so.memory) {
        struct opd_alloc_config ac = {
            .who = r->who,
            .procfs_root = r->procfs_root,
            .sample_bytes = r->mem_sample_bytes,
            .pids = r->mem_rules.pids,
            .n_pids = r->mem_rules.n_pids,
            .comm = r->mem_rules.comm,
            .n_comm = r->mem_rules.n_comm,
        };

        r->alloc = opd_alloc_create(r->sampler, &ac);
        if (!r->alloc)
            return -errno;
        err = opd_alloc_refresh(r->alloc);
        if (err < 0)
            OPD_WARN(r->who, "memory: cannot scan processes: %s", strerror(-err));
        OPD_INFO(r->who, "memory: one sample per %" PRIu64 " bytes allocated on average",
                 r->mem_sample_bytes);
    }
    err = opd_sampler_attach(r->sampler);
    if (err < 0) {
        OPD_ERR(r->who, "cannot open perf events on any CPU: %s", strerror(-err));
        return err;
    }
    opd_metric_set(r->cpus, err);
    OPD_INFO(r->who, "sampling %d CPUs at %u Hz (%s), reporting every %" PRIu64 " ms", err, r->hz,
             opd_sampler_uses_cycles(r->sampler) ? "cycles" : "cpu-clock",
             r->interval_ns / 1000000);
    {
        char state[1024];

        describe(r, err, state, sizeof(state));
        OPD_INFO(r->who, "user stacks: %s", r->unw ? "eh_frame" : "frame_pointer");
        opd_health_report(r->who, true, state);
    }
    r->window_start = clock_ns(CLOCK_REALTIME);

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&r->cond);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    err = pthread_create(&r->thread, NULL, drain_thread, r);
    if (err)
        return -err;
    r->running = true;
    return 0;
}

static int prof_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct prof_recv *r = (struct prof_recv *)self;

    if (!r->running)
        return 0;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->running = false;
    atomic_store(&r->watch_stop, true);
    if (r->watching)
        pthread_join(r->watcher, NULL);
    r->watching = false;
    opd_unwind_worker_destroy(r->unw_worker); /* after the watcher, its only producer */
    r->unw_worker = NULL;
    /* Stop sampling; the last window was drained by the thread on its way out. */
    opd_offcpu_destroy(r->offcpu);
    r->offcpu = NULL;
    opd_alloc_destroy(r->alloc);
    r->alloc = NULL;
    opd_python_destroy(r->py); /* before the sampler: it deletes its map entries */
    r->py = NULL;
    opd_unwind_glue_destroy(r->unw);
    r->unw = NULL;
    opd_bpf_runtime_destroy(r->bpfrt);
    r->bpfrt = NULL;
    opd_bpf_memory_destroy(r->bpfmem);
    r->bpfmem = NULL;
    opd_sampler_destroy(r->sampler);
    r->sampler = NULL;
    opd_prof_k8s_scope_stop(r->k8s);
    return 0;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        opd_free(v[i]);
    opd_free(v);
}

static void free_rules(struct opd_prof_filter_rules *fr)
{
    for (size_t i = 0; i < fr->n_comm; i++)
        regfree(&fr->comm[i]);
    free_list(fr->cgroup_prefixes, fr->n_cgroup_prefixes);
    opd_free(fr->comm);
    opd_free(fr->pids);
    memset(fr, 0, sizeof(*fr));
}

static void prof_destroy(struct opd_component *self)
{
    struct prof_recv *r = (struct prof_recv *)self;

    if (!r)
        return;
    prof_shutdown(self, 0);
    atomic_store(&r->watch_stop, true);
    if (r->watching)
        pthread_join(r->watcher, NULL);
    opd_unwind_worker_destroy(r->unw_worker);
    opd_offcpu_destroy(r->offcpu);
    opd_alloc_destroy(r->alloc);
    opd_python_destroy(r->py);
    opd_unwind_glue_destroy(r->unw);
    opd_bpf_runtime_destroy(r->bpfrt);
    opd_bpf_memory_destroy(r->bpfmem);
    opd_sampler_destroy(r->sampler);
    opd_symbolizer_destroy(r->sym);
    opd_proctab_destroy(r->tab);
    opd_drain_fini(&r->drain);
    opd_prof_filter_fini(&r->scope);
    opd_prof_k8s_scope_destroy(r->k8s);
    free_rules(&r->mem_rules);
    free_list(r->debug_dirs, r->n_debug_dirs);
    opd_free(r->procfs_root);
    opd_free(r->cgroup_root);
    opd_free(r->unwind_method);
    opd_free(r->unwind_id);
    opd_free(r->who);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->tab_lock);
    pthread_mutex_destroy(&r->filter_lock);
    opd_free(r);
}

static const struct opd_component_ops prof_ops = {
    .start = prof_start,
    .shutdown = prof_shutdown,
    .destroy = prof_destroy,
};

/* ---- config ------------------------------------------------------------------------- */

static int parse_pid(const char *s, uint32_t *pid)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > 0x3fffffff)
        return -EINVAL;
    *pid = (uint32_t)v;
    return 0;
}

static int copy_rules(struct opd_prof_filter_rules *dst, const struct opd_profiling_scope_cfg *src)
{
    dst->pids = opd_calloc(src->pids.n, sizeof(*dst->pids));
    dst->comm = opd_calloc(src->comm.n, sizeof(*dst->comm));
    dst->cgroup_prefixes = opd_calloc(src->cgroup_prefixes.n, sizeof(*dst->cgroup_prefixes));
    if (!dst->pids || !dst->comm || !dst->cgroup_prefixes)
        return -ENOMEM;
    for (size_t i = 0; i < src->pids.n; i++) {
        if (parse_pid(src->pids.v[i], &dst->pids[dst->n_pids]))
            return -EINVAL;
        dst->n_pids++;
    }
    for (size_t i = 0; i < src->comm.n; i++) {
        if (regcomp(&dst->comm[dst->n_comm], src->comm.v[i], REG_EXTENDED | REG_NOSUB))
            return -EINVAL;
        dst->n_comm++;
    }
    for (size_t i = 0; i < src->cgroup_prefixes.n; i++) {
        dst->cgroup_prefixes[i] = opd_strdup(src->cgroup_prefixes.v[i]);
        if (!dst->cgroup_prefixes[i])
            return -ENOMEM;
        dst->n_cgroup_prefixes++;
    }
    return 0;
}

/* Registers one self metric labelled with the receiver id (and a loss reason). Without a
 * registry, or when it fails, the metric is NULL and updates are no-ops. */
static struct opd_metric *metric(struct prof_recv *r, const char *id, enum opd_metric_type t,
                                 const char *name, const char *reason, const char *help)
{
    char labels[512];

    if (reason)
        snprintf(labels, sizeof(labels), "receiver=\"%s\",reason=\"%s\"", id, reason);
    else
        snprintf(labels, sizeof(labels), "receiver=\"%s\"", id);
    return r->tel ? opd_telemetry_metric(r->tel, t, name, labels, help) : NULL;
}

static struct opd_component *prof_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct opd_profiling_config *cfg = cfgp;
    struct prof_recv *r = opd_calloc(1, sizeof(*r));
    const char *id;
    int err = -ENOMEM;

    if (!r)
        goto out;
    r->base.ops = &prof_ops;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->tab_lock, NULL);
    pthread_mutex_init(&r->filter_lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    opd_drain_init(&r->drain);
    r->next = p->next;
    r->tel = p->telemetry;
    r->who = opd_strdup(p->logname ? p->logname : "receiver/profiling");
    r->hz = (uint32_t)cfg->samples_per_second;
    r->interval_ns = (uint64_t)cfg->reporter_interval;
    r->cycles = cfg->event && strcmp(cfg->event, "cycles") == 0;
    r->kernel_frames = cfg->kernel_frames;
    r->max_frames = (uint32_t)cfg->max_frames;
    r->max_stacks = (uint32_t)cfg->max_stacks;
    r->off_cpu_threshold = cfg->off_cpu_threshold;
    r->mem_enabled = cfg->memory.enabled;
    r->mem_sample_bytes = (uint64_t)cfg->memory.sample_bytes;
    r->service_from_env = cfg->service_name_from_env;
    r->symbolize = cfg->symbolization.enabled;
    r->dwarf_lines = cfg->symbolization.dwarf_lines;
    r->cache_size = cfg->symbolization.cache_size;
    r->max_processes = (size_t)cfg->max_processes;
    r->procfs_root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    r->cgroup_root = opd_strdup(cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup");
    r->unwind_method = opd_strdup(cfg->unwinding.method ? cfg->unwinding.method : "auto");
    r->unwind_bytes = (uint64_t)cfg->unwinding.table_memory;
    r->unwind_files = (uint32_t)cfg->unwinding.max_files;
    r->bpf_limit = (uint64_t)cfg->bpf_memory_limit_mib << 20;
    if (!r->who || !r->procfs_root || !r->cgroup_root || !r->unwind_method)
        goto out;
    r->scope.procfs_root = r->procfs_root;
    r->scope.cgroup_root = r->cgroup_root;
    if (cfg->symbolization.debug_dirs.n) {
        r->debug_dirs = opd_calloc(cfg->symbolization.debug_dirs.n, sizeof(char *));
        if (!r->debug_dirs)
            goto out;
        for (size_t i = 0; i < cfg->symbolization.debug_dirs.n; i++) {
            r->debug_dirs[i] = opd_strdup(cfg->symbolization.debug_dirs.v[i]);
            if (!r->debug_dirs[i])
                goto out;
            r->n_debug_dirs++;
        }
    }
    err = opd_sample_attrs_from_config(&cfg->sample_attributes, cfg->thread_names,
                                       cfg->max_thread_names, cfg->string_attributes,
                                       &r->sample_attrs, NULL, 0);
    if (!err)
        err = copy_rules(&r->scope.include, &cfg->include);
    if (!err)
        err = copy_rules(&r->scope.exclude, &cfg->exclude);
    if (!err)
        err = copy_rules(&r->mem_rules, &cfg->memory.include);
    if (err)
        goto out;
    if (opd_prof_k8s_scope_configured(&cfg->scope)) {
        r->k8s = opd_prof_k8s_scope_create(&cfg->scope, r->cgroup_root, r->who);
        if (!r->k8s) {
            err = -errno;
            goto out;
        }
    }
    if (gethostname(r->host_name, sizeof(r->host_name) - 1))
        r->host_name[0] = '\0';

    id = p->id ? p->id : "profiling";
    r->unwind_id = opd_strdup(id);
    if (!r->unwind_id) {
        err = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < N_KMETRICS; i++)
        r->km[i] = metric(r, id, OPD_METRIC_COUNTER, kmetrics[i].name, kmetrics[i].reason,
                          kmetrics[i].help ? kmetrics[i].help
                                           : "Samples not recorded or recorded incomplete.");
    r->proc_events = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_process_events", NULL,
                            "New-process and exec notifications from the kernel.");
    r->exported = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_samples_exported", NULL,
                         "Samples handed to the next component.");
    r->batches = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_batches", NULL,
                        "Batches handed to the next component.");
    r->drain_us = metric(r, id, OPD_METRIC_GAUGE, "otelprofd_profiling_drain_duration_seconds",
                         NULL, "Time the last drain, batch build and sweep took.");
    if (r->drain_us)
        r->drain_us->scale = 1000000; /* kept in microseconds, exposed in seconds */
    r->drain_errors = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_drain_errors", NULL,
                             "Drains that could not read the whole generation.");
    r->cpus = metric(r, id, OPD_METRIC_GAUGE, "otelprofd_profiling_cpus_attached", NULL,
                     "CPUs with an attached sampling event.");
    r->frames = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_frames", NULL,
                       "Distinct frames looked up (per batch).");
    r->frames_named = metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_frames_symbolized",
                             NULL, "Distinct frames that got a function name.");
    r->comm_filtered =
        metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_samples_comm_filtered", NULL,
               "Samples dropped in user space by the comm filter.");
    r->accepted = metric(r, id, OPD_METRIC_COUNTER, "otelcol_receiver_accepted_profile_samples",
                         NULL, "Profile samples pushed into the pipeline.");
    r->refused = metric(r, id, OPD_METRIC_COUNTER, "otelcol_receiver_refused_profile_samples", NULL,
                        "Profile samples the pipeline refused.");
    if (cfg->memory.enabled) {
        r->mem[OPD_ACNT_SAMPLED] =
            metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_memory_allocations_sampled",
                   NULL, "Allocations sampled by the memory profiler.");
        r->mem[OPD_ACNT_LIVE_FULL] =
            metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_memory_blocks_untracked", NULL,
                   "Sampled blocks not tracked for inuse_space: the live-block map was full.");
        r->mem[OPD_ACNT_MAP_FULL] =
            metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_memory_samples_lost", NULL,
                   "Sampled allocations lost: the counts map was full.");
        r->mem[OPD_ACNT_FREED] =
            metric(r, id, OPD_METRIC_COUNTER, "otelprofd_profiling_memory_blocks_freed", NULL,
                   "Sampled blocks seen freed (free, realloc, munmap).");
    }
    err = 0;
out:
    if (err) {
        prof_destroy(r ? &r->base : NULL);
        errno = -err;
        return NULL;
    }
    return &r->base;
}

static int check_rules(const struct opd_profiling_scope_cfg *c, const char *which, char *err,
                       size_t len)
{
    uint32_t pid;

    for (size_t i = 0; i < c->pids.n; i++) {
        if (parse_pid(c->pids.v[i], &pid)) {
            snprintf(err, len, "%s.pids: \"%s\" is not a process id", which, c->pids.v[i]);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < c->comm.n; i++) {
        regex_t re;
        int rc = regcomp(&re, c->comm.v[i], REG_EXTENDED | REG_NOSUB);

        if (rc) {
            char msg[128];

            regerror(rc, &re, msg, sizeof(msg));
            snprintf(err, len, "%s.comm: bad regular expression \"%s\": %s", which, c->comm.v[i],
                     msg);
            return -EINVAL;
        }
        regfree(&re);
    }
    for (size_t i = 0; i < c->cgroup_prefixes.n; i++) {
        if (c->cgroup_prefixes.v[i][0] != '/') {
            snprintf(err, len,
                     "%s.cgroup_prefixes: \"%s\" must start with '/' (a path below "
                     "the cgroup root)",
                     which, c->cgroup_prefixes.v[i]);
            return -EINVAL;
        }
    }
    return 0;
}

static int prof_validate(const void *cfgp, char *err, size_t len)
{
    const struct opd_profiling_config *cfg = cfgp;
    struct opd_sample_attrs sa;

    if (cfg->off_cpu) {
        snprintf(err, len, "off_cpu is reserved for a later version and must be false");
        return -EINVAL;
    }
    if (check_rules(&cfg->include, "include", err, len) ||
        check_rules(&cfg->exclude, "exclude", err, len) ||
        check_rules(&cfg->memory.include, "memory.include", err, len))
        return -EINVAL;
    if (opd_prof_k8s_scope_check(&cfg->scope, err, len))
        return -EINVAL;
    if (opd_prof_k8s_scope_configured(&cfg->scope) &&
        (cfg->include.pids.n || cfg->include.comm.n || cfg->include.cgroup_prefixes.n)) {
        /* Include rules widen what is sampled; the scope must only ever narrow it. */
        snprintf(err, len,
                 "scope (namespaces, pod_selector) and include rules cannot be "
                 "combined: narrow the scope with exclude instead");
        return -EINVAL;
    }
    if (cfg->memory.include.cgroup_prefixes.n) {
        /* The receiver's own cgroup scope applies to memory profiles in the kernel. */
        snprintf(err, len,
                 "memory.include.cgroup_prefixes is not supported: narrow the receiver's "
                 "include.cgroup_prefixes, or use memory.include.pids / comm");
        return -EINVAL;
    }
    if (cfg->include.pids.n > 4096 || cfg->exclude.pids.n > 4096) {
        snprintf(err, len, "at most 4096 pids per list");
        return -EINVAL;
    }
    /* The maps as start would size them before fitting them to the limit. */
    if (opd_bpf_memory_check_config(
            (uint64_t)cfg->bpf_memory_limit_mib << 20, (uint32_t)cfg->max_frames,
            cfg->max_stacks ? (uint32_t)cfg->max_stacks
                            : map_entries((uint32_t)cfg->samples_per_second,
                                          (uint64_t)cfg->reporter_interval, MAX_COUNT_ENTRIES),
            cfg->max_stacks ? (uint32_t)cfg->max_stacks
                            : map_entries((uint32_t)cfg->samples_per_second,
                                          (uint64_t)cfg->reporter_interval, MAX_STACK_ENTRIES),
            strcmp(cfg->unwinding.method ? cfg->unwinding.method : "auto", "frame_pointer")
                ? (uint64_t)cfg->unwinding.table_memory
                : 0,
            err, len))
        return -EINVAL;
    return opd_sample_attrs_from_config(&cfg->sample_attributes, cfg->thread_names,
                                        cfg->max_thread_names, cfg->string_attributes, &sa, err,
                                        len);
}

static const char *const events[] = {"cpu-clock", "cycles", NULL};
static const char *const unwind_methods[] = {"auto", "frame_pointer", "eh_frame", NULL};
static const char *const thread_name_forms[] = {"normalized", "raw", NULL};

static const struct opd_config_map unwind_map[] = {
    {.type = OPD_CFG_ENUM,
     .name = "method",
     .def = "auto",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_unwind_cfg, method),
     .desc = "auto (.eh_frame tables where a file has them, frame pointers elsewhere; frame "
             "pointers only when the kernel refuses the table walk), eh_frame (the same, but "
             "fail instead of falling back) or frame_pointer",
     .choices = unwind_methods},
    {.type = OPD_CFG_BYTES,
     .name = "table_memory",
     .def = "64MiB",
     .min = 1 << 20,
     .max = 1LL << 32,
     .offset = offsetof(struct opd_profiling_unwind_cfg, table_memory),
     .desc = "Kernel memory for unwind tables (16 bytes a row; least recently used files "
             "are evicted)"},
    {.type = OPD_CFG_INT,
     .name = "max_files",
     .def = "4096",
     .min = 16,
     .max = 1 << 20,
     .offset = offsetof(struct opd_profiling_unwind_cfg, max_files),
     .desc = "Executable files whose tables are loaded at once"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map scope_map[] = {
    {.type = OPD_CFG_STRLIST,
     .name = "pids",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_scope_cfg, pids),
     .desc = "Process ids"},
    {.type = OPD_CFG_STRLIST,
     .name = "comm",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_scope_cfg, comm),
     .desc = "Regular expressions (POSIX extended) over process names"},
    {.type = OPD_CFG_STRLIST,
     .name = "cgroup_prefixes",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_scope_cfg, cgroup_prefixes),
     .desc = "cgroup v2 paths below the cgroup root; a cgroup and everything below it"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map sym_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "enabled",
     .def = "true",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_sym_cfg, enabled),
     .desc = "Symbolize frames on this host"},
    {.type = OPD_CFG_STRLIST,
     .name = "debug_dirs",
     .def = "/usr/lib/debug",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_sym_cfg, debug_dirs),
     .desc = "Directories with separate debug files (.build-id/xx/rest.debug, debuglink)"},
    {.type = OPD_CFG_BYTES,
     .name = "cache_size",
     .def = "64MiB",
     .min = 1 << 20,
     .max = 1LL << 34,
     .offset = offsetof(struct opd_profiling_sym_cfg, cache_size),
     .desc = "Memory budget of the symbol caches"},
    {.type = OPD_CFG_BOOL,
     .name = "dwarf_lines",
     .def = "false",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_sym_cfg, dwarf_lines),
     .desc = "Add file:line from DWARF"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map memory_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "enabled",
     .def = "false",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_memory_cfg, enabled),
     .desc = "Profile allocations (uprobes on the allocator of the processes in scope)"},
    {.type = OPD_CFG_BYTES,
     .name = "sample_bytes",
     .def = "512KiB",
     .min = 1,
     .max = 1LL << 40,
     .offset = offsetof(struct opd_profiling_memory_cfg, sample_bytes),
     .desc = "Mean bytes allocated between two samples (random, exponential intervals)"},
    {.type = OPD_CFG_SECTION,
     .name = "include",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_memory_cfg, include),
     .desc = "Processes (pids, comm) whose allocations are profiled; all in the receiver's "
             "scope when empty",
     .sub = scope_map},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_profiling_config_map[] = {
    {.type = OPD_CFG_INT,
     .name = "samples_per_second",
     .def = "19",
     .min = 1,
     .max = 10000,
     .offset = offsetof(struct opd_profiling_config, samples_per_second),
     .desc = "Sampling frequency per CPU"},
    {.type = OPD_CFG_DURATION,
     .name = "reporter_interval",
     .def = "5s",
     .min = 100000000LL,
     .max = 3600000000000LL,
     .offset = offsetof(struct opd_profiling_config, reporter_interval),
     .desc = "How often the kernel aggregation is drained into a batch"},
    {.type = OPD_CFG_ENUM,
     .name = "event",
     .def = "cpu-clock",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, event),
     .desc = "cpu-clock (works everywhere) or cycles (hardware, falls back to cpu-clock)",
     .choices = events},
    {.type = OPD_CFG_BOOL,
     .name = "kernel_frames",
     .def = "true",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, kernel_frames),
     .desc = "Record kernel stacks too"},
    {.type = OPD_CFG_INT,
     .name = "max_frames",
     .def = "127",
     .min = 1,
     .max = OPD_MAX_FRAMES,
     .offset = offsetof(struct opd_profiling_config, max_frames),
     .desc = "Frame budget: deepest user (and kernel) stack one sample records, up to 1024. "
             "Each kernel stacks map entry costs 8 + 8 x max_frames bytes"},
    {.type = OPD_CFG_INT,
     .name = "max_stacks",
     .def = "0",
     .min = 0,
     .max = 1 << 20,
     .offset = offsetof(struct opd_profiling_config, max_stacks),
     .desc = "Distinct stacks kept in the kernel per reporter_interval (0 = sized from the "
             "sample rate); samples beyond it are counted as lost (map_full)"},
    {.type = OPD_CFG_SECTION,
     .name = "include",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, include),
     .desc = "Only sample what matches one of these (all when empty)",
     .sub = scope_map},
    {.type = OPD_CFG_SECTION,
     .name = "exclude",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, exclude),
     .desc = "Never sample what matches one of these",
     .sub = scope_map},
    {.type = OPD_CFG_SECTION,
     .name = "symbolization",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, symbolization),
     .desc = "On-host symbolization",
     .sub = sym_map},
    {.type = OPD_CFG_BOOL,
     .name = "service_name_from_env",
     .def = "true",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, service_name_from_env),
     .desc = "service.name from the process's OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES"},
    {.type = OPD_CFG_BOOL,
     .name = "off_cpu",
     .def = "false",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, off_cpu),
     .desc = "Reserved for off-CPU profiling; must be false"},
    {.type = OPD_CFG_DOUBLE,
     .name = "off_cpu_threshold",
     .def = "0",
     .min = 0,
     .max = 1,
     .offset = offsetof(struct opd_profiling_config, off_cpu_threshold),
     .desc = "Fraction of context switches whose off-CPU time is recorded (0 = off); "
             "values are scaled back up by it"},
    {.type = OPD_CFG_SECTION,
     .name = "memory",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, memory),
     .desc = "Allocation profiles (alloc_space, alloc_objects, inuse_space)",
     .sub = memory_map},
    {.type = OPD_CFG_INT,
     .name = "max_processes",
     .def = "4096",
     .min = 16,
     .max = 1 << 20,
     .offset = offsetof(struct opd_profiling_config, max_processes),
     .desc = "Bound on processes whose metadata is kept"},
    {.type = OPD_CFG_SECTION,
     .name = "scope",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, scope),
     .desc = "Kubernetes scope: only processes of the pods in these namespaces / with these "
             "labels are sampled, filtered in the kernel",
     .sub = opd_prof_k8s_scope_map},
    {.type = OPD_CFG_STRING,
     .name = "procfs_root",
     .def = "/proc",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, procfs_root),
     .desc = "Where the host's /proc is (e.g. /host/proc in a container)"},
    {.type = OPD_CFG_STRING,
     .name = "cgroup_root",
     .def = "/sys/fs/cgroup",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, cgroup_root),
     .desc = "Where the cgroup v2 tree is mounted"},
    {.type = OPD_CFG_STRLIST,
     .name = "sample_attributes",
     .def = "[thread.name]",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, sample_attributes),
     .desc = "Attributes on every sample: thread.name, thread.id. Each distinct combination "
             "is a series in Pyroscope and Parca"},
    {.type = OPD_CFG_ENUM,
     .name = "thread_names",
     .def = "normalized",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, thread_names),
     .desc = "thread.name as normalized (each run of digits becomes *: worker-17 and "
             "worker-18 are worker-*) or raw",
     .choices = thread_name_forms},
    {.type = OPD_CFG_INT,
     .name = "max_thread_names",
     .def = "32",
     .min = 0,
     .max = 1 << 20,
     .offset = offsetof(struct opd_profiling_config, max_thread_names),
     .desc = "Distinct thread.name values per process and profile; the threads of the "
             "others (least samples first) are [other]. 0 = no bound"},
    {.type = OPD_CFG_BOOL,
     .name = "string_attributes",
     .def = "false",
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, string_attributes),
     .desc = "Write process.pid and thread.id as strings (Parca makes labels of strings "
             "only) instead of integers"},
    {.type = OPD_CFG_SECTION,
     .name = "unwinding",
     .def = NULL,
     .min = 0,
     .max = 0,
     .offset = offsetof(struct opd_profiling_config, unwinding),
     .desc = "How user stacks are walked",
     .sub = unwind_map},
    {.type = OPD_CFG_INT,
     .name = "bpf_memory_limit_mib",
     .def = "256",
     .min = 0,
     .max = 1 << 20,
     .offset = offsetof(struct opd_profiling_config, bpf_memory_limit_mib),
     .desc = "Bound on the kernel memory of the receiver's BPF maps (0 = none): the stacks, "
             "counts and unwind table maps are sized down to fit it"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_profiling_receiver_factory = {
    .type = "profiling",
    .kind = OPD_KIND_RECEIVER,
    .description = "samples CPU stacks of this host with eBPF and symbolizes them",
    .config_map = opd_profiling_config_map,
    .config_size = sizeof(struct opd_profiling_config),
    .validate = prof_validate,
    .create = prof_create,
};
