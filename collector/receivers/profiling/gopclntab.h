/* Reader of the Go function table (.gopclntab), which stays in stripped Go binaries.
 * Layouts: Go 1.16/1.17 (magic 0xfffffffa), 1.18/1.19 (0xfffffff0), 1.20+ (0xfffffff1);
 * little-endian, 4- or 8-byte pointers. */
#ifndef OPD_PROFILING_GOPCLNTAB_H
#define OPD_PROFILING_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/symtab.h"

#define OPD_GO_MAGIC_116 0xfffffffau
#define OPD_GO_MAGIC_118 0xfffffff0u
#define OPD_GO_MAGIC_120 0xfffffff1u

/* Adds one symbol per Go function of the table at data[0, len) to out (not finished); each
 * symbol's aux is the offset of its runtime._func record, for opd_gopclntab_line.
 * text_start is the address of the text section, used when the header's textStart is 0
 * (position-independent binaries get it relocated at load time) and for 1.16/1.17 never.
 * Returns the number of functions added, -EINVAL for a malformed or unknown table (nothing
 * partial is left behind for a bad header; a bad function entry stops the walk),
 * -ENOMEM, -E2BIG. */
int opd_gopclntab_parse(const uint8_t *data, size_t len, uint64_t text_start,
                        struct opd_symtab *out);

/* Source file and line of the instruction at offset pc_off from the entry of the function
 * whose runtime._func record is at funcoff (the aux value opd_gopclntab_parse stored in its
 * symbol). *file points into data (NUL-terminated there). Returns 0, -ENOENT when the
 * tables do not say, -EINVAL for a malformed table. */
int opd_gopclntab_line(const uint8_t *data, size_t len, uint32_t funcoff, uint64_t pc_off,
                       const char **file, int64_t *line);

/* Returns 1 when data starts with a pclntab header we understand. */
int opd_gopclntab_probe(const uint8_t *data, size_t len);

#endif
