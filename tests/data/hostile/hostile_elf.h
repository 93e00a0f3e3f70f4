/* Crafted ELF files for the hostile-binary tests: small x86_64 shared objects whose code
 * page (file offset and vaddr OPD_HOSTILE_CODE_OFF) holds a real function, spin(n), that a
 * fixture can map PROT_EXEC and run, and whose .eh_frame, .gopclntab or .symtab is
 * truncated, oversized or self-referential. OPD_HOSTILE_CONTROL is the same file with a
 * sound .symtab naming spin OPD_HOSTILE_CONTROL_NAME, the check that a well-formed file of
 * this shape does get symbolized. Shared by tests/unit/test_hostile.c (parsed in-process,
 * under ASan in the sanitizer build) and tests/integration/hostile_binaries.sh (mapped by a
 * fixture the daemon samples). */
#ifndef OPD_TESTS_HOSTILE_ELF_H
#define OPD_TESTS_HOSTILE_ELF_H

#include <stddef.h>
#include <stdint.h>

enum opd_hostile_kind {
    OPD_HOSTILE_CONTROL,
    OPD_HOSTILE_EHFRAME_TRUNCATED,  /* an FDE cut off by the section end */
    OPD_HOSTILE_EHFRAME_OVERSIZED,  /* section past EOF; CIE length ~4 GiB; hdr count 2^32-1 */
    OPD_HOSTILE_EHFRAME_SELFREF,    /* FDEs whose CIE pointer names themselves / each other;
                                     * .eh_frame_hdr pointing at itself */
    OPD_HOSTILE_GOPCLNTAB_TRUNCATED, /* 1000 functions announced, table cut after the header */
    OPD_HOSTILE_GOPCLNTAB_OVERSIZED, /* 2^40 functions, offsets near 2^64 */
    OPD_HOSTILE_GOPCLNTAB_SELFREF,   /* name and function tables inside the header */
    OPD_HOSTILE_SYMTAB_TRUNCATED,    /* .symtab runs 16 MiB past EOF */
    OPD_HOSTILE_SYMTAB_OVERSIZED,    /* 1 GiB .symtab with a 1-byte entry size */
    OPD_HOSTILE_SYMTAB_SELFREF,      /* .symtab's string table is .symtab itself */
    OPD_HOSTILE_PYVERSION_WRAP,      /* CPython symbols; Py_Version at 2^64 - 2 */
    OPD_HOSTILE_NKINDS,
};

#define OPD_HOSTILE_CODE_OFF     0x1000u
#define OPD_HOSTILE_SIZE         0x2000u /* every file is this long */
#define OPD_HOSTILE_CONTROL_NAME "opd_hostile_control_spin"

/* Short name of a kind ("control", "ehframe-truncated", ...), used as its file name. */
const char *opd_hostile_name(enum opd_hostile_kind kind);

/* Writes the file of kind into buf (OPD_HOSTILE_SIZE bytes, which the caller provides).
 * Returns 0, or -EINVAL for an unknown kind. */
int opd_hostile_build(enum opd_hostile_kind kind, uint8_t *buf);

/* Makes a fuzz_ehframe reproducer (a selector byte, then an ELF file; n bytes at in)
 * runnable: copies spin's code to the ELF's offset OPD_HOSTILE_CODE_OFF and returns the ELF
 * part (in + 1, *elf_len bytes). NULL when the file is too short to hold the code there. */
uint8_t *opd_hostile_repro_elf(uint8_t *in, size_t n, size_t *elf_len);

/* The machine code placed at OPD_HOSTILE_CODE_OFF: spin(n) counts n down in a loop with a
 * frame-pointer prologue (push rbp; mov rbp, rsp; 1: dec rdi; jnz 1b; pop rbp; ret). */
extern const uint8_t opd_hostile_spin_code[11];

#endif
