/* What the symbolizer needs from one ELF file: GNU and Go build ids, PT_LOAD segments (to
 * turn a file offset into a virtual address), .gnu_debuglink, and function symbols from
 * .symtab, else .dynsym, plus Go functions from .gopclntab. Reads through libelf without
 * mmap (a file truncated under us must not SIGBUS the daemon). */
#ifndef OPD_PROFILING_ELFREAD_H
#define OPD_PROFILING_ELFREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/receivers/profiling/symtab.h"

#define OPD_BUILD_ID_MAX    64 /* bytes of NT_GNU_BUILD_ID we keep */
#define OPD_GO_BUILD_ID_MAX 256

struct opd_elf_load {
    uint64_t offset, vaddr, filesz, memsz;
};

struct opd_elf_info {
    uint16_t type; /* ET_EXEC, ET_DYN ... */
    uint8_t build_id[OPD_BUILD_ID_MAX];
    size_t build_id_len;
    char go_build_id[OPD_GO_BUILD_ID_MAX]; /* "" when none */
    char debuglink[256];                   /* "" when none */
    uint32_t debuglink_crc;
    struct opd_elf_load *loads; /* heap, PT_LOAD in file order */
    size_t n_loads;
    bool has_symtab;     /* .symtab with at least one function */
    bool has_debug_info; /* .debug_info present (DWARF lines possible) */
    bool is_go;          /* .gopclntab or a Go build id */
    uint8_t *go_pcln;    /* heap copy of the pclntab (OPD_ELF_GO_LINES), for file:line */
    size_t go_pcln_len;
    unsigned malformed;  /* OPD_ELF_BAD_*: tables found but rejected as malformed */
};

/* Why a file's tables were rejected (opd_elf_info.malformed). A malformed table is not
 * read at all; the others still are, except after OPD_ELF_BAD_HEADERS, which the
 * symbolizer takes as "trust nothing in this file". */
#define OPD_ELF_BAD_HEADERS   0x1u /* a PT_LOAD whose sizes wrap or whose file part exceeds
                                    * its memory part */
#define OPD_ELF_BAD_SYMTAB    0x2u /* .symtab/.dynsym unreadable, oversized, with a wrong
                                    * entry size or a string table that is not one */
#define OPD_ELF_BAD_GOPCLNTAB 0x4u /* a section named .gopclntab that does not parse */

/* Which parts opd_elf_read fills. */
#define OPD_ELF_HEADERS  0x1u /* type, loads, notes, debuglink, flags */
#define OPD_ELF_SYMBOLS  0x2u /* .symtab, else .dynsym, into syms */
#define OPD_ELF_GO       0x4u /* .gopclntab into go_syms */
#define OPD_ELF_GO_LINES 0x8u /* with OPD_ELF_GO: keep a copy of the table in info */

struct Elf;

/* Calls elf_version() once; returns 0 or -ENOTSUP when libelf is unusable. */
int opd_elf_lib_init(void);

/* Opens fd (borrowed, must stay open while the Elf is used) for reading. NULL with errno
 * EINVAL (not ELF) or ENOMEM. Free with opd_elf_close(). */
struct Elf *opd_elf_open_fd(int fd);
/* Same over a byte buffer (borrowed). */
struct Elf *opd_elf_open_mem(const void *buf, size_t len);
void opd_elf_close(struct Elf *elf);

/* Reads the parts named by `what` into info, syms and go_syms (each may be NULL when its part
 * is not asked for; symtabs must be initialised and are finished on success). Returns 0,
 * -EINVAL for a malformed file (what was read so far is kept), -ENOMEM. */
int opd_elf_read(struct Elf *elf, unsigned what, struct opd_elf_info *info, struct opd_symtab *syms,
                 struct opd_symtab *go_syms);

void opd_elf_info_fini(struct opd_elf_info *info);

/* Virtual address of file offset off, through the PT_LOAD that holds it. Returns 0, or
 * -ENOENT when no segment holds it. */
int opd_elf_offset_to_vaddr(const struct opd_elf_info *info, uint64_t off, uint64_t *vaddr);

/* Lowercase hex of the GNU build id into out (2 * len + 1 bytes). */
void opd_elf_build_id_hex(const struct opd_elf_info *info, char *out, size_t out_len);

/* The file id of the open file fd as OpenTelemetry's process.executable.build_id.htlhash
 * (the reference profiler's FileID): the first 16 bytes of SHA-256 over the file's first
 * 4096 bytes, its last 4096 bytes and its length as a big-endian 64-bit number, in
 * lowercase hex. Works on any file; reads with pread (the offset of fd is kept). Returns 0,
 * -errno of fstat or pread (-EIO for a file that shrank), -ENOMEM. */
int opd_elf_file_id(int fd, char out[33]);

#endif
