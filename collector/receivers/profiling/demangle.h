/* C++ (Itanium) and Rust (legacy and v0) demangling through libiberty. */
#ifndef OPD_PROFILING_DEMANGLE_H
#define OPD_PROFILING_DEMANGLE_H

#include <stddef.h>

/* Returns the demangled form of name as a heap string (free with opd_free), or NULL with
 * errno: EINVAL when name is not a mangled name (or is longer than the 4 KiB we accept,
 * which bounds libiberty's stack use), ENOMEM. Rust legacy names lose their hash suffix. */
char *opd_demangle(const char *name);

#endif
