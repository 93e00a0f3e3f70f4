#include "recorded.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/mem.h"
#include "otlp/profiles.h"

/* One request line may be large, but a line past this is not a recording of ours. */
#define MAX_LINE (512u << 20)

/* Hands the request b decoded from where (b NULL: it did not decode, err says why) to fn.
 * Returns 0 to read on, fn's non-zero value, or -ENOMEM. */
static int deliver(struct opd_batch *b, const char *where, const char *err, opd_recorded_fn fn,
                   void *arg, struct opd_recorded_stats *st)
{
    int rc;

    if (!b) {
        if (errno == ENOMEM)
            return -ENOMEM;
        fprintf(stderr, "otelprofd: %s: not an OTLP profiles request: %s\n", where,
                err[0] ? err : strerror(errno));
        st->bad_lines++;
        return 0;
    }
    st->requests++;
    rc = fn(b, arg);
    opd_batch_unref(b);
    return rc;
}

/* JSON lines: one OTLP/JSON request per line. */
static int read_json_lines(FILE *f, const char *name, opd_recorded_fn fn, void *arg,
                           struct opd_recorded_stats *st)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;

    while ((n = getline(&line, &cap, f)) >= 0) {
        char err[256], where[PATH_MAX + 32];

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0)
            continue;
        if ((size_t)n > MAX_LINE) {
            fprintf(stderr, "otelprofd: %s:%zu: line too long, skipped\n", name, lineno);
            st->bad_lines++;
            continue;
        }
        err[0] = '\0';
        snprintf(where, sizeof(where), "%s:%zu", name, lineno);
        rc = deliver(opd_json_decode(line, (size_t)n, err, sizeof(err)), where, err, fn, arg, st);
        if (rc)
            break;
    }
    free(line); /* getline's buffer comes from libc */
    return rc;
}

/* Reads len bytes of f into *buf (of *cap bytes, grown as the bytes arrive, so a length
 * past the end of a short file costs no more memory than the file). Returns 0, -ENODATA
 * when f ends first, -ENOMEM. */
static int read_body(FILE *f, uint8_t **buf, size_t *cap, size_t len)
{
    size_t got = 0;

    while (got < len) {
        size_t step = len - got < 65536 ? len - got : 65536, n;

        if (got + step > *cap) {
            size_t ncap = *cap * 2 > got + step ? *cap * 2 : got + step;
            uint8_t *nb = opd_realloc(*buf, ncap < len ? ncap : len);

            if (!nb)
                return -ENOMEM;
            *buf = nb;
            *cap = ncap < len ? ncap : len;
        }
        n = fread(*buf + got, 1, step, f);
        got += n;
        if (n < step)
            return -ENODATA;
    }
    return 0;
}

/* Protobuf requests, each behind a 4-byte big-endian length (the Collector's file exporter
 * format: proto, as ours writes it). A request that does not decode is skipped; a length
 * past the end of the file (a torn last write) or over MAX_LINE ends the file. */
static int read_proto_frames(FILE *f, const char *name, opd_recorded_fn fn, void *arg,
                             struct opd_recorded_stats *st)
{
    static const uint8_t empty[1];
    uint8_t hdr[4], *buf = NULL;
    size_t n_req = 0, cap = 0;
    int rc = 0;

    for (;;) {
        size_t got = fread(hdr, 1, sizeof(hdr), f), len;
        char err[256], where[PATH_MAX + 32];

        if (got == 0)
            break;
        n_req++;
        len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        if (got < sizeof(hdr) || len > MAX_LINE) {
            fprintf(stderr, "otelprofd: %s: request %zu: %s, rest of the file skipped\n", name,
                    n_req, got < sizeof(hdr) ? "truncated length" : "length too large");
            st->bad_lines++;
            break;
        }
        rc = read_body(f, &buf, &cap, len);
        if (rc == -ENOMEM)
            break;
        if (rc) {
            fprintf(stderr, "otelprofd: %s: request %zu: truncated, rest of the file skipped\n",
                    name, n_req);
            st->bad_lines++;
            rc = 0;
            break;
        }
        err[0] = '\0';
        snprintf(where, sizeof(where), "%s: request %zu", name, n_req);
        rc = deliver(opd_proto_decode(len ? buf : empty, len, err, sizeof(err)), where, err, fn,
                     arg, st);
        if (rc)
            break;
    }
    opd_free(buf);
    return rc;
}

int opd_recorded_read_stream(FILE *f, const char *name, opd_recorded_fn fn, void *arg,
                             struct opd_recorded_stats *st)
{
    int c = getc(f), rc;

    if (c == EOF)
        return ferror(f) ? -EIO : 0;
    ungetc(c, f);
    /* JSON lines start with '{'; a frame with the top byte of its length, which is 0 below
     * 16 MiB and never '{' (0x7b) within MAX_LINE. */
    if (c == '{')
        rc = read_json_lines(f, name, fn, arg, st);
    else
        rc = read_proto_frames(f, name, fn, arg, st);
    if (!rc && ferror(f)) {
        rc = -EIO;
        fprintf(stderr, "otelprofd: %s: read error\n", name);
    }
    return rc;
}

static int read_file(const char *path, opd_recorded_fn fn, void *arg, struct opd_recorded_stats *st)
{
    FILE *f = fopen(path, "r");
    int rc;

    if (!f) {
        rc = -errno;
        fprintf(stderr, "otelprofd: %s: %s\n", path, strerror(errno));
        return rc;
    }
    st->files++;
    rc = opd_recorded_read_stream(f, path, fn, arg, st);
    fclose(f);
    return rc;
}

static bool recorded_name(const char *name)
{
    static const char *const ext[] = {".jsonl", ".json", ".pb", ".binpb"};
    size_t n = strlen(name);

    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        size_t m = strlen(ext[i]);

        if (n > m && strcmp(name + n - m, ext[i]) == 0)
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_dir(const char *path, opd_recorded_fn fn, void *arg, struct opd_recorded_stats *st)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d) {
        rc = -errno;
        fprintf(stderr, "otelprofd: %s: %s\n", path, strerror(errno));
        return rc;
    }
    while ((e = readdir(d))) {
        char **slot;
        if (e->d_name[0] == '.' || !recorded_name(e->d_name))
            continue;
        slot = OPD_VEC_PUSH_SLOT(names, n, cap);
        if (!slot || !(*slot = opd_malloc(strlen(path) + strlen(e->d_name) + 2))) {
            if (slot)
                n--;
            rc = -ENOMEM;
            break;
        }
        sprintf(*slot, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (!rc)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n && !rc; i++)
        rc = read_file(names[i], fn, arg, st);
    for (size_t i = 0; i < n; i++)
        opd_free(names[i]);
    opd_free(names);
    return rc;
}

int opd_recorded_read(const char *path, opd_recorded_fn fn, void *arg,
                      struct opd_recorded_stats *stats)
{
    struct stat sb;

    memset(stats, 0, sizeof(*stats));
    if (stat(path, &sb)) {
        int rc = -errno;
        fprintf(stderr, "otelprofd: %s: %s\n", path, strerror(errno));
        return rc;
    }
    return S_ISDIR(sb.st_mode) ? read_dir(path, fn, arg, stats) : read_file(path, fn, arg, stats);
}

int opd_filter_parse(const char *arg, struct opd_filter *f)
{
    const char *eq = strchr(arg, '=');

    memset(f, 0, sizeof(*f));
    if (!eq || eq == arg)
        return -EINVAL;
    f->key = opd_strndup(arg, (size_t)(eq - arg));
    f->value = opd_strdup(eq + 1);
    if (!f->key || !f->value) {
        opd_filter_fini(f);
        return -ENOMEM;
    }
    return 0;
}

void opd_filter_fini(struct opd_filter *f)
{
    opd_free(f->key);
    opd_free(f->value);
    memset(f, 0, sizeof(*f));
}

static bool value_is(const struct opd_value *v, const char *want)
{
    char buf[32];

    switch (v->type) {
    case OPD_VAL_STR:
        return strcmp(v->u.str ? v->u.str : "", want) == 0;
    case OPD_VAL_INT:
        snprintf(buf, sizeof(buf), "%" PRId64, v->u.i);
        return strcmp(buf, want) == 0;
    case OPD_VAL_BOOL:
        return strcmp(v->u.b ? "true" : "false", want) == 0;
    default:
        return false;
    }
}

bool opd_filter_match(const struct opd_filter *f, size_t n, const struct opd_resource *r)
{
    for (size_t i = 0; i < n; i++) {
        const struct opd_value *v = opd_attrs_get(&r->attrs, f[i].key);
        if (!v || !value_is(v, f[i].value))
            return false;
    }
    return true;
}

int opd_filters_add(struct opd_filters *fs, const char *cmd, const char *arg)
{
    struct opd_filter *f = OPD_VEC_PUSH_SLOT(fs->v, fs->n, fs->cap);
    int err;

    if (!f)
        return -ENOMEM;
    err = opd_filter_parse(arg, f);
    if (err) {
        fs->n--;
        if (err == -EINVAL)
            fprintf(stderr, "otelprofd %s: --filter '%s': want KEY=VALUE\n", cmd, arg);
    }
    return err;
}

void opd_filters_fini(struct opd_filters *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        opd_filter_fini(&fs->v[i]);
    opd_free(fs->v);
    memset(fs, 0, sizeof(*fs));
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    /* Final avalanche (MurmurHash3 fmix64): the table indexes by the low bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int grow(struct opd_keyidx *ix)
{
    size_t ns = ix->n_slots ? ix->n_slots * 2 : 64;
    int32_t *slots = opd_malloc(ns * sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    memset(slots, 0xff, ns * sizeof(*slots));
    for (size_t i = 0; i < ix->n; i++) {
        size_t h = (size_t)ix->hashes[i] & (ns - 1);
        while (slots[h] >= 0)
            h = (h + 1) & (ns - 1);
        slots[h] = (int32_t)i;
    }
    opd_free(ix->slots);
    ix->slots = slots;
    ix->n_slots = ns;
    return 0;
}

long opd_keyidx_get(struct opd_keyidx *ix, const char *key, bool *added)
{
    uint64_t hash = hash_str(key);
    size_t h;
    char *copy;

    if (added)
        *added = false;
    if ((ix->n + 1) * 2 > ix->n_slots && grow(ix))
        return -ENOMEM;
    if (ix->n >= INT32_MAX)
        return -ENOMEM;
    h = (size_t)hash & (ix->n_slots - 1);
    while (ix->slots[h] >= 0) {
        int32_t k = ix->slots[h];
        if (ix->hashes[k] == hash && strcmp(ix->keys[k], key) == 0)
            return k;
        h = (h + 1) & (ix->n_slots - 1);
    }
    if (opd_vec_reserve((void **)&ix->keys, &ix->cap, ix->n + 1, sizeof(*ix->keys)) ||
        opd_vec_reserve((void **)&ix->hashes, &ix->hcap, ix->n + 1, sizeof(*ix->hashes)))
        return -ENOMEM;
    copy = opd_strdup(key);
    if (!copy)
        return -ENOMEM;
    ix->keys[ix->n] = copy;
    ix->hashes[ix->n] = hash;
    ix->slots[h] = (int32_t)ix->n;
    if (added)
        *added = true;
    return (long)ix->n++;
}

void opd_keyidx_fini(struct opd_keyidx *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        opd_free(ix->keys[i]);
    opd_free(ix->keys);
    opd_free(ix->hashes);
    opd_free(ix->slots);
    memset(ix, 0, sizeof(*ix));
}
