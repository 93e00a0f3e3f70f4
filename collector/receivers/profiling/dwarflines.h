/* Source file and line of an address from DWARF .debug_line (libdw), opened lazily. */
#ifndef OPD_PROFILING_DWARFLINES_H
#define OPD_PROFILING_DWARFLINES_H

#include <stddef.h>
#include <stdint.h>

struct Elf;
struct opd_dwarflines;

/* Wraps elf (borrowed: must outlive the result). NULL with errno ENOENT when elf has no
 * usable DWARF, ENOMEM. */
struct opd_dwarflines *opd_dwarflines_open(struct Elf *elf);
void opd_dwarflines_close(struct opd_dwarflines *d);

/* Finds the line of vaddr: *file (owned by d, valid until close) and *line. Returns 0 or
 * -ENOENT. */
int opd_dwarflines_lookup(struct opd_dwarflines *d, uint64_t vaddr, const char **file,
                          int64_t *line);

/* One inlined call at an address: the inlined function and where it was inlined. */
struct opd_dwarf_inline {
    const char *function;  /* DW_AT_name of the inlined subroutine (owned by d) */
    const char *call_file; /* file:line of the call site, in the caller (NULL/0 unknown) */
    int64_t call_line;
};

/* Fills out[0..max) with the functions inlined at vaddr, innermost first. Returns how many
 * (0 when vaddr is in no inlined code), -ENOENT when the DWARF does not cover vaddr. */
int opd_dwarflines_inlines(struct opd_dwarflines *d, uint64_t vaddr, struct opd_dwarf_inline *out,
                           size_t max);

/* Bytes of DWARF sections behind d (libdw keeps them in memory): for cache accounting. */
uint64_t opd_dwarflines_bytes(const struct opd_dwarflines *d);

#endif
