// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Allocation profiling. Included at the end of profile.bpf.c, not built on its own: it
 * reuses the sampler's scope filter, announcements, counters and stack hashing.
 *
 * User space attaches these programs as uprobes to the allocator functions of each
 * profiled process's libc (and jemalloc/tcmalloc), one attachment per file. Sampling is
 * by bytes: each thread counts down a random number of bytes (exponentially distributed
 * with mean opd_alloc_sample_bytes, drawn from a table user space fills), and the
 * allocation that crosses zero is sampled. Its stack is taken at entry; at return, once
 * the address is known, it is added to the generation's counts and to the live map,
 * which free(), realloc() and munmap() remove it from. Unsampled calls cost one lookup
 * of the process and one of the thread at entry, one of the thread at return. */
#include "alloc.h"

/* Mean bytes between samples; 0 = memory profiling off (the probes return at once). */
__u64 opd_alloc_sample_bytes;

/* Processes whose allocations are profiled (tgid → unused): the probes fire for every
 * process that maps an attached file. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} opd_alloc_pids SEC(".maps");

/* Exponentially distributed intervals with mean opd_alloc_sample_bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OPD_ALLOC_INTERVALS);
	__type(key, __u32);
	__type(value, __u64);
} opd_alloc_intervals SEC(".maps");

/* Per thread of a profiled process. LRU: threads come and go. */
struct opd_alloc_thread {
	__s64 left;     /* bytes until the next sample */
	__u64 outer_sp; /* stack pointer at entry of the outermost allocator call in progress */
	__u32 depth;    /* allocator calls in progress (entries seen minus returns seen) */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct opd_alloc_thread);
} opd_alloc_threads SEC(".maps");

/* A sampled call between entry and return, by tid. */
struct opd_alloc_pending {
	struct opd_sample_key key;
	__u64 size;
	__u64 ptrloc; /* posix_memalign: where the address is written; else 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct opd_alloc_pending);
} opd_alloc_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct opd_sample_key);
	__type(value, struct opd_alloc_value);
} opd_alloc0 SEC(".maps"), opd_alloc1 SEC(".maps");

/* Sampled blocks not freed yet; read, not drained, by user space. When full, a new block
 * is not tracked (counted) rather than evicting an older one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct opd_alloc_live_key);
	__type(value, struct opd_alloc_live);
} opd_alloc_live SEC(".maps");

/* Stacks of allocation keys, read (not drained) by user space: live blocks keep
 * referring to them across drains. Value size set by user space, as for opd_stacks0. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct opd_bpf_stack));
} opd_alloc_stacks SEC(".maps");

/* The allocation stages (walk.h). */
OPD_STAGE_ARRAY(opd_alloc_stages);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OPD_ACNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} opd_alloc_counters SEC(".maps");

static __always_inline void opd_acount(__u32 idx)
{
	opd_counter_add(&opd_alloc_counters, idx, 1);
}

static __always_inline __s64 opd_alloc_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (OPD_ALLOC_INTERVALS - 1);
	__u64 *v = bpf_map_lookup_elem(&opd_alloc_intervals, &i);

	return v && *v ? (__s64)*v : (__s64)opd_alloc_sample_bytes;
}

/* Entry of an allocating call of size bytes (0: not an allocation, bookkeeping only).
 * ptrloc: see opd_alloc_pending. Only the outermost allocator call of a thread counts:
 * glibc's realloc(NULL, n) and aligned_alloc with a small alignment call malloc, and
 * malloc maps large blocks with mmap, all through probed entry points. */
static __always_inline int opd_alloc_enter(struct pt_regs *ctx, __u64 size, __u64 ptrloc)
{
	struct opd_sample_key key = {};
	struct opd_alloc_thread init = {}, *t;
	struct opd_walk *w;
	__u64 pid_tgid, sp = PT_REGS_SP(ctx);
	__u32 tgid, tid;
	int begun;

	if (!opd_alloc_sample_bytes)
		return 0;
	pid_tgid = opd_pid_tgid();
	tgid = pid_tgid >> 32;
	tid = (__u32)pid_tgid;
	if (!bpf_map_lookup_elem(&opd_alloc_pids, &tgid))
		return 0;
	t = bpf_map_lookup_elem(&opd_alloc_threads, &tid);
	if (!t) {
		init.left = opd_alloc_interval();
		bpf_map_update_elem(&opd_alloc_threads, &tid, &init, BPF_ANY);
		t = bpf_map_lookup_elem(&opd_alloc_threads, &tid);
		if (!t)
			return 0;
	}
	/* Nested: an outer call is in progress deeper in the stack. A call whose return was
	 * missed (probes attached meanwhile) leaves a depth behind whose outer_sp is not
	 * above us: that call is over, so this one is outermost. */
	if (t->depth && sp < t->outer_sp) {
		t->depth++;
		return 0;
	}
	t->depth = 1;
	t->outer_sp = sp;
	if (!size)
		return 0;
	t->left -= (__s64)size;
	if (t->left > 0)
		return 0;
	t->left = opd_alloc_interval();

	key.tgid = tgid;
	key.tid = tid;
	key.cgroup_id = bpf_get_current_cgroup_id();
	if (opd_filtered(tgid, key.cgroup_id))
		return 0;
	w = opd_walk_state(OPD_WALK_SLOT_ALLOC);
	if (!w)
		return 0;
	opd_announce(tgid, (struct task_struct *)bpf_get_current_task());
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	w->key = key;
	w->arg[0] = size;
	w->arg[1] = ptrloc;
	/* At the allocator's first instruction: the return address is on top of the stack
	 * when no table covers it (entry = 1). A uprobe's registers are the user's. */
	opd_regs_from_ctx(&w->regs, ctx);
	begun = opd_walk_begin(w, tgid, 0, 1, opd_max_frames) == 0;
	if (!begun)
		opd_count(OPD_CNT_USTACK_FAIL);
	opd_run_stages(ctx, &opd_alloc_stages, w, begun);
	return 0;
}

SEC("uprobe")
int opd_alloc_walk(struct pt_regs *ctx)
{
	return opd_walk_stage(ctx, &opd_alloc_stages, OPD_WALK_SLOT_ALLOC, OPD_REFUSE_ALLOC_WALK);
}

/* Stores the user stack and leaves the call pending until its return. */
SEC("uprobe")
int opd_alloc_finish(struct pt_regs *ctx)
{
	struct opd_walk *w = opd_walk_state(OPD_WALK_SLOT_ALLOC);
	struct opd_alloc_pending p = {};

	if (!w)
		return 0;
	p.key = w->key;
	p.key.ustack = opd_finish_user_stack(w, &opd_alloc_stacks);
	p.size = w->arg[0];
	p.ptrloc = w->arg[1];
	bpf_map_update_elem(&opd_alloc_pending, &p.key.tid, &p, BPF_ANY);
	return 0;
}

static __always_inline void opd_alloc_forget(__u64 addr)
{
	struct opd_alloc_live_key lk = {};

	if (!addr || !opd_alloc_sample_bytes)
		return;
	lk.tgid = opd_pid_tgid() >> 32;
	lk.addr = addr;
	if (bpf_map_delete_elem(&opd_alloc_live, &lk) == 0)
		opd_acount(OPD_ACNT_FREED);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_malloc, __u64 size)
{
	return opd_alloc_enter(ctx, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_calloc, __u64 n, __u64 size)
{
	/* Both below 2^32 cannot overflow; above, the request is absurd (and an overflow
	 * makes calloc fail), so it is not sampled. */
	if ((n | size) >> 32)
		return 0;
	return opd_alloc_enter(ctx, n * size, 0);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_realloc, __u64 ptr, __u64 size)
{
	/* The old block is gone either way once realloc succeeds; counting it gone at entry
	 * is wrong only when realloc fails, which leaves it live. */
	opd_alloc_forget(ptr);
	return opd_alloc_enter(ctx, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_posix_memalign, __u64 memptr, __u64 align, __u64 size)
{
	return opd_alloc_enter(ctx, size, memptr);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_aligned_alloc, __u64 align, __u64 size)
{
	return opd_alloc_enter(ctx, size, 0);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_free, __u64 ptr)
{
	opd_alloc_forget(ptr);
	return 0;
}

#define OPD_MAP_ANONYMOUS 0x20 /* x86-64 and arm64 */

/* mmap: anonymous mappings made outside of the allocator are large blocks of their own;
 * file mappings are not allocations (bookkeeping only, for the nesting depth). */
SEC("uprobe")
int BPF_KPROBE(opd_alloc_mmap, __u64 addr, __u64 len, __u64 prot, __u64 flags)
{
	return opd_alloc_enter(ctx, (flags & OPD_MAP_ANONYMOUS) ? len : 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(opd_alloc_munmap, __u64 addr)
{
	opd_alloc_forget(addr);
	return 0;
}

/* Return of any allocating call: records the sampled one pending for this thread. */
SEC("uretprobe")
int BPF_KRETPROBE(opd_alloc_ret, __u64 rc)
{
	struct opd_alloc_live_key lk = {};
	struct opd_alloc_live live = {};
	struct opd_alloc_pending *p;
	struct opd_alloc_value one, *v;
	struct opd_alloc_thread *t;
	__u32 tid = (__u32)opd_pid_tgid();
	__u64 addr = rc;
	void *counts;
	long err;

	if (!opd_alloc_sample_bytes)
		return 0;
	t = bpf_map_lookup_elem(&opd_alloc_threads, &tid);
	if (!t)
		return 0; /* not a thread of a profiled process */
	if (t->depth)
		t->depth--;
	p = bpf_map_lookup_elem(&opd_alloc_pending, &tid);
	if (!p)
		return 0;
	live.key = p->key;
	live.size = p->size;
	if (p->ptrloc) {
		/* posix_memalign: 0 on success, the address written to *memptr. */
		if (rc || bpf_probe_read_user(&addr, sizeof(addr), (void *)p->ptrloc))
			addr = 0;
	}
	bpf_map_delete_elem(&opd_alloc_pending, &tid);
	if (!addr || addr == ~0ULL)
		return 0; /* the allocation failed (NULL, or MAP_FAILED) */
	opd_acount(OPD_ACNT_SAMPLED);

	counts = opd_state.gen ? (void *)&opd_alloc1 : (void *)&opd_alloc0;
	v = bpf_map_lookup_elem(counts, &live.key);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		__sync_fetch_and_add(&v->bytes, live.size);
	} else {
		one.count = 1;
		one.bytes = live.size;
		err = bpf_map_update_elem(counts, &live.key, &one, BPF_NOEXIST);
		if (err == -17) {
			v = bpf_map_lookup_elem(counts, &live.key);
			if (v) {
				__sync_fetch_and_add(&v->count, 1);
				__sync_fetch_and_add(&v->bytes, live.size);
			}
		} else if (err) {
			opd_acount(OPD_ACNT_MAP_FULL);
		}
	}
	lk.tgid = live.key.tgid;
	lk.addr = addr;
	if (bpf_map_update_elem(&opd_alloc_live, &lk, &live, BPF_ANY))
		opd_acount(OPD_ACNT_LIVE_FULL);
	return 0;
}
