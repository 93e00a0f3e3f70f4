/* .gopclntab: the header (runtime.pcHeader) locates the function name table and the
 * function table; each function table entry points at a runtime._func whose second word
 * is the offset of its name. Every offset read from the file is bounds-checked as a size
 * against what is left of the table, and every sum of offsets goes through off_add, so no
 * position can wrap around to a small in-bounds one. */
#include "collector/receivers/profiling/gopclntab.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct rd {
    const uint8_t *d;
    size_t len;
    unsigned ptr; /* 4 or 8 */
};

/* *out = a + b; -1 when the sum does not fit in 64 bits. */
static int off_add(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_add_overflow(a, b, out) ? -1 : 0;
}

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

/* Whether s[0, n) is UTF-8 without control characters, as Go's identifiers and file
 * names are; anything else is a table read at the wrong place. */
static bool plausible_name(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i], len, k;

        if (c < 0x20 || c == 0x7f)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4;
        else
            return false;
        if (n - i < len)
            return false;
        for (k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

/* A NUL-terminated, plausible name inside the table, or -1. */
static int name_at(const struct rd *r, uint64_t off, const char **s, size_t *n)
{
    const uint8_t *nul;

    if (off >= r->len)
        return -1;
    nul = memchr(r->d + off, '\0', r->len - off);
    if (!nul || !plausible_name(r->d + off, (size_t)(nul - (r->d + off))))
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
    /* The tables follow the header (magic word, 4 bytes, then 8 words before 1.18's extra
     * textStart word); offsets into the header are a table pointing at itself. */
    if (funcname_off >= len || pcln_off >= len || funcname_off < 8 + 7 * (uint64_t)r.ptr ||
        pcln_off < 8 + 7 * (uint64_t)r.ptr)
        return -EINVAL;
    /* Function table entries: (entryoff, funcoff) u32 pairs in 1.18+, uintptr pairs before. */
    ftab_entry = magic == OPD_GO_MAGIC_116 ? 2ull * r.ptr : 8;
    if (nfunc == 0 || nfunc > (len - pcln_off) / ftab_entry)
        return -EINVAL;
    for (i = 0; i < nfunc; i++) {
        uint64_t e = pcln_off + i * ftab_entry;
        uint64_t entry, next, funcoff, start, f;
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
        if (off_add(pcln_off, funcoff, &f) ||
            off_add(f, magic == OPD_GO_MAGIC_116 ? r.ptr : 4, &f) || u32_at(&r, f, &nameoff))
            break;
        if (name_at(&r, funcname_off + nameoff, &name, &n))
            continue;
        if (funcoff > UINT32_MAX)
            continue;
        err =
            opd_symtab_add(out, start, next > entry ? next - entry : 0, name, n, (uint32_t)funcoff);
        if (err == -EFBIG)
            break; /* byte limit: keep what fits */
        if (err)
            return err;
        added++;
    }
    return added ? added : -EINVAL;
}

/* Header offsets shared by the line lookup. */
struct hdr {
    uint32_t magic;
    unsigned min_lc;
    uint64_t cu_off, filetab_off, pctab_off, pcln_off;
};

static int read_hdr(const struct rd *r, struct hdr *h)
{
    unsigned base;

    if (u32_at(r, 0, &h->magic))
        return -1;
    h->min_lc = r->d[6];
    /* 1.16/1.17 have no textStart word: every later field sits one word earlier. */
    base = h->magic == OPD_GO_MAGIC_116 ? 3 : 4;
    if (uptr_at(r, 8 + (uint64_t)base * r->ptr, &h->cu_off) ||
        uptr_at(r, 8 + (uint64_t)(base + 1) * r->ptr, &h->filetab_off) ||
        uptr_at(r, 8 + (uint64_t)(base + 2) * r->ptr, &h->pctab_off) ||
        uptr_at(r, 8 + (uint64_t)(base + 3) * r->ptr, &h->pcln_off))
        return -1;
    return 0;
}

static int read_uvarint(const struct rd *r, uint64_t *off, uint32_t *v)
{
    uint32_t x = 0;
    unsigned shift = 0;

    for (;;) {
        uint8_t b;

        if (*off >= r->len || shift > 28)
            return -1;
        b = r->d[(*off)++];
        x |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *v = x;
    return 0;
}

/* runtime.pcvalue: the value of the pc-value table at tab_off for pc_off. */
static int pcvalue(const struct rd *r, const struct hdr *h, uint64_t tab_off, uint64_t pc_off,
                   int32_t *val)
{
    uint64_t p, pc = 0;
    int32_t v = -1;
    int first = 1, steps = 0;

    if (tab_off == 0 || off_add(h->pctab_off, tab_off, &p))
        return -1;
    for (;;) {
        uint32_t uvdelta, pcdelta;

        if (read_uvarint(r, &p, &uvdelta))
            return -1;
        if (uvdelta == 0 && !first)
            return -1;
        /* Go's wrapping int32 arithmetic, done unsigned (signed overflow is undefined in C). */
        v = (int32_t)((uint32_t)v + ((uvdelta & 1) ? ~(uvdelta >> 1) : (uvdelta >> 1)));
        if (read_uvarint(r, &p, &pcdelta))
            return -1;
        pc += (uint64_t)pcdelta * h->min_lc;
        first = 0;
        if (pc_off < pc) {
            *val = v;
            return 0;
        }
        if (++steps > (1 << 20))
            return -1;
    }
}

int opd_gopclntab_line(const uint8_t *data, size_t len, uint32_t funcoff, uint64_t pc_off,
                       const char **file, int64_t *line)
{
    struct rd r = {data, len, 8};
    struct hdr h;
    uint64_t fields, cu_entry, name_off;
    uint32_t pcfile, pcln, cu, fileoff;
    int32_t fileno, ln;
    const char *name;
    size_t n;

    if (!opd_gopclntab_probe(data, len))
        return -EINVAL;
    r.ptr = data[7];
    if (read_hdr(&r, &h))
        return -EINVAL;
    /* _func: entry (uintptr before 1.18, u32 after), nameOff, args, deferreturn, pcsp,
     * pcfile, pcln, npcdata, cuOffset. Once fields <= len, fields + 28 cannot wrap. */
    if (off_add(h.pcln_off, funcoff, &fields) ||
        off_add(fields, h.magic == OPD_GO_MAGIC_116 ? r.ptr : 4, &fields) || fields > r.len)
        return -EINVAL;
    if (u32_at(&r, fields + 16, &pcfile) || u32_at(&r, fields + 20, &pcln) ||
        u32_at(&r, fields + 28, &cu))
        return -EINVAL;
    if (pcvalue(&r, &h, pcln, pc_off, &ln) || ln < 0)
        return -ENOENT;
    if (pcvalue(&r, &h, pcfile, pc_off, &fileno) || fileno < 0)
        return -ENOENT;
    /* cu and fileno are below 2^32, so their sum times 4 fits in 64 bits. */
    if (off_add(h.cu_off, ((uint64_t)cu + (uint64_t)fileno) * 4, &cu_entry) ||
        u32_at(&r, cu_entry, &fileoff) || fileoff == UINT32_MAX)
        return -ENOENT;
    if (off_add(h.filetab_off, fileoff, &name_off) || name_at(&r, name_off, &name, &n))
        return -ENOENT;
    *file = name;
    *line = ln;
    return 0;
}
