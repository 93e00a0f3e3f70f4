/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-CPU counter arrays (the kernel side of every self metric the programs keep):
 * user space sums the CPUs' copies. */
#ifndef OPD_BPF_COUNTER_H
#define OPD_BPF_COUNTER_H

/* Adds n to slot idx of the per-CPU array map. */
static __always_inline void opd_counter_add(void *map, __u32 idx, __u64 n)
{
    __u64 *v = bpf_map_lookup_elem(map, &idx);

    if (v)
        __sync_fetch_and_add(v, n);
}

#endif
