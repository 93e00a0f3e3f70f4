/* Sampler program run time from the kernel's BPF statistics (see bpf_runtime.h). */
#include "collector/receivers/profiling/bpf_runtime.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"
#include "collector/telemetry.h"
#include "profile.skel.h"

struct opd_bpf_runtime {
    int prog_fd; /* borrowed from the sampler's skeleton */
    uint64_t last_ns, last_cnt;
    struct opd_metric *run_ns, *run_cnt, *run_avg;
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
    return rt;
}

void opd_bpf_runtime_update(struct opd_bpf_runtime *rt)
{
    struct bpf_prog_info info;
    __u32 len = sizeof(info);

    if (!rt)
        return;
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
    opd_free(rt);
}
