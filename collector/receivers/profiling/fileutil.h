/* Small file helpers shared by the process table and the symbolizer. */
#ifndef OPD_PROFILING_FILEUTIL_H
#define OPD_PROFILING_FILEUTIL_H

#include <stddef.h>

/* Reads at most max bytes of the file at path (procfs files report size 0, so it reads until
 * EOF) into a heap buffer that the caller frees with opd_free(); the buffer is NUL-terminated
 * one byte past *len. Returns 0, -EFBIG when the file is longer than max (nothing returned),
 * or -errno from open/read (ENOENT when a process vanished). */
int opd_prof_read_file(const char *path, size_t max, char **buf, size_t *len);

/* Same, relative to the directory fd dirfd (openat semantics). */
int opd_prof_read_fileat(int dirfd, const char *path, size_t max, char **buf, size_t *len);

#endif
