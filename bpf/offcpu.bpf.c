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

/* Own scratch: a hardware-cycles sample (NMI) can interrupt this program on the same CPU
 * and would overwrite the sampler's. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct opd_bpf_stack);
} opd_offcpu_scratch SEC(".maps");

/* Adds v to counts[key], creating the entry; returns 0 or -1 when the map is full. */
static __always_inline int opd_add_value(void *counts, struct opd_sample_key *key, __u64 v)
{
	__u64 *cnt = bpf_map_lookup_elem(counts, key);
	long err;

	if (cnt) {
		__sync_fetch_and_add(cnt, v);
		return 0;
	}
	err = bpf_map_update_elem(counts, key, &v, BPF_NOEXIST);
	if (err == -17) {
		cnt = bpf_map_lookup_elem(counts, key);
		if (cnt)
			__sync_fetch_and_add(cnt, v);
		return 0;
	}
	return err ? -1 : 0;
}

/* User stack of a thread in the kernel (current, here): from the registers saved at its
 * kernel entry, walked as the sampler walks (tables when on, else frame pointers). */
static __always_inline __u64 opd_task_user_stack(struct task_struct *task, void *stacks,
						 struct opd_bpf_stack *st)
{
	struct pt_regs uregs;
	struct pt_regs *tr = (struct pt_regs *)bpf_task_pt_regs(task);
	int n;

	if (!tr || bpf_probe_read_kernel(&uregs, sizeof(uregs), tr)) {
		opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
	if ((uregs.cs & 0xffff) == 0x23) { /* 32-bit task: see opd_user_stack() */
		opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
#ifdef __TARGET_ARCH_x86
	if (opd_unwind_tables) /* in the kernel (sched_switch): registers saved at entry */
		n = opd_walk_user_cfi(OPD_UNWIND_SLOT_OFFCPU, 1, &uregs, st->ip, opd_max_frames);
	else
#endif
		n = opd_walk_user(OPD_FP_OFFCPU, &uregs, st->ip);
	if (n <= 0) {
		opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
	if (n >= opd_max_frames)
		opd_count(OPD_CNT_USTACK_TRUNCATED);
	st->len = n;
	st->kernel = 0;
	return opd_store_stack(stacks, st);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(opd_offcpu_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct opd_offcpu_start start = {}, *sp;
	struct opd_bpf_stack *st;
	__u32 ntid, zero = 0, thr = opd_offcpu_threshold;
	__u64 now = bpf_ktime_get_ns(), pid_tgid;
	void *counts;
	long bytes;

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
	st = bpf_map_lookup_elem(&opd_offcpu_scratch, &zero);
	if (!st)
		return 0;
	opd_announce(start.key.tgid, prev);
	start.key.ustack = opd_task_user_stack(prev, &opd_offcpu_stacks, st);
	if (opd_kernel_frames) {
		/* Skip this program and its trampoline (bpf_trace_run4): the stack starts at
		 * __schedule. */
		bytes = bpf_get_stack(ctx, st->ip, opd_max_frames * sizeof(__u64),
				      2 & BPF_F_SKIP_FIELD_MASK);
		if (bytes > 0) {
			st->len = bytes / sizeof(__u64);
			st->kernel = 1;
			start.key.kstack = opd_store_stack(&opd_offcpu_stacks, st);
		} else {
			opd_count(OPD_CNT_KSTACK_FAIL);
		}
	}
	bpf_get_current_comm(start.key.comm, sizeof(start.key.comm));
	start.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&opd_offcpu_start, &start.key.tid, &start, BPF_ANY);
	return 0;
}
