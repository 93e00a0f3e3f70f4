/* The code objects on a CPython process's interpreter stacks, read from user space: the
 * thread states of its first interpreter and the interpreter frames of each. The profiling
 * receiver resolves these ahead of the drain, while the process still runs, so that a
 * process that exits before its samples are drained keeps its Python function names. */
#ifndef OPD_PROFILING_PYWALK_H
#define OPD_PROFILING_PYWALK_H

#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/python/pycode.h"

#define OPD_PY_WALK_THREADS 64  /* threads of one interpreter walked at most */
#define OPD_PY_WALK_FRAMES  128 /* frames of one thread walked at most */

/* Stores into codes (cap entries) the distinct addresses of the code objects found on every
 * thread's frame stack, innermost first per thread, following the runtime state at runtime
 * (the process's _PyRuntime) with layout l through rd. Shim frames (3.12+ owner 3) and
 * 3.13 frames whose executable is not a code_type object are skipped. A thread whose frames
 * cannot be read (it is exiting) ends its own walk only. Returns the number stored, or
 * the error of the first read (the runtime's interpreter list), e.g. -ESRCH when the
 * process is gone; a NULL interpreter list (not started, or finalized) is 0. */
int opd_py_walk_codes(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t runtime,
                      uint64_t code_type, uint64_t *codes, size_t cap);

#endif
