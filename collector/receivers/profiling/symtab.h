/* A sorted symbol table: entries {start, size, name offset} plus one string blob, with lazy
 * demangling. Used for ELF symbols, Go pclntab functions, kallsyms and perf maps. */
#ifndef OPD_PROFILING_SYMTAB_H
#define OPD_PROFILING_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_symtab_entry {
    uint64_t start;
    uint64_t size; /* 0: unknown, the symbol runs to the next one (within max_gap) */
    uint32_t name; /* offset into strs */
    uint32_t aux;  /* caller data (kallsyms: module name offset + 1, 0 for the core kernel) */
};

struct opd_symtab {
    struct opd_symtab_entry *v;
    size_t n, cap;
    char *strs;
    size_t strs_len, strs_cap;
    char **demangled; /* lazily filled, one slot per entry, "" when not mangled */
    size_t demangled_bytes;
    bool sorted;
    /* Set before finish for ELF tables: aux holds a binding rank (global 2, weak 1, local 0)
     * and aliases of one address resolve to the best-ranked, fewest leading underscores,
     * then shortest name ("printf", not "_IO_printf"). Otherwise the later entry wins. */
    bool elf_rank;
    /* When non-zero, opd_symtab_add fails with -EFBIG once the table holds this many bytes,
     * so a hostile or huge file cannot take more than its share of the cache budget. */
    size_t limit;
};

void opd_symtab_init(struct opd_symtab *t);
void opd_symtab_fini(struct opd_symtab *t);

/* Appends a name to the blob; returns its offset or -ENOMEM/-E2BIG (blob beyond 4 GiB). */
int64_t opd_symtab_add_string(struct opd_symtab *t, const char *s, size_t len);

/* Adds a symbol whose name is copied. Returns 0, -ENOMEM, -E2BIG, or -EFBIG past limit. */
int opd_symtab_add(struct opd_symtab *t, uint64_t start, uint64_t size, const char *name,
                   size_t name_len, uint32_t aux);

/* Sorts by start and removes duplicates of one start (keeps the entry with a size, then see
 * elf_rank). Frees spare capacity. Call once after the last add. Returns 0/-ENOMEM. */
int opd_symtab_finish(struct opd_symtab *t);

/* Finds the entry covering addr: the last one with start <= addr, if addr < start + size, or
 * for size 0 if addr < the next entry's start and addr - start < max_gap.
 * NULL when none. */
const struct opd_symtab_entry *opd_symtab_lookup(const struct opd_symtab *t, uint64_t addr,
                                                 uint64_t max_gap);

static inline const char *opd_symtab_name(const struct opd_symtab *t,
                                          const struct opd_symtab_entry *e)
{
    return t->strs + e->name;
}

/* Demangled name of e (cached); falls back to the raw name when it is not mangled or on
 * allocation failure. Owned by the table. */
const char *opd_symtab_demangled(struct opd_symtab *t, const struct opd_symtab_entry *e);

/* Bytes used, for cache accounting. */
size_t opd_symtab_bytes(const struct opd_symtab *t);

#endif
