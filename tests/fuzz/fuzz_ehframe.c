/* libFuzzer target for the CFI parser and evaluator. Input: one selector byte (bit 0:
 * .debug_frame instead of .eh_frame, bit 1: arm64 register numbering, bit 2: the rest is
 * a whole ELF file, located through sections or PT_GNU_EH_FRAME) followed by the bytes.
 * Every table that builds is checked for its invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector/receivers/profiling/unwind/cfi.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(struct opd_unwind_table *t)
{
    for (size_t i = 1; i < t->nrows; i++)
        if (t->rows[i].pc <= t->rows[i - 1].pc)
            abort();
    if (t->nrows == 0 || t->rows[t->nrows - 1].cfa_type != OPD_CFA_END)
        abort();
    if (opd_unwind_table_lookup(t, t->pc_base) != &t->rows[0])
        abort();
    if (opd_unwind_table_lookup(t, t->pc_end))
        abort();
}

static void whole_elf(const uint8_t *data, size_t size)
{
    struct opd_unwind_table t;
    uint8_t id[64];
    uint64_t bias;
    int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

    if (fd < 0)
        return;
    if (write(fd, data, size) == (ssize_t)size) {
        if (opd_elf_cfi_build_fd(fd, -1, &t, NULL) == 0) {
            check(&t);
            opd_unwind_table_fini(&t);
        }
        opd_elf_build_id(fd, id, sizeof(id));
        opd_elf_load_bias(fd, 0x400000, 0x1000, &bias);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_cfi_section sec;
    struct opd_cfi_builder *b;
    struct opd_unwind_table t;
    uint8_t *copy;

    if (size < 1)
        return 0;
    if (data[0] & 4) {
        whole_elf(data + 1, size - 1);
        return 0;
    }
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
        check(&t);
        opd_unwind_table_fini(&t);
    }
    opd_cfi_builder_destroy(b);
    free(copy);
    return 0;
}
