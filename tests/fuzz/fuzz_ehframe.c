/* libFuzzer target for the CFI parser and evaluator. Input: one selector byte (bit 0:
 * .debug_frame instead of .eh_frame, bit 1: arm64 register numbering) followed by the
 * section bytes. Every table that builds is checked for its invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/receivers/profiling/unwind/cfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_cfi_section sec;
    struct opd_cfi_builder *b;
    struct opd_unwind_table t;
    uint8_t *copy;

    if (size < 1)
        return 0;
    /* A private copy sized exactly, so that ASan catches any read past the end. */
    copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    memset(&sec, 0, sizeof(sec));
    sec.data = copy;
    sec.size = size - 1;
    sec.vaddr = 0x10000;
    sec.kind = (data[0] & 1) ? OPD_CFI_DEBUG_FRAME : OPD_CFI_EH_FRAME;
    b = opd_cfi_builder_create((data[0] & 2) ? &opd_cfi_arch_arm64 : &opd_cfi_arch_x86_64);
    if (b && opd_cfi_builder_add(b, &sec) == 0 && opd_cfi_builder_finish(b, &t) == 0) {
        for (size_t i = 1; i < t.nrows; i++)
            if (t.rows[i].pc <= t.rows[i - 1].pc)
                abort();
        if (t.nrows == 0 || t.rows[t.nrows - 1].cfa_type != OPD_CFA_END)
            abort();
        if (opd_unwind_table_lookup(&t, t.pc_base) != &t.rows[0])
            abort();
        if (opd_unwind_table_lookup(&t, t.pc_end))
            abort();
        opd_unwind_table_fini(&t);
    }
    opd_cfi_builder_destroy(b);
    free(copy);
    return 0;
}
