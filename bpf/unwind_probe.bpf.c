// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test and benchmark program for the table unwinder: samples one process (opd_target)
 * and sends every user stack it unwinds, with the method used per frame, to a ring
 * buffer. A second program walks the same samples by frame pointer only, for the cost
 * comparison. Not part of the daemon; tests/unit/test_unwind_bpf.c drives it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "unwind.bpf.h"
#include "unwind_stackwalk.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define OPD_PROBE_FRAMES 512

/* The sampled process; changed at run time through the skeleton's .bss, so that one
 * loaded object serves several fixtures. */
volatile __u32 opd_target = 0;
/* 0: walk only, send nothing (cost measurement of the walk itself). */
volatile __u32 opd_emit = 1;
const volatile __u32 opd_max_frames = OPD_PROBE_FRAMES;

struct opd_probe_record {
    __u32 n;
    __u32 stop;
    __u64 frames[OPD_PROBE_FRAMES];
    __u8 method[OPD_PROBE_FRAMES];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);
} opd_probe_out SEC(".maps");

static __always_inline int opd_probe_regs(struct bpf_perf_event_data *ctx, struct pt_regs *r)
{
    if (opd_unwind_ctx_user_mode(ctx)) {
        __builtin_memcpy(r, &ctx->regs, sizeof(*r));
        return 0;
    }
    {
        struct pt_regs *tr =
            (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());

        if (!tr || bpf_probe_read_kernel(r, sizeof(*r), tr))
            return -1;
    }
    return 0;
}

SEC("perf_event")
int opd_probe_cfi(struct bpf_perf_event_data *ctx)
{
    struct opd_probe_record *rec;
    struct opd_unwind_state *s = NULL;
    struct pt_regs regs;
    __u32 pid = bpf_get_current_pid_tgid() >> 32, stop = 0;
    int n;

    if (pid != opd_target || opd_probe_regs(ctx, &regs))
        return 0;
    n = opd_unwind_user(&regs, pid, !opd_unwind_ctx_user_mode(ctx), opd_max_frames,
                        OPD_UNWIND_SLOT_SAMPLE, &s, &stop);
    if (!s || n <= 0 || !opd_emit)
        return 0;
    rec = bpf_ringbuf_reserve(&opd_probe_out, sizeof(*rec), 0);
    if (!rec)
        return 0;
    if (n > OPD_PROBE_FRAMES)
        n = OPD_PROBE_FRAMES;
    rec->n = n;
    rec->stop = stop;
    bpf_probe_read_kernel(rec->frames, sizeof(rec->frames), s->frames);
    bpf_probe_read_kernel(rec->method, sizeof(rec->method), s->method);
    bpf_ringbuf_submit(rec, 0);
    return 0;
}

/* Same samples through the seam adapter, with a small caller buffer as the sampler has. */
SEC("perf_event")
int opd_probe_seam(struct bpf_perf_event_data *ctx)
{
    struct opd_probe_record *rec;
    struct pt_regs regs;
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    int n;

    if (pid != opd_target || opd_probe_regs(ctx, &regs))
        return 0;
    rec = bpf_ringbuf_reserve(&opd_probe_out, sizeof(*rec), 0);
    if (!rec)
        return 0;
    n = opd_walk_user_cfi(OPD_UNWIND_SLOT_SAMPLE, !opd_unwind_ctx_user_mode(ctx), &regs,
                          rec->frames, 127);
    rec->n = n > 0 ? n : 0;
    rec->stop = 0;
    bpf_ringbuf_submit(rec, 0);
    return 0;
}

/* Frame-pointer walk of the same depth, for the cost comparison. */
SEC("perf_event")
int opd_probe_fp(struct bpf_perf_event_data *ctx)
{
    struct opd_probe_record *rec;
    struct pt_regs regs;
    __u32 pid = bpf_get_current_pid_tgid() >> 32;
    __u64 fp, pair[2];
    int n = 1;

    if (pid != opd_target || opd_probe_regs(ctx, &regs))
        return 0;
    fp = regs.bp;
    if (!opd_emit) {
        for (int i = 1; i < OPD_PROBE_FRAMES; i++) {
            if (!fp || (fp & 7) || bpf_probe_read_user(pair, sizeof(pair), (void *)fp) ||
                !pair[1] || pair[0] <= fp)
                break;
            fp = pair[0];
        }
        return 0;
    }
    rec = bpf_ringbuf_reserve(&opd_probe_out, sizeof(*rec), 0);
    if (!rec)
        return 0;
    rec->frames[0] = regs.ip;
    for (int i = 1; i < OPD_PROBE_FRAMES; i++) {
        if (!fp || (fp & 7) || bpf_probe_read_user(pair, sizeof(pair), (void *)fp) || !pair[1])
            break;
        rec->frames[i] = pair[1];
        n = i + 1;
        if (pair[0] <= fp)
            break;
        fp = pair[0];
    }
    rec->n = n;
    rec->stop = 0;
    bpf_ringbuf_submit(rec, 0);
    return 0;
}
