/* Sampler program run time from the kernel's BPF statistics (see bpf_runtime.h). */
#include "collector/receivers/profiling/bpf_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/python.bpf.h"
#include "collector/mem.h"
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
