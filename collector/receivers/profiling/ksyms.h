/* Kernel symbols from /proc/kallsyms (core kernel and modules) as a sorted table. */
#ifndef OPD_PROFILING_KSYMS_H
#define OPD_PROFILING_KSYMS_H

#include <stddef.h>

#include "collector/receivers/profiling/symtab.h"

/* Adds the text symbols (types t, T, w, W) of kallsyms text to out and finishes it. An
 * entry's aux is 0 for the core kernel, else 1 + the offset of its module name in out's
 * string blob (the name is stored in brackets, "[ext4]"). Returns the number of symbols, -EPERM
 * when every address is zero (kptr_restrict hides them), -ENOMEM, -E2BIG. Malformed lines are
 * skipped. */
int opd_ksyms_parse(const char *text, size_t len, struct opd_symtab *out);

/* Reads and parses the file at path (e.g. "/proc/kallsyms"). Returns as opd_ksyms_parse, or
 * -errno of the read. */
int opd_ksyms_load(const char *path, struct opd_symtab *out);

/* Module name of e in brackets ("[ext4]"), "" for the core kernel. */
const char *opd_ksyms_module(const struct opd_symtab *t, const struct opd_symtab_entry *e);

#endif
