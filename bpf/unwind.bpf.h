/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* User-stack unwinder driven by .eh_frame tables (x86_64).
 *
 * User space (collector/receivers/profiling/unwind/) compiles each file's CFI into rows
 * (bpf/unwind_table.h) and fills three maps:
 *   opd_unwind_rows   ARRAY       all files' rows, each file one sorted extent
 *   opd_unwind_files  ARRAY       file slot -> {start, count, gen}
 *   opd_unwind_ranges LPM_TRIE    {pid, address prefix} -> {bias, file slot, gen, flags}
 * and drains opd_unwind_unknown, the pids whose pcs hit no range (new process, dlopen).
 *
 * For each frame: find the range of pc, binary-search the file's rows for pc - bias
 * (pc - 1 for return addresses), compute the CFA, read the return address and the saved
 * rbp, and continue with the caller. Where no table covers a pc (JIT code, files without
 * CFI, unknown pid) it takes one frame-pointer step instead. The walk runs in bpf_loop
 * (5.17+), so the verifier checks one step, not one per frame, and the frame budget is
 * bounded only by the caller's buffer and OPD_UNWIND_MAX_FRAMES. */
#ifndef OPD_BPF_UNWIND_H
#define OPD_BPF_UNWIND_H

#include "unwind_table.h"

#ifndef OPD_UNWIND_MAX_FRAMES
#define OPD_UNWIND_MAX_FRAMES 1024 /* power of two: indexes are masked with it */
#endif

/* log2 of the largest extent a file may have; user space caps tables at 2^24 rows. */
#define OPD_UNWIND_SEARCH_STEPS 24

/* The walk's registers and bookkeeping. They live in the per-CPU state, not on the
 * stack: the verifier does not track map memory, so each bpf_loop step is verified with
 * unknown values and converges at once (on the stack, the frame counter is tracked
 * exactly and every count is a new verifier state). */
struct opd_unwind_walk {
    __u64 pc, sp, fp;
    __u32 pid;
    __u32 n;       /* frames recorded */
    __u32 max;     /* frame budget */
    __u32 adjust;  /* 1 when pc is a return address (look up pc - 1) */
    __u32 stop;    /* enum opd_unwind_stat of the end, 0 while walking */
    __u32 noted;   /* this pid was reported in opd_unwind_unknown */
    /* The last range with a table, reused while pcs stay inside it. */
    __u64 c_start, c_end, c_bias;
    __u32 c_rows, c_count;
    __u32 via; /* OPD_FRAME_VIA_* >> 32 of the last step: tags the next frame recorded */
    __u32 pad;
};

/* Per-CPU walk state: too big for the 512-byte BPF stack. */
struct opd_unwind_state {
    struct pt_regs regs; /* interrupted user registers, for rules of frame 0 */
    __u64 frames[OPD_UNWIND_MAX_FRAMES];
    __u8 method[OPD_UNWIND_MAX_FRAMES]; /* 1 CFI, 2 frame pointer, 0 last frame */
    struct opd_unwind_walk w;
    __u32 stop; /* enum opd_unwind_stat that ended the last walk */
};

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

/* Walk states per CPU, one per program that may run inside another on the same CPU: a
 * perf sample (an NMI with the cycles event) can fire inside the off-CPU program, and the
 * allocation probes run in process context where a context switch can run that one. */
#define OPD_UNWIND_SLOT_SAMPLE 0
#define OPD_UNWIND_SLOT_OFFCPU 1
#define OPD_UNWIND_SLOT_ALLOC  2
#define OPD_UNWIND_SLOTS       3

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, OPD_UNWIND_SLOTS);
    __type(key, __u32);
    __type(value, struct opd_unwind_state);
} opd_unwind_scratch SEC(".maps");

static __always_inline void opd_unwind_count(__u32 idx)
{
    __u64 *v = bpf_map_lookup_elem(&opd_unwind_stats, &idx);

    if (v)
        __sync_fetch_and_add(v, 1);
}


#define OPD_USER_TOP 0x0000800000000000ULL

static __always_inline int opd_unwind_read(__u64 *dst, __u64 addr)
{
    return bpf_probe_read_user(dst, sizeof(*dst), (const void *)addr) ? -1 : 0;
}

/* Value of DWARF register reg in the interrupted frame (only frame 0 has them all). */
static __always_inline int opd_unwind_reg0(const struct pt_regs *r, __u32 reg, __u64 *out)
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
static __always_inline int opd_unwind_reg(struct opd_unwind_walk *w, struct opd_unwind_state *s,
                                          __u32 reg, __u64 *out)
{
    if (reg == OPD_DWARF_X86_RSP) {
        *out = w->sp;
        return 0;
    }
    if (reg == OPD_DWARF_X86_RBP) {
        *out = w->fp;
        return 0;
    }
    if (w->n != 1)
        return -1;
    return opd_unwind_reg0(&s->regs, reg, out);
}

/* One frame-pointer step: [rbp] = caller's rbp, [rbp + 8] = return address. */
static __always_inline long opd_unwind_fp_step(struct opd_unwind_walk *w,
                                               struct opd_unwind_state *s)
{
    __u64 pair[2];

    if (!w->fp) {
        w->stop = OPD_UNW_STOP_FP_END;
        return 1;
    }
    if ((w->fp & 7) || w->fp < w->sp || w->fp >= OPD_USER_TOP) {
        w->stop = OPD_UNW_ERR_FP;
        return 1;
    }
    if (bpf_probe_read_user(pair, sizeof(pair), (const void *)w->fp)) {
        w->stop = OPD_UNW_ERR_READ;
        return 1;
    }
    s->method[(w->n - 1) & (OPD_UNWIND_MAX_FRAMES - 1)] = 2;
    w->via = OPD_FRAME_VIA_FP >> 32;
    opd_unwind_count(OPD_UNW_FRAMES_FP);
    w->sp = w->fp + 16;
    w->fp = pair[0];
    w->pc = pair[1];
    w->adjust = 1;
    return 0;
}

/* Finds the row for pc in the caller's range. Returns NULL when no table covers it. */
static __always_inline struct opd_unwind_row *opd_unwind_find_row(struct opd_unwind_walk *w)
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
static __always_inline long opd_unwind_signal(struct opd_unwind_walk *w)
{
    __u64 fp, sp, pc;
    __u64 base = w->sp + 40;

    if (opd_unwind_read(&fp, base + 10 * 8) || opd_unwind_read(&sp, base + 15 * 8) ||
        opd_unwind_read(&pc, base + 16 * 8)) {
        w->stop = OPD_UNW_ERR_READ;
        return 1;
    }
    w->fp = fp;
    w->sp = sp;
    w->pc = pc;
    w->adjust = 0; /* the interrupted pc is exact */
    return 0;
}

/* One frame; arg points to the walk's slot in opd_unwind_scratch. */
static long opd_unwind_step(__u64 i, void *arg)
{
    struct opd_unwind_walk *w;
    struct opd_unwind_state *s;
    struct opd_unwind_row *row;
    __u64 cfa, base, ra, fp;
    __u32 slot = *(__u32 *)arg;

    s = bpf_map_lookup_elem(&opd_unwind_scratch, &slot);
    if (!s)
        return 1;
    w = &s->w;
    if (w->n >= w->max || w->n >= OPD_UNWIND_MAX_FRAMES) {
        w->stop = OPD_UNW_STOP_TRUNCATED;
        return 1;
    }
    if (w->pc < 0x1000 || w->pc >= OPD_USER_TOP) {
        w->stop = OPD_UNW_ERR_PC;
        return 1;
    }
    s->frames[w->n & (OPD_UNWIND_MAX_FRAMES - 1)] = w->pc | ((__u64)w->via << 32);
    s->method[w->n & (OPD_UNWIND_MAX_FRAMES - 1)] = 0;
    w->n++;

    row = opd_unwind_find_row(w);
    if (!row)
        return opd_unwind_fp_step(w, s);

    switch (row->cfa_type) {
    case OPD_CFA_REG:
        if (opd_unwind_reg(w, s, row->cfa_reg, &base)) {
            w->stop = OPD_UNW_ERR_RULE;
            return 1;
        }
        cfa = base + (__s64)row->cfa_off;
        break;
    case OPD_CFA_PLT:
        cfa = w->sp + (__s64)row->cfa_off + (((w->pc & 15) >= row->cfa_reg) ? 8 : 0);
        break;
    case OPD_CFA_DEREF:
        if (opd_unwind_reg(w, s, row->cfa_reg & OPD_CFA_DEREF_REG_MASK, &base) ||
            opd_unwind_read(&cfa, base + (__s64)row->cfa_off)) {
            w->stop = OPD_UNW_ERR_RULE;
            return 1;
        }
        cfa += (__u64)(row->cfa_reg >> OPD_CFA_DEREF_POST_SHIFT) * 8;
        break;
    case OPD_CFA_SIGNAL:
        s->method[(w->n - 1) & (OPD_UNWIND_MAX_FRAMES - 1)] = 1;
        opd_unwind_count(OPD_UNW_FRAMES_CFI);
        return opd_unwind_signal(w);
    default:
        w->stop = OPD_UNW_ERR_RULE;
        return 1;
    }

    switch (row->ra_type) {
    case OPD_RA_OFFSET:
        if (opd_unwind_read(&ra, cfa + (__s64)row->ra_off)) {
            w->stop = OPD_UNW_ERR_READ;
            return 1;
        }
        break;
    case OPD_RA_UNDEFINED:
        w->stop = OPD_UNW_STOP_OUTERMOST;
        return 1;
    case OPD_RA_REG:
        if (w->n != 1 || opd_unwind_reg0(&s->regs, (__u32)row->ra_off, &ra)) {
            w->stop = OPD_UNW_ERR_RULE;
            return 1;
        }
        break;
    default:
        w->stop = OPD_UNW_ERR_RULE;
        return 1;
    }

    fp = w->fp;
    switch (row->fp_type) {
    case OPD_FP_SAME:
        break;
    case OPD_FP_OFFSET:
        if (opd_unwind_read(&fp, cfa + (__s64)row->fp_off)) {
            w->stop = OPD_UNW_ERR_READ;
            return 1;
        }
        break;
    case OPD_FP_DEREF_REG:
        if (opd_unwind_read(&fp, w->fp + (__s64)row->fp_off)) {
            w->stop = OPD_UNW_ERR_READ;
            return 1;
        }
        break;
    default:
        fp = 0;
        break;
    }

    /* The caller's stack pointer lies above ours; anything else is a loop or garbage.
     * (Equal is legal only in a leaf with no return address pushed, which x86 lacks.) */
    if (cfa <= w->sp) {
        w->stop = OPD_UNW_ERR_NO_PROGRESS;
        return 1;
    }
    s->method[(w->n - 1) & (OPD_UNWIND_MAX_FRAMES - 1)] = 1;
    w->via = OPD_FRAME_VIA_TABLE >> 32;
    opd_unwind_count(OPD_UNW_FRAMES_CFI);
    w->sp = cfa;
    w->fp = fp;
    w->pc = ra;
    w->adjust = 1;
    if (!ra) {
        w->stop = OPD_UNW_STOP_OUTERMOST; /* a zero return address ends some runtimes */
        return 1;
    }
    return 0;
}

/* Whether the interrupted pc follows a `syscall` instruction (0f 05): then it is a return
 * point, not the instruction that was running, and is looked up as pc - 1. */
static __always_inline int opd_unwind_after_syscall(__u64 pc)
{
    __u8 insn[2];

    if (bpf_probe_read_user(insn, sizeof(insn), (const void *)(pc - 2)))
        return 0;
    return insn[0] == 0x0f && insn[1] == 0x05;
}

/* The walk proper, a global BPF function: the verifier checks it once on its own,
 * whatever the calling program looks like, instead of once per caller state (inlined into
 * the sampler, its bpf_loop callback was re-verified for every path of the sampler and
 * exceeded the 1M-instruction budget). Registers come from the per-CPU state, which
 * opd_unwind_user() fills in slot `slot`. Returns the number of frames; the end reason
 * goes to state->stop. */
__noinline int opd_unwind_walk(__u32 pid, __u32 in_kernel, __u32 max, __u32 slot)
{
    struct opd_unwind_state *s;
    struct opd_unwind_walk *w;
    __u32 stop;

    if (slot >= OPD_UNWIND_SLOTS)
        return 0;
    s = bpf_map_lookup_elem(&opd_unwind_scratch, &slot);
    if (!s)
        return 0;
    w = &s->w;
    __builtin_memset(w, 0, sizeof(*w));
    /* 32-bit (compat) tasks: their code and tables are not x86_64; report the pc only. */
    if ((s->regs.cs & 0xffff) == 0x23) {
        s->frames[0] = s->regs.ip;
        s->stop = OPD_UNW_ERR_PC;
        opd_unwind_count(OPD_UNW_ERR_PC);
        return 1;
    }
    w->pc = s->regs.ip;
    w->sp = s->regs.sp;
    w->fp = s->regs.bp;
    w->pid = pid;
    w->max = max < OPD_UNWIND_MAX_FRAMES ? max : OPD_UNWIND_MAX_FRAMES;
    w->adjust = in_kernel && opd_unwind_after_syscall(w->pc);
    opd_unwind_count(OPD_UNW_WALKS);
    bpf_loop(OPD_UNWIND_MAX_FRAMES + 1, opd_unwind_step, &slot, 0);
    stop = w->stop;
    if (stop)
        opd_unwind_count(stop);
    s->stop = stop;
    return (int)w->n;
}

/* Walks the user stack of the current thread (tgid pid) from its interrupted user
 * registers uregs. in_kernel is 1 when the sample hit kernel mode (uregs then come from
 * the task's saved pt_regs). Frames go to the per-CPU state (opd_unwind_scratch):
 * frames[0] is the pc, the rest return addresses. Returns the number of frames (at most
 * max and OPD_UNWIND_MAX_FRAMES); *stop_out (may be NULL) receives the end reason. slot
 * is the calling program's OPD_UNWIND_SLOT_*. */
static __always_inline int opd_unwind_user(const struct pt_regs *uregs, __u32 pid, int in_kernel,
                                           __u32 max, __u32 slot,
                                           struct opd_unwind_state **state_out, __u32 *stop_out)
{
    struct opd_unwind_state *s;
    int n;

    s = bpf_map_lookup_elem(&opd_unwind_scratch, &slot);
    if (!s)
        return 0;
    __builtin_memcpy(&s->regs, uregs, sizeof(s->regs));
    n = opd_unwind_walk(pid, in_kernel ? 1 : 0, max, slot);
    if (state_out)
        *state_out = s;
    if (stop_out)
        *stop_out = s->stop;
    return n;
}

#endif
