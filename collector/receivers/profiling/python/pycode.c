/* Code objects, strings and line tables (see pycode.h). Line table formats:
 * 3.10 Objects/lnotab_notes.txt, 3.11+ InternalDocs/code_objects.md (Objects/locations.md
 * in 3.11/3.12). */
#include "collector/receivers/profiling/python/pycode.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "collector/mem.h"

/* A line outside int32 only comes from a malformed table: report the first line. */
static int32_t clamp_line(int64_t line, int32_t firstline)
{
    return line < INT32_MIN || line > INT32_MAX ? firstline : (int32_t)line;
}

int32_t opd_py_line_310(const uint8_t *lt, size_t n, int32_t firstline, uint32_t idx)
{
    uint64_t want = 2ULL * idx, end = 0;
    int64_t line = firstline; /* 64-bit: a hostile table cannot overflow it */

    for (size_t i = 0; i + 1 < n; i += 2) {
        uint64_t start = end;
        int8_t ldelta = (int8_t)lt[i + 1];

        end += lt[i];
        if (ldelta != -128)
            line += ldelta;
        /* Every pair is a range, also those with no byte delta. */
        if (want >= start && want < end)
            return ldelta == -128 ? firstline : clamp_line(line, firstline);
    }
    return firstline;
}

static int varint(const uint8_t *lt, size_t n, size_t *pos, uint32_t *out)
{
    uint32_t v = 0;
    unsigned shift = 0;

    for (;;) {
        uint8_t b;

        if (*pos >= n || shift > 28)
            return -1;
        b = lt[(*pos)++];
        v |= (uint32_t)(b & 0x3f) << shift;
        shift += 6;
        if (!(b & 0x40))
            break;
    }
    *out = v;
    return 0;
}

static int svarint(const uint8_t *lt, size_t n, size_t *pos, int32_t *out)
{
    uint32_t v;

    if (varint(lt, n, pos, &v))
        return -1;
    *out = (v & 1) ? -(int32_t)(v >> 1) : (int32_t)(v >> 1);
    return 0;
}

int32_t opd_py_line_311(const uint8_t *lt, size_t n, int32_t firstline, uint32_t idx)
{
    uint64_t unit = 0;
    int64_t line = firstline, entry_line; /* 64-bit: a hostile table cannot overflow it */
    size_t pos = 0;

    while (pos < n) {
        uint8_t first = lt[pos++];
        unsigned code = (first >> 3) & 15;
        uint64_t len = (first & 7) + 1;

        entry_line = line;
        int32_t delta = 0;
        uint32_t skip;
        int has_line = 1;

        if (!(first & 0x80))
            return firstline; /* not at an entry start: malformed */
        if (code == 15) {
            has_line = 0;
        } else if (code == 14) {
            if (svarint(lt, n, &pos, &delta) || varint(lt, n, &pos, &skip) ||
                varint(lt, n, &pos, &skip) || varint(lt, n, &pos, &skip))
                return firstline;
            line += delta;
            entry_line = line;
        } else if (code == 13) {
            if (svarint(lt, n, &pos, &delta))
                return firstline;
            line += delta;
            entry_line = line;
        } else if (code >= 10) {
            line += (int64_t)code - 10;
            entry_line = line;
            pos += 2;
        } else {
            pos += 1; /* short form: same line, one column byte */
        }
        if (idx >= unit && idx < unit + len)
            return has_line ? clamp_line(entry_line, firstline) : firstline;
        unit += len;
    }
    return firstline;
}

int32_t opd_py_code_line(const struct opd_py_layout *l, const struct opd_py_code *c, uint32_t idx)
{
    if (l->linetable == OPD_PY_LT_310)
        return opd_py_line_310(c->linetable, c->lt_len, c->firstline, idx);
    return opd_py_line_311(c->linetable, c->lt_len, c->firstline, idx);
}

/* Appends code point cp as UTF-8 if it fits (keeping room for the NUL). */
static size_t put_utf8(char *out, size_t pos, size_t cap, uint32_t cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else if (cp < 0x110000) {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    } else {
        b[0] = '?';
        n = 1;
    }
    if (pos + n >= cap)
        return pos;
    memcpy(out + pos, b, n);
    return pos + n;
}

int opd_py_read_str(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t addr,
                    char *out, size_t out_len)
{
    uint8_t hdr[0x50];
    uint8_t data[OPD_PY_STR_MAX * 4];
    int64_t length;
    uint32_t state, kind;
    size_t nchars, pos = 0;
    int err;

    if (!out_len)
        return -EINVAL;
    out[0] = '\0';
    if (!addr || l->str_compact_data > sizeof(hdr))
        return -EINVAL;
    err = rd(arg, addr, hdr, l->str_compact_data);
    if (err)
        return err;
    memcpy(&length, hdr + l->str_length, sizeof(length));
    memcpy(&state, hdr + l->str_state, sizeof(state));
    kind = (state >> 2) & 7;
    if (length < 0 || length > (1 << 30) || !(state & 0x20) ||
        (kind != 1 && kind != 2 && kind != 4))
        return -EINVAL; /* not a compact str */
    nchars = (size_t)length < OPD_PY_STR_MAX - 1 ? (size_t)length : OPD_PY_STR_MAX - 1;
    if (state & 0x40) {
        if (kind != 1)
            return -EINVAL;
        err = nchars ? rd(arg, addr + l->str_ascii_data, data, nchars) : 0;
    } else {
        err = nchars ? rd(arg, addr + l->str_compact_data, data, nchars * kind) : 0;
    }
    if (err)
        return err;
    for (size_t i = 0; i < nchars; i++) {
        uint32_t cp;

        if (kind == 1) {
            cp = data[i];
        } else if (kind == 2) {
            uint16_t v;

            memcpy(&v, data + 2 * i, 2);
            cp = v;
        } else {
            memcpy(&cp, data + 4 * i, 4);
        }
        if (cp == 0)
            cp = '?';
        pos = put_utf8(out, pos, out_len, cp);
    }
    out[pos] = '\0';
    return 0;
}

int opd_py_code_read(const struct opd_py_layout *l, opd_py_read_fn rd, void *arg, uint64_t addr,
                     uint64_t code_type, struct opd_py_code *out)
{
    uint8_t hdr[0xa0];
    uint64_t type, filename, name, qualname = 0, linetable;
    int64_t lt_size;
    int32_t firstline;
    int err;

    memset(out, 0, sizeof(*out));
    if (!addr)
        return -EINVAL;
    err = rd(arg, addr, hdr, sizeof(hdr));
    if (err)
        return err;
    memcpy(&type, hdr + 8, 8);
    if (type != code_type)
        return -EINVAL;
    memcpy(&firstline, hdr + l->code_firstlineno, 4);
    memcpy(&filename, hdr + l->code_filename, 8);
    memcpy(&name, hdr + l->code_name, 8);
    if (l->code_qualname != OPD_PYL_NONE)
        memcpy(&qualname, hdr + l->code_qualname, 8);
    memcpy(&linetable, hdr + l->code_linetable, 8);
    if (firstline < 0)
        return -EINVAL;
    out->firstline = firstline;
    err = opd_py_read_str(l, rd, arg, name, out->name, sizeof(out->name));
    if (err)
        return err;
    err = opd_py_read_str(l, rd, arg, filename, out->file, sizeof(out->file));
    if (err)
        return err;
    if (!qualname || opd_py_read_str(l, rd, arg, qualname, out->qualname, sizeof(out->qualname)))
        memcpy(out->qualname, out->name, sizeof(out->name));
    /* The line table is a bytes object: size at bytes_size, data at bytes_data. */
    if (!linetable || rd(arg, linetable + l->bytes_size, &lt_size, sizeof(lt_size)) ||
        lt_size < 0 || lt_size > OPD_PY_LINETABLE_MAX)
        return 0; /* names without lines: every frame gets the first line */
    if (lt_size == 0)
        return 0;
    out->linetable = opd_malloc((size_t)lt_size);
    if (!out->linetable)
        return -ENOMEM;
    err = rd(arg, linetable + l->bytes_data, out->linetable, (size_t)lt_size);
    if (err) {
        opd_py_code_fini(out);
        return 0;
    }
    out->lt_len = (size_t)lt_size;
    return 0;
}

void opd_py_code_fini(struct opd_py_code *c)
{
    if (!c)
        return;
    opd_free(c->linetable);
    c->linetable = NULL;
    c->lt_len = 0;
}
