/* Sampler program run time from the kernel's BPF statistics (see bpf_runtime.h). */
#include "collector/receivers/profiling/bpf_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/python.bpf.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/bpf_load.h"
#include "collector/receivers/profiling/sampler.h"
#include "collector/telemetry.h"
#include "profile.skel.h"

struct opd_bpf_runtime {
    int prog_fd; /* borrowed from the sampler's skeleton */
    int py_fd;   /* opd_py_stats, borrowed */
    int ncpus;
    uint64_t *percpu;
    uint64_t last_ns, last_cnt;
    struct opd_metric *run_ns, *run_cnt, *run_avg;
    struct opd_metric *py[OPD_PY_ST__MAX];
};

/* The CPython walk's counters as self metrics. */
static const struct {
    const char *name, *help;
} py_metrics[OPD_PY_ST__MAX] = {
    [OPD_PY_ST_WALKS] = {"otelprofd_profiling_python_walks",
                         "Samples of CPython processes whose interpreter frames were walked."},
    [OPD_PY_ST_NO_TSTATE] = {"otelprofd_profiling_python_walks_no_thread_state",
                             "Walks of threads without a Python thread state (native threads)."},
    [OPD_PY_ST_READ_FAIL] = {"otelprofd_profiling_python_walk_read_failures",
                             "Walks cut short by an unreadable interpreter frame or code object."},
    [OPD_PY_ST_FRAMES] = {"otelprofd_profiling_python_frames_recorded",
                          "Python frames recorded by the kernel walk."},
    [OPD_PY_ST_TRUNCATED] = {"otelprofd_profiling_python_walks_truncated",
                             "Walks stopped at the frame budget."},
    [OPD_PY_ST_NS] = {"otelprofd_profiling_python_walk_time_ns",
                      "Kernel time spent walking interpreter frames."},
};

/* Label values of the features a kernel may refuse (opd_sampler_feature). */
static const char *const feature_labels[OPD_SAMPLER_FEATURES] = {
    [OPD_SAMPLER_TABLES] = "eh_frame_tables",
    [OPD_SAMPLER_PYTHON] = "python",
    [OPD_SAMPLER_OFFCPU] = "off_cpu",
    [OPD_SAMPLER_MEMORY] = "memory",
    [OPD_SAMPLER_EXEC_HOOK] = "exec_hook",
};

static void set_gauge(struct opd_telemetry *tel, const char *name, const char *labels,
                      const char *help, int64_t v)
{
    opd_metric_set(opd_telemetry_metric(tel, OPD_METRIC_GAUGE, name, labels, help), v);
}

/* What the kernel accepted at load, as gauges set once. */
static void load_metrics(struct opd_sampler *s, struct opd_telemetry *tel, const char *id)
{
    const struct opd_bpf_load *ld = opd_sampler_load_report(s);
    struct bpf_program *prog;
    bool tables = opd_sampler_effective_opts(s)->unwind_rows > 0;
    char l[320];

    bpf_object__for_each_program(prog, opd_sampler_skel(s)->obj) {
        snprintf(l, sizeof(l), "receiver=\"%s\",program=\"%s\"", id, bpf_program__name(prog));
        set_gauge(tel, "otelprofd_profiling_bpf_program_loaded", l,
                  "1 when the BPF program is loaded, 0 when it is not (not configured, or its "
                  "feature refused by the kernel: otelprofd_profiling_degraded).",
                  bpf_program__fd(prog) >= 0);
    }
    for (size_t i = 0; i < ld->n_progs; i++) {
        snprintf(l, sizeof(l), "receiver=\"%s\",program=\"%s\"", id, ld->progs[i].name);
        set_gauge(tel, "otelprofd_profiling_bpf_verified_instructions", l,
                  "Instructions the kernel's verifier processed to accept the program (its "
                  "limit is 1000000).",
                  ld->progs[i].insns);
    }
    snprintf(l, sizeof(l), "receiver=\"%s\",method=\"eh_frame\"", id);
    set_gauge(tel, "otelprofd_profiling_unwinder_active", l,
              "1 for the method that walks user stacks: eh_frame (tables, frame pointers where "
              "none) or frame_pointer.",
              tables);
    snprintf(l, sizeof(l), "receiver=\"%s\",method=\"frame_pointer\"", id);
    set_gauge(tel, "otelprofd_profiling_unwinder_active", l, NULL, !tables);
    for (int f = 0; f < OPD_SAMPLER_FEATURES; f++) {
        snprintf(l, sizeof(l), "receiver=\"%s\",feature=\"%s\"", id, feature_labels[f]);
        set_gauge(tel, "otelprofd_profiling_degraded", l,
                  "1 when the kernel refused the feature's BPF program and it was turned off "
                  "(the log says why).",
                  opd_sampler_degraded(s, (enum opd_sampler_feature)f) != NULL);
    }
}

struct opd_bpf_runtime *opd_bpf_runtime_create(struct opd_sampler *s, struct opd_telemetry *tel,
                                               const char *id)
{
    struct opd_bpf_runtime *rt;
    char l[320];

    if (!tel) {
        errno = EINVAL;
        return NULL;
    }
    rt = opd_calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    rt->prog_fd = bpf_program__fd(opd_sampler_skel(s)->progs.opd_sample);
    snprintf(l, sizeof(l), "receiver=\"%s\",program=\"opd_sample\"", id);
    rt->run_ns =
        opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_profiling_bpf_run_time_ns", l,
                             "Kernel time spent in the sampler program "
                             "(kernel.bpf_stats_enabled).");
    rt->run_cnt =
        opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_profiling_bpf_run_count", l,
                             "Runs of the sampler program (kernel.bpf_stats_enabled).");
    rt->run_avg = opd_telemetry_metric(tel, OPD_METRIC_GAUGE,
                                       "otelprofd_profiling_bpf_run_time_per_sample_ns", l,
                                       "Mean sampler program run time over the last interval.");
    load_metrics(s, tel, id);
    rt->py_fd = bpf_map__fd(opd_sampler_skel(s)->maps.opd_py_stats);
    rt->ncpus = libbpf_num_possible_cpus();
    if (rt->ncpus > 0)
        rt->percpu = opd_calloc((size_t)rt->ncpus, sizeof(*rt->percpu));
    snprintf(l, sizeof(l), "receiver=\"%s\"", id);
    for (int i = 0; i < OPD_PY_ST__MAX; i++)
        rt->py[i] = opd_telemetry_metric(tel, OPD_METRIC_COUNTER, py_metrics[i].name, l,
                                         py_metrics[i].help);
    return rt;
}

/* Sums the per-CPU CPython walk counters into their metrics. */
static void update_python(struct opd_bpf_runtime *rt)
{
    for (uint32_t k = 0; rt->percpu && rt->py_fd >= 0 && k < OPD_PY_ST__MAX; k++) {
        uint64_t total = 0;

        if (bpf_map_lookup_elem(rt->py_fd, &k, rt->percpu))
            return;
        for (int c = 0; c < rt->ncpus; c++)
            total += rt->percpu[c];
        opd_metric_set(rt->py[k], (int64_t)total);
    }
}

void opd_bpf_runtime_update(struct opd_bpf_runtime *rt)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info);

    if (!rt)
        return;
    update_python(rt);
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(rt->prog_fd, &info, &len) || !info.run_cnt)
        return;
    opd_metric_set(rt->run_ns, (int64_t)info.run_time_ns);
    opd_metric_set(rt->run_cnt, (int64_t)info.run_cnt);
    /* The statistics restart from 0 when they are switched off and on again. */
    if (info.run_cnt > rt->last_cnt && info.run_time_ns >= rt->last_ns)
        opd_metric_set(rt->run_avg,
                       (int64_t)((info.run_time_ns - rt->last_ns) / (info.run_cnt - rt->last_cnt)));
    rt->last_ns = info.run_time_ns;
    rt->last_cnt = info.run_cnt;
}

void opd_bpf_runtime_destroy(struct opd_bpf_runtime *rt)
{
    if (rt)
        opd_free(rt->percpu);
    opd_free(rt);
}
