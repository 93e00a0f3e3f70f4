/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* CPython interpreter frames for the sampler.
 *
 * User space (collector/receivers/profiling/python/) inspects each new process; when it
 * runs a supported CPython it stores one struct opd_py_proc under the pid in
 * opd_py_procs: where the thread-state TSS key lives and the byte offsets of the
 * interpreter structures for that minor version. The sampler's python stage (walk.h)
 * runs after the native walk: it finds the thread's PyThreadState through
 * glibc's pthread_getspecific slot (fsbase + 0x310 + 16 * key + 8, keys < 32), follows the
 * interpreter frames and appends one tagged word per Python frame after the native
 * frames of the stack:
 *
 *   bit 63     OPD_PY_TAG: a Python frame, not a pc (user pcs are below 2^47)
 *   bit 62     OPD_PY_ENTRY: the oldest frame of one C call of the eval loop; user space
 *              puts each such segment before the matching _PyEval_EvalFrameDefault frame
 *   bits 47-61 instruction index in code units (clamped to 0x7fff)
 *   bits 4-46  address of the code object (16-byte aligned: obmalloc and glibc malloc)
 *   bits 0-3   co_firstlineno & 15, so user space can tell a code object freed and its
 *              address reused before the drain from the one sampled
 *
 * No strings are read here: names, files and lines are resolved in user space.
 * The struct part of this header is also included by user space (outside __bpf__). */
#ifndef OPD_BPF_PYTHON_H
#define OPD_BPF_PYTHON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OPD_PY_TAG        (1ULL << 63)
#define OPD_PY_ENTRY      (1ULL << 62)
#define OPD_PY_IDX_SHIFT  47
#define OPD_PY_IDX_MAX    0x7fffULL
#define OPD_PY_ADDR_MASK  (((1ULL << 47) - 1) & ~0xfULL)
#define OPD_PY_CHECK_MASK 0xfULL
#define OPD_PY_MAX_FRAMES 48 /* Python frames one sample records at most */
#define OPD_PY_NONE       0xffff /* an offset the version does not have */

/* How a frame tells where it is in its code. */
enum opd_py_instr_kind {
    OPD_PY_LASTI = 0,      /* 3.10: int f_lasti in code units */
    OPD_PY_PREV_INSTR = 1, /* 3.11, 3.12: pointer to the last started instruction */
    OPD_PY_INSTR_PTR = 2,  /* 3.13: pointer to the instruction being executed */
};

/* Per-process data, value of opd_py_procs. Offsets are bytes; OPD_PY_NONE = absent. */
struct opd_py_proc {
    __u64 tss_key_addr;   /* address of Py_tss_t._key (the int before it is _is_initialized) */
    __u64 code_type_addr; /* &PyCode_Type in the process (3.13 shim/None check) */
    __u32 version;        /* major << 8 | minor, e.g. 0x030b */
    __u16 tstate_frame;   /* 3.10 frame, 3.11/3.12 cframe, 3.13 current_frame */
    __u16 cframe_current; /* offset of current_frame in _PyCFrame, OPD_PY_NONE if direct */
    __u16 frame_back;
    __u16 frame_code;
    __u16 frame_instr;
    __u16 frame_is_entry; /* 3.11 only */
    __u16 frame_owner;    /* 3.12+: owner 3 is the C-stack shim */
    __u16 code_bytecode;  /* offset of the first instruction in the code object */
    __u16 instr_kind;     /* enum opd_py_instr_kind */
    __u16 code_firstlineno;
    __u16 frame_size;     /* bytes of a frame read at once: covers every frame field */
    __u16 code_size;      /* bytes of a code object read at once: type and first line */
    __u32 pad;
};

#define OPD_PY_READ_MAX 128 /* frame_size and code_size are at most this */

/* Outcomes of the walk (per-CPU map opd_py_stats), summed by user space: self metrics
 * (collector/receivers/profiling/bpf_runtime.c) and the bench. */
enum opd_py_stat {
    OPD_PY_ST_WALKS = 0,  /* samples of a CPython process */
    OPD_PY_ST_NO_TSTATE,  /* the thread has no thread state (not a Python thread) */
    OPD_PY_ST_READ_FAIL,  /* a frame could not be read: walk cut there */
    OPD_PY_ST_FRAMES,     /* Python frames recorded */
    OPD_PY_ST_TRUNCATED,  /* stopped at the frame budget */
    OPD_PY_ST_NS,         /* nanoseconds spent walking (the per-sample cost, bench/) */
    OPD_PY_ST__MAX,
};

#ifdef __bpf__

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct opd_py_proc);
} opd_py_procs SEC(".maps");


struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, OPD_PY_ST__MAX);
    __type(key, __u32);
    __type(value, __u64);
} opd_py_stats SEC(".maps");

/* Per-CPU copies of the frame and code object being looked at (one read each per frame
 * instead of one per field), and the walk's loop state. The state lives in map memory,
 * not in registers, so that every iteration is verified with unknown values: kept in
 * registers, the verifier links the frame count to its start value by a constant that
 * differs per iteration, no two iterations' states are alike and the cost multiplies. */
struct opd_py_buf {
    __u8 frame[OPD_PY_READ_MAX];
    __u8 code[OPD_PY_READ_MAX];
    __u64 at;        /* address of the frame to read next */
    __u64 prev_word; /* the last frame word recorded */
    __u32 out;       /* next slot of the stack */
    __u32 first;     /* slot of the first Python frame */
    __u32 prev_slot; /* slot of prev_word */
    __u32 have_prev;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct opd_py_buf);
} opd_py_bufs SEC(".maps");

/* Field of a copied object; offsets come from the map, so they are bounded here for the
 * verifier (and a bad one reads 0, never outside the copy). */
static __always_inline __u64 opd_py_u64(const __u8 *b, __u32 off)
{
    off &= OPD_PY_READ_MAX - 1;
    if (off > OPD_PY_READ_MAX - 8)
        return 0;
    return *(const __u64 *)(b + off);
}

static __always_inline __u32 opd_py_u32(const __u8 *b, __u32 off)
{
    off &= OPD_PY_READ_MAX - 1;
    if (off > OPD_PY_READ_MAX - 4)
        return 0;
    return *(const __u32 *)(b + off);
}

static __always_inline __u8 opd_py_u8(const __u8 *b, __u32 off)
{
    off &= OPD_PY_READ_MAX - 1;
    return b[off];
}

static __always_inline void opd_py_count(__u32 idx, __u64 n)
{
    opd_counter_add(&opd_py_stats, idx, n);
}

static __always_inline int opd_py_read(void *dst, __u32 len, __u64 addr)
{
    return bpf_probe_read_user(dst, len, (const void *)addr) ? -1 : 0;
}

/* A frame slot the verifier can see is inside the stack: masked in assembly, so the
 * compiler cannot drop the bounds check that follows by reusing an unbounded copy. */
static __always_inline __u32 opd_py_slot(__u32 v)
{
    asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(OPD_MAX_FRAMES - 1));
    return v;
}

/* The current thread's PyThreadState, or 0. */
static __always_inline __u64 opd_py_tstate(const struct opd_py_proc *pp)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    __s32 tss[2]; /* _is_initialized, _key */
    __u64 fsbase, tstate = 0;

    if (opd_py_read(tss, sizeof(tss), pp->tss_key_addr - 4) || tss[0] != 1 || tss[1] < 0 ||
        tss[1] >= 32)
        return 0;
    fsbase = BPF_CORE_READ(task, thread.fsbase);
    if (!fsbase)
        return 0;
    if (opd_py_read(&tstate, sizeof(tstate), fsbase + 0x310 + 16 * (__u64)tss[1] + 8))
        return 0;
    return tstate;
}

/* Reads one interpreter frame at b->at and records it in st. Returns 0 to go on, 1 at
 * the end of the chain or the budget, -1 when a read failed. */
static __always_inline int opd_py_step(struct opd_py_proc *pp, struct opd_py_buf *b,
                                       struct opd_bpf_stack *st, __u32 fsize, __u32 csize)
{
    __u64 code, instr, word, idx = 0, next, frame = b->at;
    __u32 first, out = b->out, slot;

    if (!frame)
        return 1;
    if (bpf_probe_read_user(b->frame, fsize, (const void *)frame))
        return -1;
    code = opd_py_u64(b->frame, pp->frame_code);
    next = opd_py_u64(b->frame, pp->frame_back);
    b->at = next;
    if (pp->frame_owner != OPD_PY_NONE && opd_py_u8(b->frame, pp->frame_owner) == 3) {
        /* The shim frame a C -> Python call pushes (3.12+): the frame before it was the
         * oldest of its eval call. */
        slot = opd_py_slot(b->prev_slot);
        if (b->have_prev && slot < opd_max_frames)
            st->ip[slot] = b->prev_word | OPD_PY_ENTRY;
        return 0;
    }
    if (!code || bpf_probe_read_user(b->code, csize, (const void *)code))
        return -1;
    /* 3.13: f_executable may be any object; only code objects are frames. */
    if (pp->instr_kind == OPD_PY_INSTR_PTR && opd_py_u64(b->code, 8) != pp->code_type_addr)
        return 0;
    if (pp->instr_kind == OPD_PY_LASTI) {
        __s32 lasti = (__s32)opd_py_u32(b->frame, pp->frame_instr);

        idx = lasti > 0 ? (__u64)lasti : 0;
    } else {
        instr = opd_py_u64(b->frame, pp->frame_instr);
        if (instr > code + pp->code_bytecode)
            idx = (instr - code - pp->code_bytecode) / 2;
    }
    if (idx > OPD_PY_IDX_MAX)
        idx = OPD_PY_IDX_MAX;
    first = opd_py_u32(b->code, pp->code_firstlineno);
    word = OPD_PY_TAG | (idx << OPD_PY_IDX_SHIFT) | (code & OPD_PY_ADDR_MASK) |
           ((__u64)first & OPD_PY_CHECK_MASK);
    if (pp->instr_kind == OPD_PY_LASTI)
        word |= OPD_PY_ENTRY; /* 3.10: one eval call per frame */
    if (pp->frame_is_entry != OPD_PY_NONE && opd_py_u8(b->frame, pp->frame_is_entry))
        word |= OPD_PY_ENTRY;
    if (out >= opd_max_frames || out - b->first >= OPD_PY_MAX_FRAMES) {
        opd_py_count(OPD_PY_ST_TRUNCATED, 1);
        return 1;
    }
    slot = opd_py_slot(out);
    if (slot >= opd_max_frames)
        return 1;
    st->ip[slot] = word;
    b->prev_slot = out;
    b->prev_word = word;
    b->have_prev = 1;
    b->out = out + 1;
    return 0;
}

/* One step of the CPU sample's Python walk (process pid), as a global function: verified
 * once with unknown values, so that the walk's loop costs a call per frame, not a copy of
 * the step. */
__noinline int opd_py_step_sample(__u32 pid, __u32 fsize, __u32 csize)
{
    __u32 zero = 0, slot = OPD_WALK_SLOT_SAMPLE;
    struct opd_py_proc *pp = bpf_map_lookup_elem(&opd_py_procs, &pid);
    struct opd_py_buf *b = bpf_map_lookup_elem(&opd_py_bufs, &zero);
    struct opd_walk *w = bpf_map_lookup_elem(&opd_walks, &slot);

    if (!pp || !b || !w)
        return -1;
    return opd_py_step(pp, b, &w->stack, fsize & (OPD_PY_READ_MAX - 1),
                       csize & (OPD_PY_READ_MAX - 1));
}

/* The walk for one CPython process: appends the current thread's Python frames to st
 * from slot n; returns the new length. */
static __always_inline int opd_py_walk_proc(__u32 pid, struct opd_py_proc *pp, __u32 n)
{
    struct opd_py_buf *b;
    __u64 tstate, frame;
    __u32 zero = 0;
    __u32 fsize = pp->frame_size & (OPD_PY_READ_MAX - 1);
    __u32 csize = pp->code_size & (OPD_PY_READ_MAX - 1);
    int r = 0;

    b = bpf_map_lookup_elem(&opd_py_bufs, &zero);
    if (!b || !fsize || !csize)
        return n;
    tstate = opd_py_tstate(pp);
    if (!tstate) {
        opd_py_count(OPD_PY_ST_NO_TSTATE, 1);
        return n;
    }
    b->out = b->first = n;
    b->have_prev = 0;
    if (opd_py_read(&frame, sizeof(frame), tstate + pp->tstate_frame))
        goto fail;
    if (pp->cframe_current != OPD_PY_NONE) {
        if (!frame || opd_py_read(&frame, sizeof(frame), frame + pp->cframe_current))
            goto fail;
    }
    b->at = frame;
    for (int i = 0; i < OPD_PY_MAX_FRAMES + 8; i++) {
        r = opd_py_step_sample(pid, fsize, csize);
        if (r)
            break;
    }
    if (r < 0)
        goto fail;
    opd_py_count(OPD_PY_ST_FRAMES, b->out - n);
    return b->out;
fail:
    opd_py_count(OPD_PY_ST_READ_FAIL, 1);
    opd_py_count(OPD_PY_ST_FRAMES, b->out - n);
    return b->out;
}

/* The python stage of CPU samples: appends the Python frames of the current thread to
 * the walk's user frames (up to opd_max_frames), when process pid runs a known CPython
 * and the thread has some, then goes on to finish. */
static __always_inline int opd_py_stage(void *ctx, void *stages, struct opd_walk *w)
{
    __u32 pid = w->key.tgid;
    struct opd_py_proc *pp = bpf_map_lookup_elem(&opd_py_procs, &pid);
    __u64 t0;

    if (pp && w->stack.len) {
        t0 = bpf_ktime_get_ns();
        opd_py_count(OPD_PY_ST_WALKS, 1);
        w->stack.len = opd_py_walk_proc(pid, pp, w->stack.len);
        opd_py_count(OPD_PY_ST_NS, bpf_ktime_get_ns() - t0);
    }
    bpf_tail_call(ctx, stages, OPD_STAGE_FINISH);
    return 0;
}

#endif /* __bpf__ */
#endif
