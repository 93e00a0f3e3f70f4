/* kallsyms: "ffffffffc0a01000 t ext4_fill_super\t[ext4]" per line, sorted once into one
 * array plus one string blob (bcc's ksyms__load layout). */
#include "collector/receivers/profiling/ksyms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/fileutil.h"

#define KALLSYMS_CHUNK (256u << 10)

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

struct ksyms_state {
    struct opd_symtab *out;
    uint32_t mod_aux; /* the module of the previous line: modules come in runs */
    int count;
    bool nonzero;
};

/* Whether the blob string at aux is "[" mod "]". */
static bool same_module(const struct opd_symtab *t, uint32_t aux, const char *mod, size_t n)
{
    const char *b;

    if (!aux)
        return false;
    b = t->strs + (aux - 1);
    return strlen(b) == n + 2 && memcmp(b + 1, mod, n) == 0;
}

static int add_lines(const char *text, size_t len, void *arg)
{
    struct ksyms_state *st = arg;
    const char *p = text, *end = text + len;
    int err;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q = p, *name, *mod = NULL;
        uint64_t addr = 0;
        size_t name_len, mod_len = 0;
        uint32_t aux = 0;
        char type;
        int digits = 0, d;

        p = nl ? nl + 1 : end;
        while (q < le && (d = hexv(*q)) >= 0 && digits < 16) {
            addr = addr << 4 | (uint64_t)d;
            q++;
            digits++;
        }
        if (!digits || q + 3 > le || q[0] != ' ' || q[2] != ' ')
            continue;
        type = q[1];
        if (type != 't' && type != 'T' && type != 'w' && type != 'W')
            continue;
        name = q + 3;
        for (q = name; q < le && *q != '\t' && *q != ' '; q++)
            ;
        name_len = (size_t)(q - name);
        if (!name_len)
            continue;
        while (q < le && (*q == '\t' || *q == ' '))
            q++;
        if (q < le && *q == '[') {
            const char *close = memchr(q, ']', (size_t)(le - q));

            if (close) {
                mod = q + 1;
                mod_len = (size_t)(close - mod);
            }
        }
        if (mod && mod_len) {
            if (mod_len > 64)
                mod_len = 64;
            if (!same_module(st->out, st->mod_aux, mod, mod_len)) {
                char bracketed[66];
                int64_t off;

                bracketed[0] = '[';
                memcpy(bracketed + 1, mod, mod_len);
                bracketed[mod_len + 1] = ']';
                off = opd_symtab_add_string(st->out, bracketed, mod_len + 2);
                if (off < 0)
                    return (int)off;
                st->mod_aux = (uint32_t)off + 1;
            }
            aux = st->mod_aux;
        }
        if (addr)
            st->nonzero = true;
        err = opd_symtab_add(st->out, addr, 0, name, name_len, aux);
        if (err)
            return err;
        st->count++;
    }
    return 0;
}

static int finish(struct ksyms_state *st)
{
    int err;

    if (st->count && !st->nonzero)
        return -EPERM;
    err = opd_symtab_finish(st->out);
    return err ? err : st->count;
}

int opd_ksyms_parse(const char *text, size_t len, struct opd_symtab *out)
{
    struct ksyms_state st = {.out = out};
    int err = add_lines(text, len, &st);

    return err ? err : finish(&st);
}

int opd_ksyms_load(const char *path, struct opd_symtab *out)
{
    struct ksyms_state st = {.out = out};
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    err = opd_prof_read_lines(fd, KALLSYMS_CHUNK, add_lines, &st);
    close(fd);
    return err ? err : finish(&st);
}

const char *opd_ksyms_module(const struct opd_symtab *t, const struct opd_symtab_entry *e)
{
    return e->aux ? t->strs + (e->aux - 1) : "";
}
