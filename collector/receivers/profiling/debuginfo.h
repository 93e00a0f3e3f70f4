/* Separate debug files: <debug_dir>/.build-id/xx/rest.debug and .gnu_debuglink (next to the
 * binary, in its .debug/ directory, and under <debug_dir>/<binary's dir>/), as gdb finds
 * them. A candidate is accepted only when its build id equals the binary's (or, when the
 * binary has none, when its CRC32 equals the debuglink CRC). */
#ifndef OPD_PROFILING_DEBUGINFO_H
#define OPD_PROFILING_DEBUGINFO_H

#include <stddef.h>

#include "collector/receivers/profiling/elfread.h"

struct opd_debugfile {
    int fd;
    struct Elf *elf;
};

/* Looks for the debug file of the binary described by info. root is the prefix under which
 * the process sees its files ("/proc/123/root"; "" for the host), bin_path the binary's path
 * as the process sees it (may be NULL: build-id lookup only). Host debug_dirs are tried
 * before the same directories inside root. On success fills *out (close with
 * opd_debugfile_close) and returns 0; -ENOENT when none matches; -ENOMEM. */
int opd_debugfile_find(const char *const *debug_dirs, size_t n_dirs, const char *root,
                       const char *bin_path, const struct opd_elf_info *info,
                       struct opd_debugfile *out);

void opd_debugfile_close(struct opd_debugfile *f);

/* The .gnu_debuglink CRC (zlib's CRC-32) of everything readable from fd; 0 on read error. */
unsigned long opd_debugfile_crc(int fd);

#endif
