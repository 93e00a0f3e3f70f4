/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The frame-pointer walk of user stacks: the seam between "where the thread was
 * interrupted" and "the frames we record" when no .eh_frame table is used (the table
 * walk, unwind_stackwalk.bpf.h, takes the same place in the sampler). */
#ifndef OPD_BPF_STACKWALK_H
#define OPD_BPF_STACKWALK_H

/* Whose per-CPU scratch stack a walk fills: each program has its own, because a perf
 * sample (an NMI with the cycles event) can interrupt the others on the same CPU. */
enum opd_fp_scratch {
	OPD_FP_SAMPLE = 0, /* opd_scratch */
	OPD_FP_OFFCPU = 1, /* opd_offcpu_scratch */
	OPD_FP_ALLOC = 2,  /* opd_alloc_scratch */
};

/* Follows the frame-pointer chain from fp, writing return addresses into the scratch
 * stack of `which` from slot `from` up to the frame budget (opd_max_frames); returns how
 * many it wrote. A global function, defined in profile.bpf.c after every scratch map:
 * the verifier checks its loop once, on its own, instead of once per caller path, which
 * is what lets the budget go up to OPD_MAX_FRAMES. */
int opd_fp_walk(__u32 which, __u64 fp, __u32 from);

/* Reads user frames of the interrupted thread into frames (the scratch stack of
 * `which`): frames[0] is the interrupted pc, the rest return addresses, innermost
 * first. uregs are its user registers (a copy, readable directly). Returns the number of
 * frames written: 0 when even the pc is unusable, opd_max_frames when the walk stopped
 * at the budget. */
static __always_inline int opd_walk_user(__u32 which, struct pt_regs *uregs, __u64 *frames)
{
	if (!uregs->ip)
		return 0;
	frames[0] = uregs->ip;
	return 1 + opd_fp_walk(which, uregs->bp, 1);
}

#endif
