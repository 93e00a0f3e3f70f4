/* JIT symbol maps: /tmp/perf-<pid>.map as written by node --perf-basic-prof, Java agents and
 * python -X perf: one "START SIZE name" line per code blob, addresses in hex. */
#ifndef OPD_PROFILING_PERFMAP_H
#define OPD_PROFILING_PERFMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/receivers/profiling/symtab.h"

/* Adds every well-formed line of text to out and finishes it; a later line for the same start
 * address wins (code regenerated in place). Returns the number of entries, -ENOMEM, -E2BIG. */
int opd_perfmap_parse(const char *text, size_t len, struct opd_symtab *out);

/* Adds the well-formed lines of text to out without finishing it; sets *full when out hit
 * its byte limit. Returns the number added, -ENOMEM, -E2BIG. */
int opd_perfmap_add_lines(const char *text, size_t len, struct opd_symtab *out, bool *full);

/* Reads a perf map from fd in 1 MiB chunks (maps of long-running runtimes reach hundreds of
 * MiB: never hold the whole file) and finishes out. Returns the number of entries, -errno of
 * the read, -ENOMEM, -E2BIG. */
int opd_perfmap_load_fd(int fd, struct opd_symtab *out);

#endif
