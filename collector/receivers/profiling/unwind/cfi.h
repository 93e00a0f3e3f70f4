/* DWARF call-frame information (.eh_frame / .debug_frame) evaluated into unwind rows.
 *
 * A builder takes one or more CFI sections of one ELF file (already read into memory),
 * parses every CIE and FDE, runs each FDE's call-frame program and records one row per
 * location where the CFA, frame-pointer or return-address rule changes. Finishing the
 * builder sorts the FDEs, drops overlaps (earlier sections win, so .eh_frame is preferred
 * over .debug_frame), inserts END rows over gaps and merges equal adjacent rows into an
 * opd_unwind_table. All input is treated as hostile: every read is bounds checked, a bad
 * FDE is dropped (counted in stats) without aborting the rest of the section. */
#ifndef OPD_UNWIND_CFI_H
#define OPD_UNWIND_CFI_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/unwind_table.h"

enum opd_cfi_kind {
    OPD_CFI_EH_FRAME = 0,
    OPD_CFI_DEBUG_FRAME = 1,
};

/* Register numbering of the file's architecture. */
struct opd_cfi_arch {
    uint8_t sp; /* DWARF number of the stack pointer (x86_64 7, arm64 31) */
    uint8_t fp; /* frame pointer (x86_64 6 rbp, arm64 29 x29) */
};

extern const struct opd_cfi_arch opd_cfi_arch_x86_64;
extern const struct opd_cfi_arch opd_cfi_arch_arm64;

/* One CFI section as found in the file. */
struct opd_cfi_section {
    const uint8_t *data;
    size_t size;
    uint64_t vaddr;        /* address of data[0] (pcrel base); 0 for .debug_frame */
    uint64_t datarel_base; /* base of DW_EH_PE_datarel pointers (.got), 0 if unknown */
    enum opd_cfi_kind kind;
};

/* Counters describing what a build saw; all are per table. */
struct opd_cfi_stats {
    uint32_t cies;
    uint32_t fdes;        /* FDEs evaluated successfully */
    uint32_t bad_cies;    /* CIEs rejected (bad version, unknown augmentation, overrun) */
    uint32_t bad_fdes;    /* FDEs dropped: bad CIE, pointer encoding, opcode, overrun */
    uint32_t empty_fdes;  /* FDEs with pc_begin 0 or empty range, skipped */
    uint32_t overlapping; /* FDEs dropped because an earlier one covers their start */
    uint32_t plt_rows;    /* rows with a PLT CFA expression */
    uint32_t deref_rows;  /* rows with a DRAP CFA expression */
    uint32_t signal_fdes; /* FDEs of signal trampolines (augmentation S) */
    uint32_t invalid_rows; /* rows whose CFA rule we cannot evaluate */
    uint32_t raw_rows;    /* rows of the kept FDEs, before merging */
    uint32_t end_rows;    /* END markers inserted over gaps */
    uint32_t merged_rows; /* rows dropped because they repeat the previous rule */
};

/* A compiled table of one file: rows sorted by pc, pcs relative to pc_base. */
struct opd_unwind_table {
    uint64_t pc_base; /* lowest covered vaddr */
    uint64_t pc_end;  /* end of the highest covered range */
    struct opd_unwind_row *rows;
    size_t nrows;
    struct opd_cfi_stats stats;
};

struct opd_cfi_builder;

/* Creates a builder for one file. NULL with errno ENOMEM on failure. */
struct opd_cfi_builder *opd_cfi_builder_create(const struct opd_cfi_arch *arch);

/* Frees the builder and every row it collected. NULL is a no-op. */
void opd_cfi_builder_destroy(struct opd_cfi_builder *b);

/* Parses one section and collects its FDEs' rows. The builder does not keep sec->data
 * after returning. Malformed entries are counted and skipped. Returns 0, -ENOMEM, or
 * -EINVAL when the section cannot be walked at all (its first entry is unreadable). */
int opd_cfi_builder_add(struct opd_cfi_builder *b, const struct opd_cfi_section *sec);

/* Sorts, merges and writes the table into *out (which the caller then owns and frees with
 * opd_unwind_table_fini). The builder may be destroyed afterwards. Returns 0, -ENOMEM,
 * -ENOENT when no FDE was usable, -E2BIG when the covered span exceeds 4 GiB. */
int opd_cfi_builder_finish(struct opd_cfi_builder *b, struct opd_unwind_table *out);

/* Frees a table's rows and zeroes it. */
void opd_unwind_table_fini(struct opd_unwind_table *t);

/* Returns the row covering file vaddr pc (END rows included), or NULL when pc lies outside
 * [pc_base, pc_end). The pointer is into t->rows. */
const struct opd_unwind_row *opd_unwind_table_lookup(const struct opd_unwind_table *t,
                                                     uint64_t pc);

#endif
