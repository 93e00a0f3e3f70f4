/* Source file and line of an address from DWARF .debug_line (libdw), opened lazily. */
#ifndef OPD_PROFILING_DWARFLINES_H
#define OPD_PROFILING_DWARFLINES_H

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

/* Bytes of DWARF sections behind d (libdw keeps them in memory): for cache accounting. */
uint64_t opd_dwarflines_bytes(const struct opd_dwarflines *d);

#endif
