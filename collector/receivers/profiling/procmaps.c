/* Parser for the text of /proc/PID/maps. It reads a byte buffer (not a C string) so that
 * a truncated read or hostile bytes cannot walk past the end. */
#include "collector/receivers/profiling/proctab.h"

#include <errno.h>
#include <sys/sysmacros.h>

#include "collector/mem.h"

struct cursor {
    const char *p;
    const char *end; /* end of the current line */
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads hex digits up to 16 of them; fails on none or on overflow. */
static int read_hex(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0, d;

    while (c->p < c->end && (d = hexval(*c->p)) >= 0) {
        if (n == 16)
            return -1;
        v = (v << 4) | (uint64_t)d;
        c->p++;
        n++;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

static int read_dec(struct cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        uint64_t d = (uint64_t)(*c->p - '0');

        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        c->p++;
        n++;
    }
    if (n == 0)
        return -1;
    *out = v;
    return 0;
}

static int expect(struct cursor *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

static int skip_spaces(struct cursor *c)
{
    const char *s = c->p;

    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
    return c->p > s ? 0 : -1;
}

static int read_perms(struct cursor *c, uint32_t *prot)
{
    static const char want[4][2] = {{'r', '-'}, {'w', '-'}, {'x', '-'}, {'p', 's'}};
    uint32_t bits[4] = {OPD_MAP_READ, OPD_MAP_WRITE, OPD_MAP_EXEC, OPD_MAP_PRIVATE};
    int i;

    *prot = 0;
    if (c->end - c->p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        char ch = c->p[i];

        if (ch == want[i][0])
            *prot |= bits[i];
        else if (ch != want[i][1] && !(i == 3 && ch == '-'))
            return -1;
    }
    c->p += 4;
    return 0;
}

/* Parses one line [c->p, c->end); fills m except path, returns the path span. */
static int parse_line(struct cursor *c, struct opd_proc_mapping *m, const char **path,
                      size_t *path_len)
{
    uint64_t maj, min;

    if (read_hex(c, &m->start) || expect(c, '-') || read_hex(c, &m->end) || skip_spaces(c))
        return -1;
    if (m->end <= m->start)
        return -1;
    if (read_perms(c, &m->prot) || skip_spaces(c) || read_hex(c, &m->offset) || skip_spaces(c))
        return -1;
    if (read_hex(c, &maj) || expect(c, ':') || read_hex(c, &min) || skip_spaces(c))
        return -1;
    if (maj > 0xfffff || min > 0xfffff)
        return -1;
    m->dev = makedev((unsigned)maj, (unsigned)min);
    if (read_dec(c, &m->inode))
        return -1;
    if (c->p < c->end && skip_spaces(c))
        return -1;
    *path = c->p;
    *path_len = (size_t)(c->end - c->p);
    return 0;
}

void opd_procmaps_free(struct opd_proc_mapping *maps, size_t n)
{
    size_t i;

    if (!maps)
        return;
    for (i = 0; i < n; i++)
        opd_free((char *)maps[i].path);
    opd_free(maps);
}

int opd_procmaps_parse(const char *text, size_t len, uint32_t need_prot,
                       struct opd_proc_mapping **out)
{
    struct opd_proc_mapping *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = text, *end = text + len;
    int err = -ENOMEM;

    *out = NULL;
    if (!text)
        return 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct cursor c = {p, nl ? nl : end};
        struct opd_proc_mapping m = {0}, *slot;
        const char *path;
        size_t path_len;

        /* A last line without a newline may be cut short by a racing read: ignore it. */
        if (!nl)
            break;
        p = nl + 1;
        if (parse_line(&c, &m, &path, &path_len))
            continue;
        if ((m.prot & need_prot) != need_prot)
            continue;
        if (memchr(path, '\0', path_len))
            continue;
        slot = OPD_VEC_PUSH_SLOT(v, n, cap);
        if (!slot)
            goto out;
        m.path = opd_strndup(path, path_len);
        if (!m.path) {
            n--;
            goto out;
        }
        *slot = m;
    }
    *out = v;
    return (int)n;
out:
    opd_procmaps_free(v, n);
    return err;
}
