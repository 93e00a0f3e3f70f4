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

/* Reads fd in chunks of `chunk` bytes and hands fn whole lines only (a batch of them ending at
 * a newline, or the rest of the file at EOF); a line longer than a chunk is dropped. fn
 * returns 0 to go on, 1 to stop, or a negative errno that is returned. Returns 0, -errno of
 * the read, -ENOMEM. Files like kallsyms and perf maps are never held whole. */
int opd_prof_read_lines(int fd, size_t chunk, int (*fn)(const char *text, size_t len, void *arg),
                        void *arg);

#endif
