/* perf map parser. Lines: "7f3a4c0012a0 1c0 LazyCompile:~main /app/x.js:3" (START and SIZE
 * hex, with or without 0x). Names may contain spaces; they run to the end of the line. */
#include "collector/receivers/profiling/perfmap.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/fileutil.h"

#define PERFMAP_CHUNK (1u << 20)

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char *read_hex(const char *q, const char *le, uint64_t *v)
{
    int digits = 0, d;

    *v = 0;
    if (le - q > 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
        q += 2;
    while (q < le && (d = hexv(*q)) >= 0) {
        if (digits == 16)
            return NULL;
        *v = *v << 4 | (uint64_t)d;
        q++;
        digits++;
    }
    return digits ? q : NULL;
}

int opd_perfmap_add_lines(const char *text, size_t len, struct opd_symtab *out, bool *full)
{
    const char *p = text, *end = text + len;
    int count = 0, err;

    *full = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q;
        uint64_t start, size;

        q = read_hex(p, le, &start);
        p = nl ? nl + 1 : end;
        if (!q || q >= le || *q != ' ')
            continue;
        q = read_hex(q + 1, le, &size);
        if (!q || q >= le || *q != ' ' || size == 0 || start + size < start)
            continue;
        q++;
        while (le > q && (le[-1] == '\r' || le[-1] == ' '))
            le--;
        if (le <= q || memchr(q, '\0', (size_t)(le - q)))
            continue;
        err = opd_symtab_add(out, start, size, q, (size_t)(le - q), 0);
        if (err == -EFBIG) {
            *full = true; /* byte limit: keep what fits */
            break;
        }
        if (err)
            return err;
        count++;
        if (count == 0x7fffffff)
            break;
    }
    return count;
}

int opd_perfmap_parse(const char *text, size_t len, struct opd_symtab *out)
{
    bool full;
    int count = opd_perfmap_add_lines(text, len, out, &full), err;

    if (count < 0)
        return count;
    err = opd_symtab_finish(out);
    return err ? err : count;
}

struct load_state {
    struct opd_symtab *out;
    long total;
};

static int load_batch(const char *text, size_t len, void *arg)
{
    struct load_state *st = arg;
    bool full;
    int n = opd_perfmap_add_lines(text, len, st->out, &full);

    if (n < 0)
        return n;
    st->total += n;
    return full || st->total >= 0x7fffffff ? 1 : 0;
}

int opd_perfmap_load_fd(int fd, struct opd_symtab *out)
{
    struct load_state st = {out, 0};
    int err = opd_prof_read_lines(fd, PERFMAP_CHUNK, load_batch, &st);

    if (!err)
        err = opd_symtab_finish(out);
    return err ? err : (int)st.total;
}
