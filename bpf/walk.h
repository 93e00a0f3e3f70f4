/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* How one sample moves through the BPF programs, shared with user space (which loads
 * the programs, puts them in the stage arrays and reads their verifier cost).
 *
 * Every hook (CPU sample, off-CPU switch, allocation probe) is an entry program followed
 * by stages chained with tail calls through a program array of its own:
 *
 *   entry ──► walk ──► walk ──► … ──► [python] ──► finish
 *
 * The entry program filters, records the kernel stack and the user registers into the
 * CPU's walk state; each walk stage unwinds OPD_WALK_STEPS user frames and tail-calls
 * itself until the stack ends or the frame budget is spent; finish stores the stacks and
 * counts the sample. No program loops over more than OPD_WALK_STEPS frames, so each one's
 * verifier cost is bounded by its own size, not by the frame budget, and stays far below
 * the kernel's limit on every kernel (bpf_loop and its callback verification, which
 * changed between releases, are not used). */
#ifndef OPD_BPF_WALK_H
#define OPD_BPF_WALK_H

/* Slots of a hook's stage array. */
enum opd_stage {
    OPD_STAGE_WALK = 0,
    OPD_STAGE_PYTHON = 1, /* CPU samples only; an empty slot goes straight to finish */
    OPD_STAGE_FINISH = 2,
    OPD_STAGE__MAX,
};

/* Frames one walk stage unwinds before it tail-calls itself. */
#define OPD_WALK_STEPS 36

/* Tail calls a walk may take after its first stage. The kernel allows 32 tail calls in
 * one run (33 since 5.17): the entry's call into the walk, these, and the calls into
 * python and finish must fit. 29 walk stages x 36 steps cover the largest budget (1024)
 * plus the frames no step records (a signal frame's). */
#define OPD_WALK_MAX_HOPS 28

/* Per-CPU walk states, one per hook that can interrupt another on the same CPU (a perf
 * sample can fire inside the off-CPU program or an allocation probe). */
enum opd_walk_slot {
    OPD_WALK_SLOT_SAMPLE = 0,
    OPD_WALK_SLOT_OFFCPU = 1,
    OPD_WALK_SLOT_ALLOC = 2,
    OPD_WALK_SLOTS,
};

/* Fault injection for the tests of degradation: user space sets bit OPD_REFUSE_x of the
 * frozen opd_test_refuse (from OTELPROFD_TEST_REFUSE_PROGRAMS) and the program's first
 * instruction becomes one every verifier refuses. 0 in production: the branch is dead
 * code the verifier removes. */
enum opd_test_refusal {
    OPD_REFUSE_SAMPLE_WALK = 0,
    OPD_REFUSE_SAMPLE_PYTHON,
    OPD_REFUSE_SAMPLE_FINISH,
    OPD_REFUSE_OFFCPU_WALK,
    OPD_REFUSE_ALLOC_WALK,
    OPD_REFUSE_EXEC,
    OPD_REFUSE__MAX,
};

#endif
