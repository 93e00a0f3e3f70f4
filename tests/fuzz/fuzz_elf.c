/* ELF/symbol reader: headers, notes, .symtab/.dynsym, .gopclntab discovery, address lookups
 * and demangling of whatever names the input holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/gopclntab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_elf_info info = {0};
    struct opd_symtab syms, go;
    struct Elf *elf;
    uint8_t *copy;
    size_t i;

    /* libelf may convert the image in place: give it a private copy. */
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    opd_symtab_init(&syms);
    opd_symtab_init(&go);
    elf = opd_elf_open_mem(copy, size);
    if (elf) {
        opd_elf_read(elf, OPD_ELF_HEADERS | OPD_ELF_SYMBOLS | OPD_ELF_GO | OPD_ELF_GO_LINES, &info,
                     &syms, &go);
        for (i = 0; i < info.n_loads && i < 8; i++) {
            uint64_t va;

            opd_elf_offset_to_vaddr(&info, info.loads[i].offset + 1, &va);
            opd_symtab_lookup(&syms, info.loads[i].vaddr + 16, 4096);
        }
        for (i = 0; i < syms.n && i < 64; i++)
            opd_symtab_demangled(&syms, &syms.v[i]);
        for (i = 0; i < go.n && i < 64; i++) {
            const char *file;
            int64_t line;

            opd_symtab_lookup(&go, go.v[i].start + 1, 4096);
            if (info.go_pcln)
                opd_gopclntab_line(info.go_pcln, info.go_pcln_len, go.v[i].aux, 1, &file, &line);
        }
        opd_elf_close(elf);
    }
    opd_symtab_fini(&syms);
    opd_symtab_fini(&go);
    opd_elf_info_fini(&info);
    free(copy);
    return 0;
}
