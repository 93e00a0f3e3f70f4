/* Collects config errors with their positions and prints them in one fixed form. */
#include "config/errors.h"

#include <errno.h>
#include <stdarg.h>

#include "collector/mem.h"

void opd_cfg_errors_init(struct opd_cfg_errors *e)
{
    memset(e, 0, sizeof(*e));
}

void opd_cfg_errors_fini(struct opd_cfg_errors *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        opd_free(e->v[i].file);
        opd_free(e->v[i].keypath);
        opd_free(e->v[i].message);
    }
    opd_free(e->v);
    memset(e, 0, sizeof(*e));
}

int opd_cfg_errors_add(struct opd_cfg_errors *e, const struct opd_cfg_pos *pos, const char *keypath,
                       const char *fmt, ...)
{
    struct opd_cfg_error err = {0};
    struct opd_cfg_error *slot;
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        len = 0;
    err.message = opd_malloc((size_t)len + 1);
    if (!err.message)
        goto oom;
    va_start(ap, fmt);
    vsnprintf(err.message, (size_t)len + 1, fmt, ap);
    va_end(ap);
    err.keypath = opd_strdup(keypath ? keypath : "");
    if (!err.keypath)
        goto oom;
    if (pos && pos->file) {
        err.file = opd_strdup(pos->file);
        if (!err.file)
            goto oom;
    }
    if (pos) {
        err.line = pos->line;
        err.col = pos->col;
    }
    slot = OPD_VEC_PUSH_SLOT(e->v, e->n, e->cap);
    if (!slot)
        goto oom;
    *slot = err;
    return 0;
oom:
    opd_free(err.message);
    opd_free(err.keypath);
    opd_free(err.file);
    e->oom = true;
    return -ENOMEM;
}

static size_t file_rank(const struct opd_cfg_error *err, char *const *files, size_t n_files)
{
    for (size_t i = 0; err->file && i < n_files; i++)
        if (strcmp(err->file, files[i]) == 0)
            return i;
    return n_files;
}

static int before(const struct opd_cfg_error *a, const struct opd_cfg_error *b, char *const *files,
                  size_t n_files)
{
    size_t fa = file_rank(a, files, n_files), fb = file_rank(b, files, n_files);

    if (fa != fb)
        return fa < fb;
    if (a->line != b->line)
        return a->line < b->line;
    return a->col < b->col;
}

void opd_cfg_errors_sort(struct opd_cfg_errors *e, size_t from, char *const *files, size_t n_files)
{
    /* Insertion sort: stable, and error lists are short. */
    for (size_t i = from + 1; i < e->n; i++) {
        struct opd_cfg_error cur = e->v[i];
        size_t j = i;

        while (j > from && before(&cur, &e->v[j - 1], files, n_files)) {
            e->v[j] = e->v[j - 1];
            j--;
        }
        e->v[j] = cur;
    }
}

size_t opd_cfg_errors_count(const struct opd_cfg_errors *e)
{
    return e->n + (e->oom ? 1 : 0);
}

const char *opd_cfg_error_format(const struct opd_cfg_error *err, char *buf, size_t len)
{
    const char *file = err->file ? err->file : "<config>";
    int off;

    if (err->line > 0)
        off = snprintf(buf, len, "%s:%d:%d: ", file, err->line, err->col);
    else
        off = snprintf(buf, len, "%s: ", file);
    if (off < 0 || (size_t)off >= len)
        return buf;
    if (err->keypath && err->keypath[0])
        snprintf(buf + off, len - (size_t)off, "%s: %s", err->keypath, err->message);
    else
        snprintf(buf + off, len - (size_t)off, "%s", err->message);
    return buf;
}

size_t opd_cfg_errors_print(const struct opd_cfg_errors *e, FILE *out)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct opd_cfg_error *err = &e->v[i];
        const char *file = err->file ? err->file : "<config>";

        /* Written piecewise so that long messages are never truncated. */
        if (err->line > 0)
            fprintf(out, "%s:%d:%d: ", file, err->line, err->col);
        else
            fprintf(out, "%s: ", file);
        if (err->keypath[0])
            fprintf(out, "%s: ", err->keypath);
        fprintf(out, "%s\n", err->message);
    }
    if (e->oom)
        fprintf(out, "otelprofd: out of memory while loading the configuration\n");
    return opd_cfg_errors_count(e);
}
