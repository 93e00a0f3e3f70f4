/* DWARF lines through libdw: address -> CU (aranges, which libdw derives from the CUs when
 * .debug_aranges is absent) -> line table row. */
#include "collector/receivers/profiling/dwarflines.h"

#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <string.h>

#include "collector/mem.h"

struct opd_dwarflines {
    Dwarf *dw;
    uint64_t bytes;
};

static uint64_t debug_bytes(Elf *elf)
{
    Elf_Scn *scn = NULL;
    size_t shstrndx;
    uint64_t total = 0;

    if (elf_getshdrstrndx(elf, &shstrndx))
        return 0;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;
        const char *name;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
            continue;
        name = elf_strptr(elf, shstrndx, sh.sh_name);
        if (name && strncmp(name, ".debug_", 7) == 0)
            total += sh.sh_size;
    }
    return total;
}

struct opd_dwarflines *opd_dwarflines_open(struct Elf *elf)
{
    struct opd_dwarflines *d;

    d = opd_calloc(1, sizeof(*d));
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
    if (!d->dw) {
        opd_free(d);
        errno = ENOENT;
        return NULL;
    }
    d->bytes = debug_bytes(elf);
    return d;
}

void opd_dwarflines_close(struct opd_dwarflines *d)
{
    if (!d)
        return;
    dwarf_end(d->dw);
    opd_free(d);
}

int opd_dwarflines_lookup(struct opd_dwarflines *d, uint64_t vaddr, const char **file,
                          int64_t *line)
{
    Dwarf_Die cu;
    Dwarf_Line *l;
    const char *src;
    int lineno = 0;

    if (!d || !dwarf_addrdie(d->dw, vaddr, &cu))
        return -ENOENT;
    l = dwarf_getsrc_die(&cu, vaddr);
    if (!l)
        return -ENOENT;
    src = dwarf_linesrc(l, NULL, NULL);
    if (!src || dwarf_lineno(l, &lineno) != 0)
        return -ENOENT;
    *file = src;
    *line = lineno;
    return 0;
}

uint64_t opd_dwarflines_bytes(const struct opd_dwarflines *d)
{
    return d ? d->bytes : 0;
}
