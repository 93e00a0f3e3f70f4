/* DWARF lines through libdw: address -> CU -> line table row. The CU comes from
 * .debug_aranges when present; compilers that omit it (clang by default) get a range table
 * built once from every CU's DW_AT_ranges / low_pc-high_pc. */
#include "collector/receivers/profiling/dwarflines.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

struct cu_range {
    uint64_t start, end;
    Dwarf_Off cu;
};

struct opd_dwarflines {
    Dwarf *dw;
    uint64_t bytes;
    struct cu_range *ranges; /* sorted by start; built on the first aranges miss */
    size_t n_ranges, cap_ranges;
    bool ranges_built;
};

#define MAX_CU_RANGES (1u << 22)

static int cmp_range(const void *a, const void *b)
{
    const struct cu_range *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static void build_ranges(struct opd_dwarflines *d)
{
    Dwarf_CU *cu = NULL, *next;
    Dwarf_Half version;
    uint8_t unit_type;
    Dwarf_Die cudie;

    d->ranges_built = true;
    while (dwarf_get_units(d->dw, cu, &next, &version, &unit_type, &cudie, NULL) == 0) {
        Dwarf_Addr base, start, end;
        ptrdiff_t it = 0;

        cu = next;
        if (unit_type != DW_UT_compile && unit_type != DW_UT_partial && unit_type != DW_UT_skeleton)
            continue;
        while ((it = dwarf_ranges(&cudie, it, &base, &start, &end)) > 0) {
            struct cu_range *r;

            if (end <= start || d->n_ranges >= MAX_CU_RANGES)
                continue;
            r = OPD_VEC_PUSH_SLOT(d->ranges, d->n_ranges, d->cap_ranges);
            if (!r)
                goto sort;
            r->start = start;
            r->end = end;
            r->cu = dwarf_dieoffset(&cudie);
        }
    }
sort:
    if (d->n_ranges > 1)
        qsort(d->ranges, d->n_ranges, sizeof(*d->ranges), cmp_range);
    d->bytes += d->cap_ranges * sizeof(*d->ranges);
}

/* The CU whose ranges hold vaddr, from the range table. */
static int cu_of(struct opd_dwarflines *d, uint64_t vaddr, Dwarf_Die *cu)
{
    size_t lo = 0, hi, k;

    if (!d->ranges_built)
        build_ranges(d);
    hi = d->n_ranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (d->ranges[mid].start <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Ranges of different CUs do not nest in practice; look back a few for safety. */
    for (k = lo; k > 0 && lo - k < 4; k--) {
        const struct cu_range *r = &d->ranges[k - 1];

        if (vaddr < r->end)
            return dwarf_offdie(d->dw, r->cu, cu) ? 0 : -ENOENT;
    }
    return -ENOENT;
}

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
    opd_free(d->ranges);
    opd_free(d);
}

int opd_dwarflines_lookup(struct opd_dwarflines *d, uint64_t vaddr, const char **file,
                          int64_t *line)
{
    Dwarf_Die cu;
    Dwarf_Line *l;
    const char *src;
    int lineno = 0;

    if (!d)
        return -ENOENT;
    if (!dwarf_addrdie(d->dw, vaddr, &cu) && cu_of(d, vaddr, &cu))
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

int opd_dwarflines_inlines(struct opd_dwarflines *d, uint64_t vaddr, struct opd_dwarf_inline *out,
                           size_t max)
{
    Dwarf_Die cu, *scopes = NULL;
    Dwarf_Files *files = NULL;
    size_t nfiles = 0, n = 0;
    int ns, i;

    if (!d)
        return -ENOENT;
    if (!dwarf_addrdie(d->dw, vaddr, &cu) && cu_of(d, vaddr, &cu))
        return -ENOENT;
    ns = dwarf_getscopes(&cu, vaddr, &scopes);
    if (ns <= 0)
        return ns == 0 ? 0 : -ENOENT;
    if (dwarf_getsrcfiles(&cu, &files, &nfiles))
        files = NULL;
    for (i = 0; i < ns && n < max; i++) {
        int tag = dwarf_tag(&scopes[i]);
        Dwarf_Attribute attr;
        Dwarf_Word v;

        if (tag == DW_TAG_subprogram)
            break;
        if (tag != DW_TAG_inlined_subroutine)
            continue;
        out[n].function = dwarf_diename(&scopes[i]);
        if (!out[n].function)
            out[n].function = "??";
        out[n].call_file = NULL;
        out[n].call_line = 0;
        if (files && dwarf_attr(&scopes[i], DW_AT_call_file, &attr) &&
            dwarf_formudata(&attr, &v) == 0 && v < nfiles)
            out[n].call_file = dwarf_filesrc(files, v, NULL, NULL);
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &attr) && dwarf_formudata(&attr, &v) == 0)
            out[n].call_line = (int64_t)v;
        n++;
    }
    free(scopes); /* libdw allocates it with malloc */
    return (int)n;
}

uint64_t opd_dwarflines_bytes(const struct opd_dwarflines *d)
{
    return d ? d->bytes : 0;
}
