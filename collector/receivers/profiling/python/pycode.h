/* Reading CPython code objects out of another process: strings, the code object's name,
 * qualified name, file and first line, and the line of an instruction from its line table.
 * Memory is read through a callback (process_vm_readv in the daemon, a buffer in tests);
 * every object is checked before it is trusted, since a sampled address may be stale. */
#ifndef OPD_PROFILING_PYCODE_H
#define OPD_PROFILING_PYCODE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/python/pylayout.h"

#define OPD_PY_STR_MAX       256         /* bytes kept of a name or file (UTF-8, NUL incl.) */
#define OPD_PY_LINETABLE_MAX (64 * 1024) /* larger line tables are refused */

/* Copies len bytes at addr of the target into buf. Returns 0 or -errno. */
typedef int (*opd_py_read_fn)(void *arg, uint64_t addr, void *buf, size_t len);

struct opd_py_code {
    char name[OPD_PY_STR_MAX];
    char qualname[OPD_PY_STR_MAX]; /* = name before 3.11 */
    char file[OPD_PY_STR_MAX];
    int32_t firstline;
    uint8_t *linetable; /* heap (opd_malloc), lt_len bytes */
    size_t lt_len;
};

/* Line of the instruction at code-unit index idx, from a 3.10 co_linetable (queried with
 * byte offset 2 * idx) or a 3.11+ location table. Returns the line, or firstline when the
 * table has no line for it (no location, or idx past its end). */
int32_t opd_py_line_310(const uint8_t *lt, size_t n, int32_t firstline, uint32_t idx);
int32_t opd_py_line_311(const uint8_t *lt, size_t n, int32_t firstline, uint32_t idx);

/* Line for idx with the encoding of layout l. */
int32_t opd_py_code_line(const struct opd_py_layout *l, const struct opd_py_code *c, uint32_t idx);

/* Reads the str object at addr as UTF-8 into out (out_len >= 1, truncated, NUL-terminated).
 * Returns 0, -EINVAL when it is not a plausible compact str, or the read error. */
int opd_py_read_str(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t addr,
                    char *out, size_t out_len);

/* Reads the code object at addr: its type must be code_type (the process's PyCode_Type).
 * On success out->linetable is a heap copy to free with opd_py_code_fini(). Returns 0,
 * -EINVAL when the object is not a code object or is malformed, -ENOMEM, or a read error. */
int opd_py_code_read(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t addr,
                     uint64_t code_type, struct opd_py_code *out);

/* Frees the line table. NULL is a no-op. */
void opd_py_code_fini(struct opd_py_code *c);

#endif
