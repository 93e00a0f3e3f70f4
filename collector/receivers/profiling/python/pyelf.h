/* What the profiler needs from a CPython executable or libpython file: its version and the
 * link-time addresses of _PyRuntime, PyCode_Type and the eval loop. */
#ifndef OPD_PROFILING_PYELF_H
#define OPD_PROFILING_PYELF_H

#include <stdbool.h>
#include <stdint.h>

struct opd_py_elf {
    unsigned major, minor, micro;  /* from Py_Version, else the file name (micro 0) */
    bool exact;                    /* from Py_Version: micro is known */
    uint64_t runtime;              /* _PyRuntime */
    uint64_t code_type;            /* PyCode_Type */
    uint64_t eval_start, eval_end; /* _PyEval_EvalFrameDefault [start, end) */
};

/* Reads path. Returns 0 with *out filled, -ENOENT when the file is not a CPython
 * interpreter (no _PyRuntime), -EINVAL when it is but its version cannot be told (then
 * out->runtime is set), or -errno when it cannot be read. */
int opd_py_elf_inspect(const char *path, struct opd_py_elf *out);

/* Parses "python3.11", "libpython3.12.so.1.0", "libpython3.13d.so" ... (base name of
 * path) into major and minor. Returns 0 or -EINVAL. */
int opd_py_version_from_name(const char *path, unsigned *major, unsigned *minor);

#endif
