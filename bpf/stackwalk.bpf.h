/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The user stack walk: the one seam between "where the thread was interrupted" and "the
 * frames we record". This version follows the frame-pointer chain; an unwinder that
 * uses .eh_frame tables replaces opd_walk_user() and nothing else. */
#ifndef OPD_BPF_STACKWALK_H
#define OPD_BPF_STACKWALK_H

/* Reads user frames of the interrupted thread into frames[0..max). uregs are its user
 * registers (a copy, readable directly). frames[0] is the interrupted pc, the rest are
 * return addresses, innermost first. Returns the number of frames written: 0 when even
 * the pc is unusable, max when the walk stopped at the limit. */
static __always_inline int opd_walk_user(struct bpf_perf_event_data *ctx, struct pt_regs *uregs,
					 __u64 *frames, int max)
{
	__u64 fp = uregs->bp;
	__u64 pc = uregs->ip;
	int n = 0;

	if (!pc)
		return 0;
	frames[0] = pc;
	n = 1;
	for (int i = 1; i < OPD_MAX_FRAMES; i++) {
		__u64 pair[2]; /* saved rbp, return address */

		if (i >= max)
			break;
		/* A frame pointer is 8-byte aligned and points into the stack, which sits
		 * above everything else in the user half; a null or odd value ends the chain. */
		if (!fp || (fp & 7))
			break;
		if (bpf_probe_read_user(pair, sizeof(pair), (void *)fp))
			break;
		if (!pair[1])
			break;
		frames[i] = pair[1];
		n = i + 1;
		/* The caller's frame lies above ours; anything else is garbage or a loop. */
		if (pair[0] <= fp)
			break;
		fp = pair[0];
	}
	return n;
}

#endif
