/* .gopclntab: the header (runtime.pcHeader) locates the function name table and the
 * function table; each function table entry points at a runtime._func whose second word
 * is the offset of its name. Every offset read from the file is bounds-checked. */
#include "collector/receivers/profiling/gopclntab.h"

#include <errno.h>
#include <string.h>

struct rd {
    const uint8_t *d;
    size_t len;
    unsigned ptr; /* 4 or 8 */
};

static int u32_at(const struct rd *r, uint64_t off, uint32_t *v)
{
    if (off > r->len || r->len - off < 4)
        return -1;
    *v = (uint32_t)r->d[off] | (uint32_t)r->d[off + 1] << 8 | (uint32_t)r->d[off + 2] << 16 |
         (uint32_t)r->d[off + 3] << 24;
    return 0;
}

static int uptr_at(const struct rd *r, uint64_t off, uint64_t *v)
{
    uint32_t lo, hi = 0;

    if (u32_at(r, off, &lo))
        return -1;
    if (r->ptr == 8 && u32_at(r, off + 4, &hi))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

int opd_gopclntab_probe(const uint8_t *data, size_t len)
{
    struct rd r = {data, len, 8};
    uint32_t magic;

    if (!data || u32_at(&r, 0, &magic) || len < 8)
        return 0;
    if (magic != OPD_GO_MAGIC_116 && magic != OPD_GO_MAGIC_118 && magic != OPD_GO_MAGIC_120)
        return 0;
    if (data[4] != 0 || data[5] != 0)
        return 0;
    if (data[6] != 1 && data[6] != 2 && data[6] != 4)
        return 0;
    return data[7] == 4 || data[7] == 8;
}

/* A NUL-terminated name inside the table, or -1. */
static int name_at(const struct rd *r, uint64_t off, const char **s, size_t *n)
{
    const uint8_t *nul;

    if (off >= r->len)
        return -1;
    nul = memchr(r->d + off, '\0', r->len - off);
    if (!nul)
        return -1;
    *s = (const char *)r->d + off;
    *n = (size_t)(nul - (r->d + off));
    return 0;
}

int opd_gopclntab_parse(const uint8_t *data, size_t len, uint64_t text_start,
                        struct opd_symtab *out)
{
    struct rd r = {data, len, 8};
    uint32_t magic;
    uint64_t nfunc, text = 0, funcname_off, pcln_off, ftab_entry;
    uint64_t i, hdr;
    int added = 0, err;

    if (!opd_gopclntab_probe(data, len) || !out)
        return -EINVAL;
    u32_at(&r, 0, &magic);
    r.ptr = data[7];
    hdr = 8;
    if (uptr_at(&r, hdr, &nfunc))
        return -EINVAL;
    /* nfiles at hdr + ptr; then (1.18+) textStart. */
    if (magic == OPD_GO_MAGIC_116) {
        if (uptr_at(&r, hdr + 2 * r.ptr, &funcname_off) || uptr_at(&r, hdr + 6 * r.ptr, &pcln_off))
            return -EINVAL;
    } else {
        if (uptr_at(&r, hdr + 2 * r.ptr, &text) || uptr_at(&r, hdr + 3 * r.ptr, &funcname_off) ||
            uptr_at(&r, hdr + 7 * r.ptr, &pcln_off))
            return -EINVAL;
        if (text == 0)
            text = text_start;
    }
    if (funcname_off >= len || pcln_off >= len)
        return -EINVAL;
    /* Function table entries: (entryoff, funcoff) u32 pairs in 1.18+, uintptr pairs before. */
    ftab_entry = magic == OPD_GO_MAGIC_116 ? 2ull * r.ptr : 8;
    if (nfunc == 0 || nfunc > (len - pcln_off) / ftab_entry)
        return -EINVAL;
    for (i = 0; i < nfunc; i++) {
        uint64_t e = pcln_off + i * ftab_entry;
        uint64_t entry, next, funcoff, start;
        uint32_t v, nameoff;
        const char *name;
        size_t n;

        if (magic == OPD_GO_MAGIC_116) {
            if (uptr_at(&r, e, &entry) || uptr_at(&r, e + r.ptr, &funcoff) ||
                uptr_at(&r, e + ftab_entry, &next))
                break;
            start = entry;
        } else {
            if (u32_at(&r, e, &v))
                break;
            entry = v;
            if (u32_at(&r, e + 4, &v))
                break;
            funcoff = v;
            if (u32_at(&r, e + ftab_entry, &v))
                break;
            next = v;
            start = text + entry;
        }
        /* runtime._func: entry (uintptr before 1.18, u32 after), then nameOff int32. */
        if (u32_at(&r, pcln_off + funcoff + (magic == OPD_GO_MAGIC_116 ? r.ptr : 4), &nameoff))
            break;
        if (name_at(&r, funcname_off + nameoff, &name, &n))
            continue;
        err = opd_symtab_add(out, start, next > entry ? next - entry : 0, name, n, 0);
        if (err)
            return err;
        added++;
    }
    return added ? added : -EINVAL;
}
