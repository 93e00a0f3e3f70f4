/* kallsyms: "ffffffffc0a01000 t ext4_fill_super\t[ext4]" per line, sorted once into one
 * array plus one string blob (bcc's ksyms__load layout). */
#include "collector/receivers/profiling/ksyms.h"

#include <errno.h>
#include <string.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/fileutil.h"

#define MAX_KALLSYMS_BYTES (256u << 20)

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

int opd_ksyms_parse(const char *text, size_t len, struct opd_symtab *out)
{
    const char *p = text, *end = text + len;
    const char *last_mod = NULL;
    size_t last_mod_len = 0;
    uint32_t last_mod_aux = 0;
    int count = 0, nonzero = 0, err;

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
            if (!last_mod || last_mod_len != mod_len || memcmp(last_mod, mod, mod_len) != 0) {
                char bracketed[66];
                int64_t off;

                if (mod_len > 64)
                    mod_len = 64;
                bracketed[0] = '[';
                memcpy(bracketed + 1, mod, mod_len);
                bracketed[mod_len + 1] = ']';
                off = opd_symtab_add_string(out, bracketed, mod_len + 2);
                if (off < 0)
                    return (int)off;
                last_mod = mod;
                last_mod_len = mod_len;
                last_mod_aux = (uint32_t)off + 1;
            }
            aux = last_mod_aux;
        }
        if (addr)
            nonzero = 1;
        err = opd_symtab_add(out, addr, 0, name, name_len, aux);
        if (err)
            return err;
        count++;
    }
    if (count && !nonzero)
        return -EPERM;
    err = opd_symtab_finish(out);
    return err ? err : count;
}

int opd_ksyms_load(const char *path, struct opd_symtab *out)
{
    char *buf;
    size_t len;
    int err = opd_prof_read_file(path, MAX_KALLSYMS_BYTES, &buf, &len);

    if (err)
        return err;
    err = opd_ksyms_parse(buf, len, out);
    opd_free(buf);
    return err;
}

const char *opd_ksyms_module(const struct opd_symtab *t, const struct opd_symtab_entry *e)
{
    return e->aux ? t->strs + (e->aux - 1) : "";
}
