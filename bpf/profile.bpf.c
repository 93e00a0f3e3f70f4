// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The CPU sampler. Attached to one perf_event per online CPU; each time the event fires
 * it records the interrupted thread's user and kernel stacks into the current map
 * generation and bumps that (thread, cgroup, stacks) key's count. User space swaps the
 * generation at every drain, so samples taken while it reads the old one are kept. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include <bpf/bpf_endian.h>

#include "profile.h"
#include "regs.bpf.h"
/* Changed at run time by user space through the mmapped .bss. */
struct opd_bpf_state opd_state;
#include "pidns.bpf.h"
#include "walk.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space between open and load. */
const volatile __u32 opd_kernel_frames = 1;
const volatile __u32 opd_max_frames = OPD_DEFAULT_FRAMES; /* 1..OPD_MAX_FRAMES */

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

/* The CPU sample's stages (walk.h). */
OPD_STAGE_ARRAY(opd_sample_stages);

/* CPython frames, appended after the native ones. */
#include "python.bpf.h"

static __always_inline void opd_count(__u32 idx)
{
	opd_counter_add(&opd_counters, idx, 1);
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
	e->ts = bpf_ktime_get_ns();
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
	/* A stack never holds more than the budget. Bounded by it here, the verifier walks
	 * this loop opd_max_frames times, not OPD_MAX_FRAMES: a length read from map memory
	 * is otherwise unknown to it. */
	__u32 len = st->len < opd_max_frames ? st->len : opd_max_frames;
	__u64 h = 0xcbf29ce484222325ULL ^ ((__u64)st->kernel << 32) ^ len;

	for (int i = 0; i < OPD_MAX_FRAMES; i++) {
		if (i >= len)
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

/* Records the kernel stack of the sample (when it interrupted the kernel and kernel
 * frames are on) in stacks, through the walk's frame buffer; returns its hash. */
static __always_inline __u64 opd_sample_kernel_stack(struct bpf_perf_event_data *ctx,
						     struct opd_walk *w, void *stacks)
{
	long bytes;

	if (!opd_kernel_frames || opd_ctx_user_mode(ctx))
		return OPD_STACK_NONE;
	/* Within the budget: the stored value holds max_frames frames, no more. */
	bytes = bpf_get_stack(ctx, w->stack.ip, opd_max_frames * sizeof(__u64), 0);
	if (bytes <= 0) {
		opd_count(OPD_CNT_KSTACK_FAIL);
		return OPD_STACK_NONE;
	}
	w->stack.len = bytes / sizeof(__u64);
	w->stack.kernel = 1;
	return opd_store_stack(stacks, &w->stack);
}

/* Starts the user-stack walk of the current thread in w from its interrupted user
 * registers; returns 0, or -1 when it has none to walk (a kernel thread; a 32-bit task or
 * unreadable registers, counted). w->stack is then empty. */
static __always_inline int opd_sample_begin_walk(struct bpf_perf_event_data *ctx,
						 struct opd_walk *w, struct task_struct *task)
{
	int in_kernel = !opd_ctx_user_mode(ctx);

	w->stack.len = 0;
	w->stop = 0;
	if (!BPF_CORE_READ(task, mm))
		return -1; /* kernel thread: no user stack, nothing lost */
	if (!in_kernel)
		opd_regs_from_ctx(&w->regs, ctx);
	else if (opd_regs_from_current(&w->regs))
		goto fail;
	if (opd_walk_begin(w, w->key.tgid, in_kernel, 0, opd_max_frames) == 0)
		return 0;
fail:
	opd_count(OPD_CNT_USTACK_FAIL);
	w->stack.len = 0;
	w->stop = 0;
	return -1;
}

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
		/* Another CPU inserted the same key between lookup and update. */
		cnt = bpf_map_lookup_elem(counts, key);
		if (cnt)
			__sync_fetch_and_add(cnt, v);
		return 0;
	}
	return err ? -1 : 0;
}

/* Goes on to the hook's walk stage when the walk in w has begun, else (or when that tail
 * call fails) to its finish stage, with no user frames. Returns only when the finish
 * stage could not be reached either (counted). */
static __always_inline void opd_run_stages(void *ctx, void *stages, struct opd_walk *w, int begun)
{
	if (begun) {
		bpf_tail_call(ctx, stages, OPD_STAGE_WALK);
		opd_count(OPD_CNT_STAGE_FAIL);
		w->stack.len = 0;
	}
	bpf_tail_call(ctx, stages, OPD_STAGE_FINISH);
	opd_count(OPD_CNT_STAGE_FAIL);
}

/* Stores the walk's user frames in stacks; returns their hash, OPD_STACK_NONE when there
 * are none. Counts what went wrong. */
static __always_inline __u64 opd_finish_user_stack(struct opd_walk *w, void *stacks)
{
	if (w->stack.len == 0) {
		if (w->stop) /* a walk that found not even the pc */
			opd_count(OPD_CNT_USTACK_FAIL);
		return OPD_STACK_NONE;
	}
	if (w->stack.len >= opd_max_frames)
		opd_count(OPD_CNT_USTACK_TRUNCATED);
	w->stack.kernel = 0;
	return opd_store_stack(stacks, &w->stack);
}

SEC("perf_event")
int opd_sample(struct bpf_perf_event_data *ctx)
{
	struct opd_sample_key key = {};
	struct task_struct *task;
	struct opd_walk *w;
	__u64 pid_tgid;
	void *stacks;

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
	w = opd_walk_state(OPD_WALK_SLOT_SAMPLE);
	if (!w)
		return 0;
	w->gen = opd_state.gen;
	stacks = w->gen ? (void *)&opd_stacks1 : (void *)&opd_stacks0;
	task = (struct task_struct *)bpf_get_current_task();
	opd_announce(key.tgid, task);
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.kstack = opd_sample_kernel_stack(ctx, w, stacks);
	w->key = key;
	/* Without user frames (or a walk stage) the sample keeps its kernel stack. */
	opd_run_stages(ctx, &opd_sample_stages, w, opd_sample_begin_walk(ctx, w, task) == 0);
	opd_count(OPD_CNT_STAGE_LOST);
	return 0;
}

SEC("perf_event")
int opd_sample_walk(struct bpf_perf_event_data *ctx)
{
	return opd_walk_stage(ctx, &opd_sample_stages, OPD_WALK_SLOT_SAMPLE, OPD_REFUSE_SAMPLE_WALK);
}

SEC("perf_event")
int opd_sample_python(struct bpf_perf_event_data *ctx)
{
	struct opd_walk *w;

	OPD_TEST_REFUSAL(OPD_REFUSE_SAMPLE_PYTHON);
	w = opd_walk_state(OPD_WALK_SLOT_SAMPLE);
	if (w)
		opd_py_stage(ctx, &opd_sample_stages, w);
	opd_count(OPD_CNT_STAGE_FAIL);
	opd_count(OPD_CNT_STAGE_LOST);
	return 0;
}

/* Stores the user stack and counts the sample under its key. */
SEC("perf_event")
int opd_sample_finish(struct bpf_perf_event_data *ctx)
{
	struct opd_walk *w;
	void *counts, *stacks;

	OPD_TEST_REFUSAL(OPD_REFUSE_SAMPLE_FINISH);
	w = opd_walk_state(OPD_WALK_SLOT_SAMPLE);
	if (!w)
		return 0;
	counts = w->gen ? (void *)&opd_counts1 : (void *)&opd_counts0;
	stacks = w->gen ? (void *)&opd_stacks1 : (void *)&opd_stacks0;
	w->key.ustack = opd_finish_user_stack(w, stacks);
	if (opd_add_value(counts, &w->key, 1)) {
		opd_count(OPD_CNT_MAP_FULL);
		return 0;
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
	__u32 tgid;

	OPD_TEST_REFUSAL(OPD_REFUSE_EXEC);
	tgid = opd_pid_tgid() >> 32; /* 0 outside the daemon's pid namespace */

	if (tgid && (bpf_map_delete_elem(&opd_seen, &tgid) == 0 || opd_state.all_execs))
		opd_emit(tgid, OPD_EV_EXEC);
	return 0;
}

/* Off-CPU and allocation programs share this object: its scope filter, announcements,
 * counters and stack hashing (see offcpu.bpf.c, alloc.bpf.c). */
#include "offcpu.bpf.c"
#include "alloc.bpf.c"
