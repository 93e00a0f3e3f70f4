// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test and benchmark program for the table unwinder: samples one process (opd_target)
 * through the same walk stages as the sampler (walk.bpf.h) and sends every user stack it
 * unwinds, tagged per frame with the method that found it, to a ring buffer. A second
 * program walks the same samples by frame pointer only, for the cost comparison. Not part
 * of the daemon; tests/unit/test_unwind_bpf.c drives it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "profile.h"
#include "regs.bpf.h"
#include "walk.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define OPD_PROBE_FRAMES 512

/* The sampled process and the walk's frame budget; changed at run time through the
 * skeleton's .bss, so that one loaded object serves several fixtures. */
volatile __u32 opd_target = 0;
volatile __u32 opd_probe_max = OPD_PROBE_FRAMES;
/* 0: walk only, send nothing (cost measurement of the walk itself). */
volatile __u32 opd_emit = 1;

struct opd_probe_record {
    __u32 n;
    __u32 stop;
    __u64 frames[OPD_PROBE_FRAMES];
};

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);
} opd_probe_out SEC(".maps");

OPD_STAGE_ARRAY(opd_probe_stages);

/* The target's user registers; 0, or -1 for another process or unreadable registers. */
static __always_inline int opd_probe_regs(struct bpf_perf_event_data *ctx, struct opd_regs *r)
{
    if ((bpf_get_current_pid_tgid() >> 32) != opd_target)
        return -1;
    if (opd_ctx_user_mode(ctx)) {
        opd_regs_from_ctx(r, ctx);
        return 0;
    }
    return opd_regs_from_current(r);
}

SEC("perf_event")
int opd_probe_cfi(struct bpf_perf_event_data *ctx)
{
    struct opd_walk *w = opd_walk_state(OPD_WALK_SLOT_SAMPLE);
    __u32 max = opd_probe_max;

    if (!w || opd_probe_regs(ctx, &w->regs))
        return 0;
    if (max > OPD_PROBE_FRAMES)
        max = OPD_PROBE_FRAMES;
    if (opd_walk_begin(w, opd_target, !opd_ctx_user_mode(ctx), 0, max))
        return 0;
    bpf_tail_call(ctx, &opd_probe_stages, OPD_STAGE_WALK);
    return 0;
}

SEC("perf_event")
int opd_probe_walk(struct bpf_perf_event_data *ctx)
{
    return opd_walk_stage(ctx, &opd_probe_stages, OPD_WALK_SLOT_SAMPLE, OPD_REFUSE__MAX);
}

/* The finish stage: the walk's frames and end reason to user space. */
SEC("perf_event")
int opd_probe_emit(struct bpf_perf_event_data *ctx)
{
    struct opd_walk *w = opd_walk_state(OPD_WALK_SLOT_SAMPLE);
    struct opd_probe_record *rec;

    if (!w || !opd_emit)
        return 0;
    rec = bpf_ringbuf_reserve(&opd_probe_out, sizeof(*rec), 0);
    if (!rec)
        return 0;
    rec->n = w->stack.len < OPD_PROBE_FRAMES ? w->stack.len : OPD_PROBE_FRAMES;
    rec->stop = w->stop;
    bpf_probe_read_kernel(rec->frames, sizeof(rec->frames), w->stack.ip);
    bpf_ringbuf_submit(rec, 0);
    return 0;
}

/* Frame-pointer walk of the same depth, for the cost comparison. */
SEC("perf_event")
int opd_probe_fp(struct bpf_perf_event_data *ctx)
{
    struct opd_probe_record *rec;
    struct opd_regs regs;
    __u64 fp, pair[2];
    int n = 1;

    if (opd_probe_regs(ctx, &regs))
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
