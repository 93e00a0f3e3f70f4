// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CPU sampler. Attached to one perf_event per online CPU; each time the event fires
 * it records the interrupted thread's user and kernel stacks into the current map
 * generation and bumps that (thread, cgroup, stacks) key's count. User space swaps the
 * generation at every drain, so samples taken while it reads the old one are kept. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "profile.h"
#include "unwind_table.h" /* OPD_FRAME_VIA_* */
#include "stackwalk.bpf.h"
#ifdef __TARGET_ARCH_x86 /* the table walk reads x86_64 registers */
#include <bpf/bpf_endian.h>
/* Changed at run time by user space through the mmapped .bss. */
struct opd_bpf_state opd_state;
#include "pidns.bpf.h"
#include "unwind.bpf.h"
#include "unwind_stackwalk.bpf.h"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space between open and load. */
const volatile __u32 opd_kernel_frames = 1;
const volatile __u32 opd_max_frames = OPD_DEFAULT_FRAMES; /* 1..OPD_MAX_FRAMES */
/* 1: walk user stacks with the .eh_frame tables (frame pointer where none covers a pc);
 * 0: frame pointers only. Frozen, so the verifier sees one walk or the other. */
const volatile __u32 opd_unwind_tables = 0;

/* max_entries of the maps below are set by user space before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct opd_sample_key);
	__type(value, __u64);
} opd_counts0 SEC(".maps"), opd_counts1 SEC(".maps");

/* Stacks by hash. Sizes instead of BTF types: user space sets the value size to
 * OPD_STACK_BYTES(max_frames) before load, which a typed value would not allow. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct opd_bpf_stack));
} opd_stacks0 SEC(".maps"), opd_stacks1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OPD_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} opd_counters SEC(".maps");

/* Scope filter: pid (tgid) and cgroup id → enum opd_filter_mode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} opd_filter_pids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} opd_filter_cgroups SEC(".maps");

/* Processes whose first sample was announced to user space (tgid → unused). LRU, so a
 * long-running host never fills it; an evicted process is just announced again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} opd_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} opd_events SEC(".maps");

/* Drain barrier. Updating a map-in-map slot makes the kernel wait (synchronize_rcu) for
 * every running non-sleepable BPF program; user space does one such update after
 * switching generations, so that no program still writes into the old one. */
struct opd_barrier_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} opd_barrier_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct opd_barrier_inner_map);
} opd_barrier SEC(".maps") = {
	.values = { &opd_barrier_inner },
};

/* Per-CPU scratch for the stack being built: too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct opd_bpf_stack);
} opd_scratch SEC(".maps");

/* CPython frames, appended after the native ones (uses opd_scratch). */
#include "python.bpf.h"

/* Whether the sample interrupted user mode. The ctx allows only 8-byte loads of the
 * registers, and cs is a 16-bit field in newer kernels' pt_regs: load its whole slot. */
static __always_inline int opd_user_mode(struct bpf_perf_event_data *ctx)
{
	__u64 cs = *(__u64 *)((char *)&ctx->regs + offsetof(struct pt_regs, cs));

	return (cs & 3) == 3;
}

static __always_inline void opd_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&opd_counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* Returns 1 when the thread is out of scope: at most one lookup per filter map that has
 * entries, none without rules. Exclusion wins over inclusion. */
static __always_inline int opd_filtered(__u32 tgid, __u64 cgid)
{
	__u32 *pm = NULL, *cm = NULL;

	if (opd_state.pid_rules)
		pm = bpf_map_lookup_elem(&opd_filter_pids, &tgid);
	if (opd_state.cgroup_rules)
		cm = bpf_map_lookup_elem(&opd_filter_cgroups, &cgid);

	if ((pm && *pm == OPD_FILTER_EXCLUDE) || (cm && *cm == OPD_FILTER_EXCLUDE))
		return 1;
	if (!opd_state.include_active)
		return 0;
	if ((pm && *pm == OPD_FILTER_INCLUDE) || (cm && *cm == OPD_FILTER_INCLUDE))
		return 0;
	return 1;
}

static __always_inline void opd_emit(__u32 pid, __u32 kind)
{
	struct opd_proc_event *e = bpf_ringbuf_reserve(&opd_events, sizeof(*e), 0);

	if (!e) {
		opd_count(OPD_CNT_EVENTS_LOST);
		return;
	}
	e->pid = pid;
	e->kind = kind;
	bpf_ringbuf_submit(e, 0);
}

/* Announces the first sample of a user process, once (until exec or LRU eviction). */
static __always_inline void opd_announce(__u32 tgid, struct task_struct *task)
{
	__u32 one = 1;

	if (bpf_map_lookup_elem(&opd_seen, &tgid) || !BPF_CORE_READ(task, mm))
		return;
	if (bpf_map_update_elem(&opd_seen, &tgid, &one, BPF_NOEXIST) == 0)
		opd_emit(tgid, OPD_EV_NEW);
}

static __always_inline __u64 opd_hash_stack(struct opd_bpf_stack *st)
{
	__u64 h = 0xcbf29ce484222325ULL ^ ((__u64)st->kernel << 32) ^ st->len;

	for (int i = 0; i < OPD_MAX_FRAMES; i++) {
		if (i >= st->len)
			break;
		h ^= st->ip[i];
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

/* Stores the scratch stack in the generation's stacks map; returns its hash, or 0 when
 * it could not be stored. */
static __always_inline __u64 opd_store_stack(void *stacks, struct opd_bpf_stack *st)
{
	__u64 h = opd_hash_stack(st);
	long err = bpf_map_update_elem(stacks, &h, st, BPF_NOEXIST);

	if (err && err != -17 /* EEXIST: the same stack is already there */) {
		opd_count(OPD_CNT_STACK_MAP_FULL);
		return OPD_STACK_NONE;
	}
	return h;
}

static __always_inline __u64 opd_user_stack(struct bpf_perf_event_data *ctx, void *stacks,
					    struct opd_bpf_stack *st, struct task_struct *task)
{
	struct pt_regs uregs;
	int n;

	if (!BPF_CORE_READ(task, mm))
		return OPD_STACK_NONE; /* kernel thread */
	if (opd_user_mode(ctx)) {
		__builtin_memcpy(&uregs, &ctx->regs, sizeof(uregs));
	} else {
		/* In the kernel: the user registers were saved at syscall/irq entry at the
		 * top of the task's kernel stack. */
		struct pt_regs *tr = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());

		if (!tr || bpf_probe_read_kernel(&uregs, sizeof(uregs), tr)) {
			opd_count(OPD_CNT_USTACK_FAIL);
			return OPD_STACK_NONE;
		}
	}
	/* 32-bit (compat) tasks have 4-byte frame slots: the 64-bit walk would read garbage.
	 * __USER32_CS is 0x23 on x86-64. */
	if ((uregs.cs & 0xffff) == 0x23) {
		opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
#ifdef __TARGET_ARCH_x86
	if (opd_unwind_tables)
		n = opd_walk_user_cfi(OPD_UNWIND_SLOT_SAMPLE, !opd_unwind_ctx_user_mode(ctx), &uregs,
				      st->ip, opd_max_frames);
	else
#endif
		n = opd_walk_user(OPD_FP_SAMPLE, &uregs, st->ip);
	if (n <= 0) {
		opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
	if (n >= opd_max_frames)
		opd_count(OPD_CNT_USTACK_TRUNCATED);
	n = opd_py_walk(opd_pid_tgid() >> 32, n);
	st->len = n;
	st->kernel = 0;
	return opd_store_stack(stacks, st);
}

static __always_inline __u64 opd_kernel_stack(struct bpf_perf_event_data *ctx, void *stacks,
					      struct opd_bpf_stack *st)
{
	long bytes;

	if (opd_user_mode(ctx))
		return OPD_STACK_NONE; /* interrupted in user mode: no kernel frames */
	/* Within the budget: the stored value holds max_frames frames, no more. */
	bytes = bpf_get_stack(ctx, st->ip, opd_max_frames * sizeof(__u64), 0);
	if (bytes <= 0) {
		opd_count(OPD_CNT_KSTACK_FAIL);
		return OPD_STACK_NONE;
	}
	st->len = bytes / sizeof(__u64);
	st->kernel = 1;
	return opd_store_stack(stacks, st);
}

SEC("perf_event")
int opd_sample(struct bpf_perf_event_data *ctx)
{
	struct opd_sample_key key = {};
	struct task_struct *task;
	struct opd_bpf_stack *st;
	__u64 pid_tgid, one = 1, *cnt;
	__u32 zero = 0, gen;
	void *counts, *stacks;
	long err;

	opd_count(OPD_CNT_SAMPLES);
	pid_tgid = bpf_get_current_pid_tgid();
	key.tgid = pid_tgid >> 32;
	key.tid = (__u32)pid_tgid;
	if (key.tid == 0) {
		opd_count(OPD_CNT_IDLE);
		return 0;
	}
	if (opd_state.pidns_ino) {
		pid_tgid = opd_pid_tgid();
		key.tgid = pid_tgid >> 32;
		key.tid = (__u32)pid_tgid;
		if (!pid_tgid) {
			opd_count(OPD_CNT_FILTERED); /* outside the daemon's pid namespace */
			return 0;
		}
	}
	key.cgroup_id = bpf_get_current_cgroup_id();
	if (opd_filtered(key.tgid, key.cgroup_id)) {
		opd_count(OPD_CNT_FILTERED);
		return 0;
	}
	gen = opd_state.gen;
	counts = gen ? (void *)&opd_counts1 : (void *)&opd_counts0;
	stacks = gen ? (void *)&opd_stacks1 : (void *)&opd_stacks0;

	st = bpf_map_lookup_elem(&opd_scratch, &zero);
	if (!st)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	opd_announce(key.tgid, task);
	key.ustack = opd_user_stack(ctx, stacks, st, task);
	if (opd_kernel_frames)
		key.kstack = opd_kernel_stack(ctx, stacks, st);
	bpf_get_current_comm(key.comm, sizeof(key.comm));

	cnt = bpf_map_lookup_elem(counts, &key);
	if (cnt) {
		__sync_fetch_and_add(cnt, 1);
	} else {
		err = bpf_map_update_elem(counts, &key, &one, BPF_NOEXIST);
		if (err == -17) {
			/* Another CPU inserted the same key between lookup and update. */
			cnt = bpf_map_lookup_elem(counts, &key);
			if (cnt)
				__sync_fetch_and_add(cnt, 1);
		} else if (err) {
			opd_count(OPD_CNT_MAP_FULL);
			return 0;
		}
	}
	opd_count(OPD_CNT_RECORDED);
	return 0;
}

/* exec: the process's image changed. Forget that it was announced, so its next sample
 * announces it again, and tell user space to drop what it read about the old image. With
 * process-name rules, every exec is told, so that a new process is put in or out of scope
 * before it runs much. */
SEC("raw_tp/sched_process_exec") /* raw: needs no tracefs mount, unlike tp/ */
int opd_exec(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 tgid = opd_pid_tgid() >> 32; /* 0 outside the daemon's pid namespace */

	if (tgid && (bpf_map_delete_elem(&opd_seen, &tgid) == 0 || opd_state.all_execs))
		opd_emit(tgid, OPD_EV_EXEC);
	return 0;
}

/* Off-CPU and allocation programs share this object: its scope filter, announcements,
 * counters and stack hashing (see offcpu.bpf.c, alloc.bpf.c). */
#include "offcpu.bpf.c"
#include "alloc.bpf.c"

/* See stackwalk.bpf.h. Checked by the verifier with any arguments: the slot is bounded
 * by the budget and masked, the scratch looked up here. */
__noinline int opd_fp_walk(__u32 which, __u64 fp, __u32 from)
{
	struct opd_bpf_stack *st;
	__u32 zero = 0;
	int n = 0;

	if (which == OPD_FP_OFFCPU)
		st = bpf_map_lookup_elem(&opd_offcpu_scratch, &zero);
	else if (which == OPD_FP_ALLOC)
		st = bpf_map_lookup_elem(&opd_alloc_scratch, &zero);
	else
		st = bpf_map_lookup_elem(&opd_scratch, &zero);
	if (!st)
		return 0;
	for (__u32 i = 0; i < OPD_MAX_FRAMES; i++) {
		__u32 slot = from + i;
		__u64 pair[2]; /* saved rbp, return address */

		if (slot >= opd_max_frames)
			break;
		/* Opaque to the compiler, so that it indexes with the masked slot instead of
		 * a pointer it advances (which the verifier cannot bound). */
		asm volatile("%[s] &= %[m]" : [s] "+r"(slot) : [m] "i"(OPD_MAX_FRAMES - 1));
		/* A frame pointer is 8-byte aligned and points into the stack, which sits
		 * above everything else in the user half; a null or odd value ends the chain. */
		if (!fp || (fp & 7))
			break;
		if (bpf_probe_read_user(pair, sizeof(pair), (void *)fp))
			break;
		if (!pair[1])
			break;
		st->ip[slot] = pair[1] | OPD_FRAME_VIA_FP;
		n++;
		/* The caller's frame lies above ours; anything else is garbage or a loop. */
		if (pair[0] <= fp)
			break;
		fp = pair[0];
	}
	return n;
}
