/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Types shared by the allocation probes (alloc.bpf.c) and user space (alloc.c). Read
 * straight out of BPF maps: 8-byte aligned, no implicit padding. */
#ifndef OPD_BPF_ALLOC_H
#define OPD_BPF_ALLOC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "profile.h"

/* Entries of the random sampling-interval table (a power of two). */
#define OPD_ALLOC_INTERVALS 256

/* Sampled allocations per key in one generation. */
struct opd_alloc_value {
	__u64 count; /* sampled allocations */
	__u64 bytes; /* their requested sizes, summed */
};

/* A sampled block not freed yet, by (process, address). */
struct opd_alloc_live_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct opd_alloc_live {
	struct opd_sample_key key;
	__u64 size;
};

/* Allocation counters (per-CPU array, summed by user space). */
enum opd_alloc_counter {
	OPD_ACNT_SAMPLED = 0, /* allocations sampled */
	OPD_ACNT_LIVE_FULL,   /* sampled block not tracked: live map full */
	OPD_ACNT_MAP_FULL,    /* sample lost: counts map full */
	OPD_ACNT_FREED,       /* sampled blocks freed */
	OPD_ACNT__MAX,
};

#endif
