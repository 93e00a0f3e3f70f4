/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The user-stack walk (x86_64): .eh_frame table rows where a file has them, a frame-
 * pointer step where none covers a pc. Split into stages chained by tail calls (walk.h).
 *
 * User space (collector/receivers/profiling/unwind/) compiles each file's CFI into rows
 * (unwind_table.h) and fills three maps:
 *   opd_unwind_rows   ARRAY       all files' rows, each file one sorted extent
 *   opd_unwind_files  ARRAY       file slot -> {start, count, gen}
 *   opd_unwind_ranges LPM_TRIE    {pid, address prefix} -> {bias, file slot, gen, flags}
 * and drains opd_unwind_unknown, the pids whose pcs hit no range (new process, dlopen).
 *
 * For each frame: find the range of pc, binary-search the file's rows for pc - bias
 * (pc - 1 for return addresses), compute the CFA, read the return address and the saved
 * rbp, and continue with the caller. Everything the walk carries lives in the CPU's walk
 * state (struct opd_walk), a map value: the verifier does not track map memory, so each
 * step is verified once with unknown values whatever the frame count. Needs regs.bpf.h,
 * profile.h, walk.h and <bpf/bpf_endian.h>. */
#ifndef OPD_BPF_WALK_BPF_H
#define OPD_BPF_WALK_BPF_H

#include "counter.bpf.h"
#include "unwind_table.h"
#include "walk.h"

/* 1: walk user stacks with the .eh_frame tables (frame pointer where none covers a pc);
 * 0: frame pointers only. Frozen, so the verifier sees one walk or the other. */
const volatile __u32 opd_unwind_tables = 0;

/* See enum opd_test_refusal. */
const volatile __u32 opd_test_refuse = 0;
#define OPD_TEST_REFUSAL(bit)                                                               \
    do {                                                                                    \
        if (opd_test_refuse & (1u << (bit)))                                                \
            asm volatile("r10 = 0"); /* "frame pointer is read only" */                   \
    } while (0)

/* log2 of the largest extent a file may have; user space caps tables at 2^24 rows. */
#define OPD_UNWIND_SEARCH_STEPS 24

/* One walk, carried from stage to stage. */
struct opd_walk {
    struct opd_regs regs; /* interrupted user registers, for the rules of frame 0 */
    __u64 pc, sp, fp;
    /* The last range with a table, reused while pcs stay inside it. */
    __u64 c_start, c_end, c_bias;
    __u32 c_rows, c_count;
    __u32 pid;
    __u32 max;    /* frame budget */
    __u32 adjust; /* 1 when pc is a return address (look up pc - 1) */
    __u32 stop;   /* enum opd_unwind_stat of the end, 0 while walking */
    __u32 noted;  /* this pid was reported in opd_unwind_unknown */
    __u32 via;    /* OPD_FRAME_VIA_* >> 32 of the last step: tags the next frame recorded */
    __u32 entry;  /* pc is a function's first instruction (allocation probes) */
    __u32 hops;   /* tail calls this walk took */
    __u32 gen;    /* map generation the entry program chose */
    __u32 pad;
    struct opd_sample_key key; /* the record the stages build */
    __u64 arg[2];              /* the hook's own: allocation size and result slot */
    struct opd_bpf_stack stack; /* the user frames (first the kernel's, in the entry) */
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, OPD_WALK_SLOTS);
    __type(key, __u32);
    __type(value, struct opd_walk);
} opd_walks SEC(".maps");

/* Sizes are set by user space before load (bpf_map__set_max_entries). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1 << 20);
    __type(key, __u32);
    __type(value, struct opd_unwind_row);
} opd_unwind_rows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct opd_unwind_file);
} opd_unwind_files SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 1 << 18);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct opd_unwind_range_key);
    __type(value, struct opd_unwind_range);
} opd_unwind_ranges SEC(".maps");

/* pid -> samples that found no range since user space last looked. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, __u64);
} opd_unwind_unknown SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, OPD_UNW__MAX);
    __type(key, __u32);
    __type(value, __u64);
} opd_unwind_stats SEC(".maps");

static __always_inline void opd_unwind_count(__u32 idx)
{
    opd_counter_add(&opd_unwind_stats, idx, 1);
}

static __always_inline struct opd_walk *opd_walk_state(__u32 slot)
{
    return bpf_map_lookup_elem(&opd_walks, &slot);
}

static __always_inline int opd_unwind_read(__u64 *dst, __u64 addr)
{
    return bpf_probe_read_user(dst, sizeof(*dst), (const void *)addr) ? -1 : 0;
}

/* Value of DWARF register reg in the interrupted frame (only frame 0 has them all). */
static __always_inline int opd_unwind_reg0(const struct opd_regs *r, __u32 reg, __u64 *out)
{
    switch (reg) {
    case 0: *out = r->ax; break;
    case 1: *out = r->dx; break;
    case 2: *out = r->cx; break;
    case 3: *out = r->bx; break;
    case 4: *out = r->si; break;
    case 5: *out = r->di; break;
    case 8: *out = r->r8; break;
    case 9: *out = r->r9; break;
    case 10: *out = r->r10; break;
    case 11: *out = r->r11; break;
    case 12: *out = r->r12; break;
    case 13: *out = r->r13; break;
    case 14: *out = r->r14; break;
    case 15: *out = r->r15; break;
    default: return -1;
    }
    return 0;
}

/* Register value for a CFA/rbp rule: rsp and rbp in any frame, others in frame 0. */
static __always_inline int opd_unwind_reg(struct opd_walk *w, __u32 reg, __u64 *out)
{
    if (reg == OPD_DWARF_X86_RSP) {
        *out = w->sp;
        return 0;
    }
    if (reg == OPD_DWARF_X86_RBP) {
        *out = w->fp;
        return 0;
    }
    if (w->stack.len != 1)
        return -1;
    return opd_unwind_reg0(&w->regs, reg, out);
}

/* Ends the walk with reason stop; returns 1 (the steps' "done"). */
static __always_inline int opd_walk_end(struct opd_walk *w, __u32 stop)
{
    w->stop = stop;
    return 1;
}

/* Moves to the caller found by method via (OPD_FRAME_VIA_* >> 32; 0: read, not
 * unwound). Returns 0, or 1 when the caller's pc ends the stack. */
static __always_inline int opd_walk_caller(struct opd_walk *w, __u64 pc, __u64 sp, __u64 fp,
                                           __u32 via)
{
    w->via = via;
    w->sp = sp;
    w->fp = fp;
    w->pc = pc;
    w->adjust = 1;
    if (!pc)
        return opd_walk_end(w, OPD_UNW_STOP_OUTERMOST); /* some runtimes end with 0 */
    return 0;
}

/* One frame-pointer step: [rbp] = caller's rbp, [rbp + 8] = return address. */
static __always_inline int opd_walk_fp_step(struct opd_walk *w)
{
    __u64 pair[2];

    if (!w->fp)
        return opd_walk_end(w, OPD_UNW_STOP_FP_END);
    if ((w->fp & 7) || w->fp < w->sp || w->fp >= OPD_USER_TOP)
        return opd_walk_end(w, OPD_UNW_ERR_FP);
    if (bpf_probe_read_user(pair, sizeof(pair), (const void *)w->fp))
        return opd_walk_end(w, OPD_UNW_ERR_READ);
    opd_unwind_count(OPD_UNW_FRAMES_FP);
    return opd_walk_caller(w, pair[1], w->fp + 16, pair[0], OPD_FRAME_VIA_FP >> 32);
}

/* At a function's first instruction, with no table for it: the return address is on top
 * of the stack and rbp is still the caller's (CFA = rsp + 8, the rule every x86_64
 * function starts with). The caller's frame is read, not unwound: no method tag. */
static __always_inline int opd_walk_entry_step(struct opd_walk *w)
{
    __u64 ra;

    if (opd_unwind_read(&ra, w->sp))
        return opd_walk_end(w, OPD_UNW_ERR_READ);
    return opd_walk_caller(w, ra, w->sp + 8, w->fp, 0);
}

/* Finds the row for pc in the caller's range. Returns NULL when no table covers it. */
static __always_inline struct opd_unwind_row *opd_walk_find_row(struct opd_walk *w)
{
    struct opd_unwind_range_key key = {};
    struct opd_unwind_range *range;
    struct opd_unwind_file *file;
    struct opd_unwind_row *row;
    __u64 rel64, lookup_pc = w->pc - w->adjust;
    __u32 rel, lo = 0, hi, start, idx;

    if (lookup_pc >= w->c_start && lookup_pc < w->c_end)
        goto cached;
    key.prefixlen = OPD_UNWIND_RANGE_KEY_BITS;
    key.pid_be = bpf_htonl(w->pid);
    key.addr_be = bpf_cpu_to_be64(lookup_pc);
    range = bpf_map_lookup_elem(&opd_unwind_ranges, &key);
    if (!range) {
        if (!w->noted) {
            __u64 one = 1;

            w->noted = 1;
            opd_unwind_count(OPD_UNW_NO_RANGE);
            bpf_map_update_elem(&opd_unwind_unknown, &w->pid, &one, BPF_ANY);
        }
        return NULL;
    }
    if (range->flags & OPD_RANGE_FP_ONLY)
        return NULL;
    idx = range->file_id;
    file = bpf_map_lookup_elem(&opd_unwind_files, &idx);
    if (!file || !file->count)
        return NULL;
    if (file->gen != range->gen) {
        opd_unwind_count(OPD_UNW_STALE_FILE);
        return NULL;
    }
    w->c_start = range->start;
    w->c_end = range->end;
    w->c_bias = range->bias;
    w->c_rows = file->start;
    w->c_count = file->count;
cached:
    rel64 = lookup_pc - w->c_bias;
    if (rel64 > 0xffffffffULL)
        return NULL;
    rel = (__u32)rel64;
    start = w->c_rows;
    hi = w->c_count;
    /* First row whose pc is above rel, minus one. */
    for (int i = 0; i < OPD_UNWIND_SEARCH_STEPS + 1; i++) {
        __u32 mid;

        if (lo >= hi)
            break;
        mid = lo + (hi - lo) / 2;
        idx = start + mid;
        row = bpf_map_lookup_elem(&opd_unwind_rows, &idx);
        if (!row)
            return NULL;
        if (row->pc <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    idx = start + lo - 1;
    row = bpf_map_lookup_elem(&opd_unwind_rows, &idx);
    if (!row || row->cfa_type == OPD_CFA_END)
        return NULL;
    return row;
}

/* Signal trampoline: the kernel's ucontext sits at sp; its mcontext register area
 * starts at sp + 40 with rbp in slot 10, rsp in slot 15 and rip in slot 16. */
static __always_inline int opd_walk_signal(struct opd_walk *w)
{
    __u64 fp, sp, pc;
    __u64 base = w->sp + 40;

    if (opd_unwind_read(&fp, base + 10 * 8) || opd_unwind_read(&sp, base + 15 * 8) ||
        opd_unwind_read(&pc, base + 16 * 8))
        return opd_walk_end(w, OPD_UNW_ERR_READ);
    opd_unwind_count(OPD_UNW_FRAMES_CFI);
    w->via = OPD_FRAME_VIA_TABLE >> 32;
    w->fp = fp;
    w->sp = sp;
    w->pc = pc;
    w->adjust = 0; /* the interrupted pc is exact */
    return 0;
}

/* Applies a table row to the current frame. */
static __always_inline int opd_walk_row(struct opd_walk *w, const struct opd_unwind_row *row)
{
    __u64 cfa, base, ra, fp;

    switch (row->cfa_type) {
    case OPD_CFA_REG:
        if (opd_unwind_reg(w, row->cfa_reg, &base))
            return opd_walk_end(w, OPD_UNW_ERR_RULE);
        cfa = base + (__s64)row->cfa_off;
        break;
    case OPD_CFA_PLT:
        cfa = w->sp + (__s64)row->cfa_off + (((w->pc & 15) >= row->cfa_reg) ? 8 : 0);
        break;
    case OPD_CFA_DEREF:
        if (opd_unwind_reg(w, row->cfa_reg & OPD_CFA_DEREF_REG_MASK, &base) ||
            opd_unwind_read(&cfa, base + (__s64)row->cfa_off))
            return opd_walk_end(w, OPD_UNW_ERR_RULE);
        cfa += (__u64)(row->cfa_reg >> OPD_CFA_DEREF_POST_SHIFT) * 8;
        break;
    case OPD_CFA_SIGNAL:
        return opd_walk_signal(w);
    default:
        return opd_walk_end(w, OPD_UNW_ERR_RULE);
    }

    switch (row->ra_type) {
    case OPD_RA_OFFSET:
        if (opd_unwind_read(&ra, cfa + (__s64)row->ra_off))
            return opd_walk_end(w, OPD_UNW_ERR_READ);
        break;
    case OPD_RA_UNDEFINED:
        return opd_walk_end(w, OPD_UNW_STOP_OUTERMOST);
    case OPD_RA_REG:
        if (w->stack.len != 1 || opd_unwind_reg0(&w->regs, (__u32)row->ra_off, &ra))
            return opd_walk_end(w, OPD_UNW_ERR_RULE);
        break;
    default:
        return opd_walk_end(w, OPD_UNW_ERR_RULE);
    }

    fp = w->fp;
    switch (row->fp_type) {
    case OPD_FP_SAME:
        break;
    case OPD_FP_OFFSET:
        if (opd_unwind_read(&fp, cfa + (__s64)row->fp_off))
            return opd_walk_end(w, OPD_UNW_ERR_READ);
        break;
    case OPD_FP_DEREF_REG:
        if (opd_unwind_read(&fp, w->fp + (__s64)row->fp_off))
            return opd_walk_end(w, OPD_UNW_ERR_READ);
        break;
    default:
        fp = 0;
        break;
    }

    /* The caller's stack pointer lies above ours; anything else is a loop or garbage.
     * (Equal is legal only in a leaf with no return address pushed, which x86 lacks.) */
    if (cfa <= w->sp)
        return opd_walk_end(w, OPD_UNW_ERR_NO_PROGRESS);
    opd_unwind_count(OPD_UNW_FRAMES_CFI);
    return opd_walk_caller(w, ra, cfa, fp, OPD_FRAME_VIA_TABLE >> 32);
}

/* Records the current frame and finds its caller. Returns 1 when the walk is over. */
static __always_inline int opd_walk_step(struct opd_walk *w)
{
    struct opd_unwind_row *row;
    __u32 n = w->stack.len;

    if (n >= w->max)
        return opd_walk_end(w, OPD_UNW_STOP_TRUNCATED);
    if (w->pc < 0x1000 || w->pc >= OPD_USER_TOP)
        return opd_walk_end(w, OPD_UNW_ERR_PC);
    w->stack.ip[n & (OPD_MAX_FRAMES - 1)] = w->pc | ((__u64)w->via << 32);
    w->stack.len = n + 1;
    if (opd_unwind_tables) {
        row = opd_walk_find_row(w);
        if (row)
            return opd_walk_row(w, row);
    }
    if (w->entry && n == 0)
        return opd_walk_entry_step(w);
    return opd_walk_fp_step(w);
}

/* Whether the interrupted pc follows a `syscall` instruction (0f 05): then it is a return
 * point, not the instruction that was running, and is looked up as pc - 1. */
static __always_inline int opd_walk_after_syscall(__u64 pc)
{
    __u8 insn[2];

    if (bpf_probe_read_user(insn, sizeof(insn), (const void *)(pc - 2)))
        return 0;
    return insn[0] == 0x0f && insn[1] == 0x05;
}

/* Starts a walk in w from the user registers already in w->regs. in_kernel: the thread
 * was in the kernel (the registers were saved at its entry); entry: the pc is a function's
 * first instruction. max: the frame budget. Returns 0, or -1 for a 32-bit task (its code
 * and tables are not x86_64: no user stack). */
static __always_inline int opd_walk_begin(struct opd_walk *w, __u32 pid, int in_kernel, int entry,
                                          __u32 max)
{
    w->stack.len = 0;
    w->stack.kernel = 0;
    if ((w->regs.cs & 0xffff) == OPD_USER32_CS) {
        opd_unwind_count(OPD_UNW_ERR_PC);
        return -1;
    }
    w->pc = w->regs.ip;
    w->sp = w->regs.sp;
    w->fp = w->regs.bp;
    w->c_start = w->c_end = w->c_bias = 0;
    w->c_rows = w->c_count = 0;
    w->pid = pid;
    w->max = max < OPD_MAX_FRAMES ? max : OPD_MAX_FRAMES;
    w->adjust = in_kernel && opd_walk_after_syscall(w->pc);
    w->stop = 0;
    w->noted = 0;
    w->via = 0;
    w->entry = entry;
    w->hops = 0;
    opd_unwind_count(OPD_UNW_WALKS);
    return 0;
}

/* One step of the walk in slot's state, as a global function: the verifier checks it once
 * on its own, with unknown values, and each call of it in a stage costs a few
 * instructions instead of a copy of the step. (A program that calls functions may still
 * tail-call on x86_64 since 5.10, with at most 256 bytes of stack below the call.) */
__noinline int opd_walk_step_slot(__u32 slot)
{
    struct opd_walk *w = opd_walk_state(slot);

    if (!w)
        return 1;
    return opd_walk_step(w);
}

/* The body of a walk stage: OPD_WALK_STEPS frames, then the same stage again through
 * stages[OPD_STAGE_WALK] while frames remain, else the stage after the walk (python,
 * then finish: an empty python slot falls through to finish). */
static __always_inline int opd_walk_stage(void *ctx, void *stages, __u32 slot, __u32 refusal)
{
    struct opd_walk *w;

    OPD_TEST_REFUSAL(refusal);
    w = opd_walk_state(slot);
    if (!w)
        return 0;
    for (int i = 0; i < OPD_WALK_STEPS; i++) {
        if (opd_walk_step_slot(slot))
            goto done;
    }
    if (w->hops < OPD_WALK_MAX_HOPS) {
        w->hops++;
        bpf_tail_call(ctx, stages, OPD_STAGE_WALK);
        w->hops--;
    }
    w->stop = OPD_UNW_STOP_TRUNCATED; /* no tail call left: the budget is cut here */
done:
    opd_unwind_count(w->stop);
    bpf_tail_call(ctx, stages, OPD_STAGE_PYTHON);
    bpf_tail_call(ctx, stages, OPD_STAGE_FINISH);
    return 0;
}

/* A program array of stages for one hook. */
#define OPD_STAGE_ARRAY(name)                                                               \
    struct {                                                                                \
        __uint(type, BPF_MAP_TYPE_PROG_ARRAY);                                              \
        __uint(max_entries, OPD_STAGE__MAX);                                                \
        __type(key, __u32);                                                                 \
        __type(value, __u32);                                                               \
    } name SEC(".maps")

#endif
