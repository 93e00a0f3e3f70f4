/* CPython structure layouts (see pylayout.h).
 *
 * Every entry was taken from that minor version's own headers by compiling offsetof()
 * with Py_BUILD_CORE against them (3.10.13, 3.12.1 and 3.13.0 from their source trees;
 * 3.11 from Debian 12's libpython3.11-dev 3.11.2 headers, and checked against the
 * disassembly of Debian's exported accessors), x86_64, default build:
 *   runtime_*        Include/internal/pycore_runtime.h   _PyRuntimeState
 *                    (interpreters.head; gilstate.autoTSSkey up to 3.11, autoTSSkey 3.12+)
 *   interp_*         Include/internal/pycore_interp.h    PyInterpreterState
 *                    (tstate_head in 3.10, threads.head 3.11+)
 *   tstate_*         Include/cpython/pystate.h           PyThreadState
 *                    (frame 3.10; cframe 3.11/3.12; current_frame 3.13; native_thread_id)
 *   cframe_current   Include/cpython/pystate.h           _PyCFrame.current_frame
 *   frame_*          3.10 Include/cpython/frameobject.h  PyFrameObject (f_back, f_code,
 *                    f_lasti); 3.11+ Include/internal/pycore_frame.h _PyInterpreterFrame
 *                    (previous, f_code / f_executable, prev_instr / instr_ptr, is_entry,
 *                    owner)
 *   code_*           Include/cpython/code.h              PyCodeObject (co_argcount,
 *                    co_firstlineno, co_filename, co_name, co_qualname, co_linetable,
 *                    co_code_adaptive; 3.10 keeps bytecode in a co_code bytes object and
 *                    frames count f_lasti, so no offset is needed)
 *   str_*            Include/cpython/unicodeobject.h     PyASCIIObject (length, state,
 *                    sizeof = ASCII data), PyCompactUnicodeObject (sizeof = compact data)
 *   bytes_*          Include/cpython/bytesobject.h       PyBytesObject (ob_size, ob_sval)
 * tests/unit/test_python_live.c walks a running interpreter of every version found on
 * the machine with these numbers and compares names and lines with what it prints. */
#include "collector/receivers/profiling/python/pylayout.h"

#include <stddef.h>

#include "bpf/python.bpf.h"

#define N OPD_PYL_NONE

static const struct opd_py_layout layouts[] = {
    {
        .major = 3, .minor = 10,
        .runtime_interp_head = 0x20, .runtime_tss = 0x248,
        .interp_threads_head = 0x08, .tstate_next = 0x08, .tstate_native_tid = N,
        .tstate_frame = 0x18, .cframe_current = N,
        .frame_back = 0x18, .frame_code = 0x20, .frame_instr = 0x60,
        .frame_is_entry = N, .frame_owner = N, .instr_kind = OPD_PY_LASTI,
        .code_argcount = 0x10, .code_firstlineno = 0x28, .code_filename = 0x68,
        .code_name = 0x70, .code_qualname = N, .code_linetable = 0x78, .code_bytecode = N,
        .linetable = OPD_PY_LT_310,
        .str_length = 0x10, .str_state = 0x20, .str_ascii_data = 0x30, .str_compact_data = 0x48,
        .bytes_size = 0x10, .bytes_data = 0x20,
    },
    {
        .major = 3, .minor = 11,
        .runtime_interp_head = 0x28, .runtime_tss = 0x250,
        .interp_threads_head = 0x10, .tstate_next = 0x08, .tstate_native_tid = 0xa0,
        .tstate_frame = 0x38, .cframe_current = 0x08,
        .frame_back = 0x30, .frame_code = 0x20, .frame_instr = 0x38,
        .frame_is_entry = 0x44, .frame_owner = N, .instr_kind = OPD_PY_PREV_INSTR,
        .code_argcount = 0x38, .code_firstlineno = 0x48, .code_filename = 0x70,
        .code_name = 0x78, .code_qualname = 0x80, .code_linetable = 0x88, .code_bytecode = 0xb8,
        .linetable = OPD_PY_LT_311,
        .str_length = 0x10, .str_state = 0x20, .str_ascii_data = 0x30, .str_compact_data = 0x48,
        .bytes_size = 0x10, .bytes_data = 0x20,
    },
    {
        .major = 3, .minor = 12,
        .runtime_interp_head = 0x28, .runtime_tss = 0x608,
        .interp_threads_head = 0x48, .tstate_next = 0x08, .tstate_native_tid = 0x90,
        .tstate_frame = 0x38, .cframe_current = 0x00,
        .frame_back = 0x08, .frame_code = 0x00, .frame_instr = 0x38,
        .frame_is_entry = N, .frame_owner = 0x46, .instr_kind = OPD_PY_PREV_INSTR,
        .code_argcount = 0x34, .code_firstlineno = 0x44, .code_filename = 0x70,
        .code_name = 0x78, .code_qualname = 0x80, .code_linetable = 0x88, .code_bytecode = 0xc0,
        .linetable = OPD_PY_LT_311,
        .str_length = 0x10, .str_state = 0x20, .str_ascii_data = 0x28, .str_compact_data = 0x38,
        .bytes_size = 0x10, .bytes_data = 0x20,
    },
    {
        .major = 3, .minor = 13,
        .runtime_interp_head = 0x278, .runtime_tss = 0x870,
        .interp_threads_head = 0x1cb0, .tstate_next = 0x08, .tstate_native_tid = 0xa0,
        .tstate_frame = 0x48, .cframe_current = N,
        .frame_back = 0x08, .frame_code = 0x00, .frame_instr = 0x38,
        .frame_is_entry = N, .frame_owner = 0x46, .instr_kind = OPD_PY_INSTR_PTR,
        .code_argcount = 0x34, .code_firstlineno = 0x44, .code_filename = 0x70,
        .code_name = 0x78, .code_qualname = 0x80, .code_linetable = 0x88, .code_bytecode = 0xc8,
        .linetable = OPD_PY_LT_311,
        .str_length = 0x10, .str_state = 0x20, .str_ascii_data = 0x28, .str_compact_data = 0x38,
        .bytes_size = 0x10, .bytes_data = 0x20,
    },
};

const struct opd_py_layout *opd_py_layout_find(unsigned major, unsigned minor)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        if (layouts[i].major == major && layouts[i].minor == minor)
            return &layouts[i];
    }
    return NULL;
}
