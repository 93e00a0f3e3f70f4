/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by the sampler program (profile.bpf.c) and the receiver in user space.
 * Every struct here is read by user space straight out of BPF maps, so field order and
 * sizes are part of the contract: keep them 8-byte aligned with no implicit padding. */
#ifndef OPD_BPF_PROFILE_H
#define OPD_BPF_PROFILE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest frame budget (the receiver's max_frames) one sample may record, user or
 * kernel; the kernel's own walk is further capped by kernel.perf_event_max_stack. The
 * per-CPU scratch stacks are this big; stored stacks are only as big as the budget. */
#define OPD_MAX_FRAMES 1024

/* Budget when none is configured: perf's default depth (kernel.perf_event_max_stack). */
#define OPD_DEFAULT_FRAMES 127

/* Bytes of one stored stack under a budget of n frames: the length words, then n frames.
 * Stacks maps are created with values of exactly this size (user space sets it before
 * load), so a map entry costs 8 + 8n bytes, not the 8 KiB of the largest budget. */
#define OPD_STACK_BYTES(n) (8 + 8 * (n))

#define OPD_COMM_LEN 16

/* Stack hash meaning "no stack" (kernel thread without user stack, kernel frames off,
 * or the fetch failed). A real stack never hashes to 0. */
#define OPD_STACK_NONE 0

/* Key of the in-kernel aggregation: one count per distinct (thread, cgroup, stacks). */
struct opd_sample_key {
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
	__u64 ustack; /* hash of the user frames, the key of the stacks map; 0 = none */
	__u64 kstack; /* hash of the kernel frames; 0 = none */
	char comm[OPD_COMM_LEN]; /* thread name when sampled: survives the thread's exit */
};

/* One stack in the stacks map. ip[0] is the innermost frame. For user stacks ip[0] is the
 * interrupted pc and every later entry a return address. Maps hold only the first
 * OPD_STACK_BYTES(max_frames) bytes of it. */
struct opd_bpf_stack {
	__u32 len;
	__u32 kernel; /* 1 for kernel stacks */
	__u64 ip[OPD_MAX_FRAMES];
};

/* Kernel counters (per-CPU array, summed by user space). Everything a sample can end in
 * that is not "recorded" has its own slot. */
enum opd_counter {
	OPD_CNT_SAMPLES = 0,      /* program invocations */
	OPD_CNT_RECORDED,         /* added to the counts map */
	OPD_CNT_IDLE,             /* the idle task (pid 0): not recorded */
	OPD_CNT_FILTERED,         /* out of scope: not recorded */
	OPD_CNT_MAP_FULL,         /* counts map full: sample lost */
	OPD_CNT_USTACK_FAIL,      /* user stack unreadable: recorded without it */
	OPD_CNT_KSTACK_FAIL,      /* kernel stack fetch failed: recorded without it */
	OPD_CNT_STACK_MAP_FULL,   /* stacks map full: recorded without that stack */
	OPD_CNT_USTACK_TRUNCATED, /* user walk stopped at max_frames */
	OPD_CNT_EVENTS_LOST,      /* process event ring buffer full */
	OPD_CNT_STAGE_FAIL,       /* a tail call into the next stage failed (see walk.h) */
	OPD_CNT_STAGE_LOST,       /* ... and the sample was lost with it (finish not reached) */
	OPD_CNT__MAX,
};

/* Process events for user space, so that it reads /proc while the process still runs. */
enum opd_proc_event_kind {
	OPD_EV_NEW = 1,  /* first sample of a process not seen before */
	OPD_EV_EXEC = 2, /* the process replaced its image (its name too): what was read about
			  * it is stale, and name rules may now put it in or out of scope */
};

struct opd_proc_event {
	__u32 pid;
	__u32 kind;
	__u64 ts; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when it happened */
};

/* Values of the scope filter maps. */
enum opd_filter_mode {
	OPD_FILTER_INCLUDE = 1,
	OPD_FILTER_EXCLUDE = 2,
};

/* Run-time switches in the program's .bss, written by user space through the skeleton's
 * mmap of it. */
struct opd_bpf_state {
	__u32 gen;            /* which map generation the program writes: 0 or 1 */
	__u32 include_active; /* only threads matching an include entry are sampled */
	__u32 pid_rules;      /* the pid filter map has entries (else it is not looked up) */
	__u32 cgroup_rules;   /* the cgroup filter map has entries */
	__u32 all_execs;      /* announce every exec (user space filters by process name) */
	__u32 pad;
	__u64 pidns_dev;      /* nonzero ino: ids as this pid namespace numbers them, see */
	__u64 pidns_ino;      /* pidns.bpf.h; threads outside it are not recorded */
};

#endif
