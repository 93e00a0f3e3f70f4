// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Off-CPU profiling. Included at the end of profile.bpf.c, not built on its own: it reuses
 * the sampler's scope filter, process announcements, counters and stack hashing, so that
 * off-CPU samples are in scope exactly when CPU samples are.
 *
 * At sched_switch, for a sampled fraction of switches, the thread leaving the CPU has its
 * stacks recorded and its switch-out time remembered; when it is switched in again, the
 * time it was off is added to its (thread, cgroup, stacks) key in the current generation.
 * The stacks go to a map of their own that is never drained: a thread may sleep across
 * several drains, and its stacks must still be there when its time is finally counted. */

/* Switches recorded, out of 2^32 (0: off, 0xffffffff: all). In .bss so that user space
 * can change it at run time; the program is only loaded when it is configured. */
__u32 opd_offcpu_threshold;

struct opd_offcpu_start {
	__u64 ts; /* bpf_ktime_get_ns() at switch-out */
	struct opd_sample_key key;
};

/* tid → when and where it left the CPU. LRU: a thread that exits while off-CPU never
 * comes back to delete its entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct opd_offcpu_start);
} opd_offcpu_start SEC(".maps");

/* Off-CPU nanoseconds per key, in two generations like opd_counts0/1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct opd_sample_key);
	__type(value, __u64);
} opd_offcpu0 SEC(".maps"), opd_offcpu1 SEC(".maps");

/* Stacks of off-CPU keys, read (not drained) by user space. LRU bounds it. Value size
 * set by user space, as for opd_stacks0. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct opd_bpf_stack));
} opd_offcpu_stacks SEC(".maps");

/* The off-CPU stages (walk.h): all attached to sched_switch like the entry, which a tail
 * call between tracing programs requires. */
OPD_STAGE_ARRAY(opd_offcpu_stages);

SEC("tp_btf/sched_switch")
int BPF_PROG(opd_offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct opd_offcpu_start start = {}, *sp;
	struct opd_walk *w;
	__u32 ntid, thr = opd_offcpu_threshold;
	__u64 now = bpf_ktime_get_ns(), pid_tgid;
	void *counts;
	long bytes;
	int begun;

	/* The thread coming in: count the time it was away. */
	ntid = BPF_CORE_READ(next, pid);
	sp = bpf_map_lookup_elem(&opd_offcpu_start, &ntid);
	if (sp) {
		__u64 delta = now > sp->ts ? now - sp->ts : 0;

		start.key = sp->key;
		bpf_map_delete_elem(&opd_offcpu_start, &ntid);
		counts = opd_state.gen ? (void *)&opd_offcpu1 : (void *)&opd_offcpu0;
		if (opd_add_value(counts, &start.key, delta))
			opd_count(OPD_CNT_MAP_FULL);
	}

	/* The thread going out (current): maybe record where it waits. */
	if (!thr)
		return 0;
	if (thr != 0xffffffff && bpf_get_prandom_u32() >= thr)
		return 0;
	pid_tgid = opd_pid_tgid(); /* 0 outside the daemon's pid namespace */
	__builtin_memset(&start, 0, sizeof(start));
	start.key.tgid = pid_tgid >> 32;
	start.key.tid = (__u32)pid_tgid;
	if (start.key.tid == 0 || !BPF_CORE_READ(prev, mm))
		return 0; /* idle and kernel threads do not wait for anything we can name */
	start.key.cgroup_id = bpf_get_current_cgroup_id();
	if (opd_filtered(start.key.tgid, start.key.cgroup_id))
		return 0;
	w = opd_walk_state(OPD_WALK_SLOT_OFFCPU);
	if (!w)
		return 0;
	opd_announce(start.key.tgid, prev);
	bpf_get_current_comm(start.key.comm, sizeof(start.key.comm));
	if (opd_kernel_frames) {
		/* Skip this program and its trampoline (bpf_trace_run4): the stack starts at
		 * __schedule. */
		bytes = bpf_get_stack(ctx, w->stack.ip, opd_max_frames * sizeof(__u64),
				      2 & BPF_F_SKIP_FIELD_MASK);
		if (bytes > 0) {
			w->stack.len = bytes / sizeof(__u64);
			w->stack.kernel = 1;
			start.key.kstack = opd_store_stack(&opd_offcpu_stacks, &w->stack);
		} else {
			opd_count(OPD_CNT_KSTACK_FAIL);
		}
	}
	w->key = start.key;
	w->stack.len = 0;
	w->stop = 0;
	/* In the kernel (sched_switch): its user registers were saved at entry. */
	begun = opd_regs_from_current(&w->regs) == 0 &&
		opd_walk_begin(w, start.key.tgid, 1, 0, opd_max_frames) == 0;
	if (!begun)
		opd_count(OPD_CNT_USTACK_FAIL);
	opd_run_stages(ctx, &opd_offcpu_stages, w, begun);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(opd_offcpu_walk)
{
	return opd_walk_stage(ctx, &opd_offcpu_stages, OPD_WALK_SLOT_OFFCPU, OPD_REFUSE_OFFCPU_WALK);
}

/* Stores the user stack and remembers when and where the thread left the CPU. */
SEC("tp_btf/sched_switch")
int BPF_PROG(opd_offcpu_finish)
{
	struct opd_walk *w = opd_walk_state(OPD_WALK_SLOT_OFFCPU);
	struct opd_offcpu_start start = {};

	if (!w)
		return 0;
	start.key = w->key;
	start.key.ustack = opd_finish_user_stack(w, &opd_offcpu_stacks);
	start.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&opd_offcpu_start, &start.key.tid, &start, BPF_ANY);
	return 0;
}
