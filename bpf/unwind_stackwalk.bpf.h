/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The table unwinder behind the sampler's stack-walk seam: same signature as
 * opd_walk_user() in stackwalk.bpf.h, so the sampler switches by calling this instead.
 * Needs "unwind.bpf.h" (its maps) and <bpf/bpf_endian.h> included before. */
#ifndef OPD_BPF_UNWIND_STACKWALK_H
#define OPD_BPF_UNWIND_STACKWALK_H

#ifndef OPD_PID_TGID /* objects without pidns.bpf.h */
#define OPD_PID_TGID() bpf_get_current_pid_tgid()
#endif

/* Whether the perf sample interrupted user mode: its pc is in the user half of the
 * address space. The load is written in assembly because the verifier rejects ctx
 * accesses through a modified ctx pointer, and clang reuses a ctx + offset it computed
 * for an earlier copy of the registers. */
static __always_inline int opd_unwind_ctx_user_mode(struct bpf_perf_event_data *ctx)
{
    __u64 ip;

    asm volatile("%[ip] = *(u64 *)(%[ctx] + %[off])"
                 : [ip] "=r"(ip)
                 : [ctx] "r"(ctx), [off] "i"(offsetof(struct bpf_perf_event_data, regs) +
                                              offsetof(struct pt_regs, ip)));
    return ip < OPD_USER_TOP;
}

/* Reads user frames of the current thread, from its user registers uregs, into
 * frames[0..max), innermost first, like opd_walk_user(): frames[0] is the pc, the rest
 * return addresses. in_kernel: the thread is in the kernel (uregs were saved at its
 * entry); slot: the calling program's OPD_UNWIND_SLOT_*. Returns the number of frames,
 * 0 when not even the pc is usable.
 *
 * max must be a value the verifier knows (a constant or a frozen .rodata variable) and
 * frames must hold max entries: the copy is always max frames long, so that the caller's
 * code after the walk is verified once, not once per possible frame count. */
static __always_inline int opd_walk_user_cfi(__u32 slot, int in_kernel, struct pt_regs *uregs,
                                             __u64 *frames, int max)
{
    struct opd_unwind_state *s = NULL;
    __u32 pid = OPD_PID_TGID() >> 32;
    int n;

    if (max <= 0 || max > OPD_UNWIND_MAX_FRAMES)
        return 0;
    n = opd_unwind_user(uregs, pid, in_kernel, (__u32)max, slot, &s, NULL);
    if (!s || n <= 0)
        return 0;
    if (bpf_probe_read_kernel(frames, (__u32)max * sizeof(__u64), s->frames))
        return 0;
    return n < max ? n : max;
}

#endif
