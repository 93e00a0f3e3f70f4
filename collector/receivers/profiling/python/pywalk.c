/* User-space walk of a CPython process's frame stacks (see pywalk.h). */
#include "collector/receivers/profiling/python/pywalk.h"

#include <errno.h>
#include <string.h>

#include "bpf/python.bpf.h"

static int rd_u64(opd_py_read_fn rd, void *arg, uint64_t addr, uint64_t *out)
{
    *out = 0;
    return rd(arg, addr, out, sizeof(*out));
}

static size_t add_code(uint64_t *codes, size_t n, size_t cap, uint64_t code)
{
    /* Stacks are short and recursive ones repeat the same few objects: a linear check
     * over what is collected keeps the list distinct. */
    for (size_t i = 0; i < n; i++) {
        if (codes[i] == code)
            return n;
    }
    if (n < cap)
        codes[n++] = code;
    return n;
}

/* Adds the code objects of one thread's frames from frame on; returns the new count. */
static size_t walk_frames(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg,
                          uint64_t frame, uint64_t code_type, uint64_t *codes, size_t n, size_t cap)
{
    for (int i = 0; frame && i < OPD_PY_WALK_FRAMES && n < cap; i++) {
        uint64_t code, back, type;
        uint8_t owner = 0;

        if (rd_u64(rd, arg, frame + l->frame_code, &code) ||
            rd_u64(rd, arg, frame + l->frame_back, &back))
            break;
        if (l->frame_owner != OPD_PYL_NONE &&
            rd(arg, frame + l->frame_owner, &owner, sizeof(owner)))
            break;
        frame = back;
        if (owner == 3 || !code || (code & 0x7))
            continue; /* the C-stack shim, or nothing a code object can be at */
        if (l->instr_kind == OPD_PY_INSTR_PTR &&
            (rd_u64(rd, arg, code + 8, &type) || type != code_type))
            continue; /* 3.13: f_executable may be any object */
        n = add_code(codes, n, cap, code);
    }
    return n;
}

int opd_py_walk_codes(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t runtime,
                      uint64_t code_type, uint64_t *codes, size_t cap)
{
    uint64_t interp, tstate;
    size_t n = 0;
    int err;

    err = rd_u64(rd, arg, runtime + l->runtime_interp_head, &interp);
    if (err)
        return err;
    if (!interp || rd_u64(rd, arg, interp + l->interp_threads_head, &tstate))
        return 0;
    for (int t = 0; tstate && t < OPD_PY_WALK_THREADS && n < cap; t++) {
        uint64_t frame, next;

        if (rd_u64(rd, arg, tstate + l->tstate_next, &next))
            break;
        if (!rd_u64(rd, arg, tstate + l->tstate_frame, &frame) &&
            (l->cframe_current == OPD_PYL_NONE || !frame ||
             !rd_u64(rd, arg, frame + l->cframe_current, &frame)))
            n = walk_frames(l, rd, arg, frame, code_type, codes, n, cap);
        tstate = next;
    }
    return (int)n;
}
