/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The interrupted thread's user registers, read the same way on every kernel.
 *
 * struct opd_regs is x86_64's ptrace register layout (uapi asm/ptrace.h), which the
 * kernel's struct pt_regs follows field for field. It is our own type on purpose: the
 * kernel's pt_regs changed field sizes between releases (cs and ss are 2-byte fields with
 * padding in newer kernels, 8-byte ones in older), and a CO-RE relocation of a field read
 * at the size one kernel has fails on the other and takes the whole object with it. The
 * offsets are ABI and never change. */
#ifndef OPD_BPF_REGS_H
#define OPD_BPF_REGS_H

struct opd_regs {
    __u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax;
    __u64 ip, cs, flags, sp, ss;
};

#define OPD_USER_TOP  0x0000800000000000ULL
#define OPD_USER32_CS 0x23 /* __USER32_CS: a 32-bit (compat) task */
#define OPD_USER_CS   0x33 /* __USER_CS */

/* Size of a task's kernel stack (THREAD_SIZE: 16 KiB on x86_64 without KASAN, which no
 * distribution kernel enables). Only used where bpf_task_pt_regs() is missing. */
#define OPD_THREAD_SIZE 16384

/* bpf_task_pt_regs() exists (5.15+); set by user space from libbpf's helper probe. Before
 * it, the registers are found where the kernel saves them: at the top of the task's
 * kernel stack (task_pt_regs() of kernels without FRED, which came after the helper). */
const volatile __u32 opd_have_task_pt_regs = 1;

/* 8-byte loads at fixed offsets: the only access a perf_event or kprobe context allows,
 * and the same on every kernel. Word by word: a memcpy into map memory is lowered to byte
 * loads, which a context refuses. */
static __always_inline void opd_regs_from_ctx(struct opd_regs *r, const void *ctx)
{
    const __u64 *src = ctx;
    __u64 *dst = (__u64 *)r;

#pragma unroll
    for (int i = 0; i < (int)(sizeof(*r) / sizeof(__u64)); i++)
        dst[i] = src[i];
}

/* Whether a perf_event sample interrupted user mode: its pc is in the user half. The load
 * is written in assembly because the verifier rejects ctx accesses through a modified ctx
 * pointer, and clang reuses a ctx + offset it computed for an earlier copy. */
static __always_inline int opd_ctx_user_mode(const void *ctx)
{
    __u64 ip;

    asm volatile("%[ip] = *(u64 *)(%[ctx] + %[off])"
                 : [ip] "=r"(ip)
                 : [ctx] "r"(ctx), [off] "i"(__builtin_offsetof(struct opd_regs, ip)));
    return ip < OPD_USER_TOP;
}

/* The user registers the current task saved at its last entry into the kernel (syscall,
 * interrupt, fault). Returns 0, or -1 when they cannot be read or do not look like a user
 * frame (a kernel thread has none). */
static __always_inline int opd_regs_from_current(struct opd_regs *r)
{
    const void *saved;

    if (opd_have_task_pt_regs) {
        saved = (const void *)bpf_task_pt_regs(bpf_get_current_task_btf());
    } else {
        struct task_struct *task = (struct task_struct *)bpf_get_current_task();
        void *stack = BPF_CORE_READ(task, stack);

        if (!stack)
            return -1;
        saved = (const char *)stack + OPD_THREAD_SIZE - sizeof(struct opd_regs);
    }
    if (!saved || bpf_probe_read_kernel(r, sizeof(*r), saved))
        return -1;
    if ((r->cs & 0xffff) != OPD_USER_CS && (r->cs & 0xffff) != OPD_USER32_CS)
        return -1;
    return 0;
}

#endif
