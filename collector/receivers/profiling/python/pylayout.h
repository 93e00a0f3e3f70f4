/* Per-version layouts of the CPython structures the profiler reads: one entry per minor
 * version, x86_64, default (GIL) build. Data only; where each number comes from is written
 * beside it in pylayout.c. */
#ifndef OPD_PROFILING_PYLAYOUT_H
#define OPD_PROFILING_PYLAYOUT_H

#include <stdint.h>

#define OPD_PYL_NONE 0xffffu /* the version has no such field */

/* Line table encodings. */
enum opd_py_linetable {
    OPD_PY_LT_310 = 0, /* 3.10 co_linetable: (byte delta, line delta) pairs */
    OPD_PY_LT_311 = 1, /* 3.11+ location table (Objects/locations.md) */
};

struct opd_py_layout {
    uint8_t major, minor;
    /* _PyRuntimeState */
    uint16_t runtime_interp_head; /* interpreters.head */
    uint16_t runtime_tss;         /* Py_tss_t autoTSSkey (its _key is 4 bytes further) */
    /* PyInterpreterState / PyThreadState */
    uint16_t interp_threads_head;
    uint16_t tstate_next;
    uint16_t tstate_native_tid;   /* native_thread_id (3.11+) */
    uint16_t tstate_frame;        /* frame (3.10), cframe (3.11/3.12), current_frame (3.13) */
    uint16_t cframe_current;      /* _PyCFrame.current_frame, NONE when tstate_frame is direct */
    /* frames: PyFrameObject (3.10) or _PyInterpreterFrame (3.11+) */
    uint16_t frame_back, frame_code, frame_instr;
    uint16_t frame_is_entry, frame_owner;
    uint16_t instr_kind; /* enum opd_py_instr_kind (bpf/python.bpf.h) */
    /* PyCodeObject */
    uint16_t code_argcount, code_firstlineno, code_filename, code_name, code_qualname;
    uint16_t code_linetable, code_bytecode;
    uint16_t linetable; /* enum opd_py_linetable */
    /* PyASCIIObject / PyCompactUnicodeObject / PyBytesObject */
    uint16_t str_length, str_state, str_ascii_data, str_compact_data;
    uint16_t bytes_size, bytes_data;
};

/* The layout of major.minor, or NULL when that version is not supported. */
const struct opd_py_layout *opd_py_layout_find(unsigned major, unsigned minor);

#endif
