/* Finding the CFI of an ELF file and compiling it into an unwind table, plus the ELF
 * facts the table cache and the per-process map need (build id, load bias). */
#ifndef OPD_UNWIND_ELF_CFI_H
#define OPD_UNWIND_ELF_CFI_H

#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/unwind/cfi.h"

/* Where a table's rows came from, for logs and tests. */
struct opd_elf_cfi_info {
    uint32_t machine;       /* e_machine */
    uint32_t hdr_fde_count; /* .eh_frame_hdr's count, 0 when absent or without a table */
    int used_eh_frame;      /* 1 when .eh_frame (by section or PT_GNU_EH_FRAME) was read */
    int used_debug_frame;   /* 1 when .debug_frame (own or debug file's) was read */
    int via_phdr;           /* 1 when .eh_frame was found through PT_GNU_EH_FRAME */
    int is_go;              /* Go binary: .debug_frame ignored, Go code walks by FP */
};

/* Builds the unwind table of the ELF file at path. debug_path (may be NULL) names a
 * separate debug file whose .debug_frame is merged in after the file's own CFI (rows of
 * the file itself win on overlap). info may be NULL. On success *out is owned by the
 * caller (opd_unwind_table_fini). Errors: -ENOENT no usable CFI, -ENOEXEC not a 64-bit
 * x86_64/arm64 ELF, -E2BIG span over 4 GiB, -ENOMEM, or the errno of open/read. */
int opd_elf_cfi_build(const char *path, const char *debug_path, struct opd_unwind_table *out,
                      struct opd_elf_cfi_info *info);

/* Same, from an open descriptor (not closed, offset not used). */
int opd_elf_cfi_build_fd(int fd, int debug_fd, struct opd_unwind_table *out,
                         struct opd_elf_cfi_info *info);

/* Copies the GNU build id of the ELF file open at fd into buf (at most cap bytes) and
 * returns its length, -ENOENT when it has none, -ENOEXEC when it is not ELF. */
int opd_elf_build_id(int fd, uint8_t *buf, size_t cap);

/* Computes the load bias of a mapping: the file offset pgoff of the ELF file at fd is
 * mapped at runtime address map_start. bias = map_start - vaddr(pgoff), using the PT_LOAD
 * segment that contains pgoff. Returns 0, -ENOENT when no PT_LOAD covers pgoff,
 * -ENOEXEC when fd is not ELF. */
int opd_elf_load_bias(int fd, uint64_t map_start, uint64_t pgoff, uint64_t *bias);

#endif
