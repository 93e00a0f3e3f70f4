/* ${env:VAR:-default} expansion. Variables are read with getenv() at load time. */
#include "config/env.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/mem.h"

/* Defaults may themselves hold ${...}; this bounds that recursion. */
#define ENV_MAX_NESTING 8

struct buf {
    char *s;
    size_t n;
    size_t cap;
};

static int buf_put(struct buf *b, const char *s, size_t len)
{
    if (opd_vec_reserve((void **)&b->s, &b->cap, b->n + len + 1, 1))
        return -ENOMEM;
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
    return 0;
}

static int valid_name(const char *s, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* Returns the index of the '}' closing the ${ that starts at s[0..1], or -1. */
static long find_close(const char *s)
{
    int depth = 0;

    for (long i = 0; s[i]; i++) {
        if (s[i] == '$' && s[i + 1] == '{') {
            depth++;
            i++;
        } else if (s[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return -1;
}

static int expand(const char *in, size_t inlen, struct buf *out, int depth, char *err,
                  size_t errlen);

/* Expands the reference body (between "${" and "}") into out. */
static int expand_ref(const char *body, size_t len, struct buf *out, int depth, char *err,
                      size_t errlen)
{
    const char *name = body;
    const char *colon;
    const char *val;
    char *vname = NULL;
    size_t nlen;
    int rc = 0;

    const char *end = body + len;

    colon = memchr(body, ':', len);
    if (colon && !(colon + 1 < end && colon[1] == '-')) {
        size_t plen = (size_t)(colon - body);

        /* "${env:VAR}" names the provider; "${VAR:-x}" is a bare variable with a default. */
        if (plen == 3 && memcmp(body, "env", 3) == 0) {
            name = colon + 1;
            colon = memchr(name, ':', (size_t)(end - name));
        } else if (plen > 0 && valid_name(body, plen)) {
            snprintf(err, errlen, "unsupported config provider \"%.*s\" (only env is supported)",
                     (int)plen, body);
            return -EINVAL;
        }
    }
    nlen = colon ? (size_t)(colon - name) : (size_t)(end - name);
    if (nlen == 0) {
        snprintf(err, errlen, "empty variable name in \"${%.*s}\"", (int)len, body);
        return -EINVAL;
    }
    if (!valid_name(name, nlen)) {
        snprintf(err, errlen, "invalid environment variable name \"%.*s\"", (int)nlen, name);
        return -EINVAL;
    }
    if (colon && (colon + 1 >= end || colon[1] != '-')) {
        snprintf(err, errlen,
                 "invalid default syntax in \"${%.*s}\": expected \":-\" after the variable "
                 "name",
                 (int)len, body);
        return -EINVAL;
    }
    vname = opd_strndup(name, nlen);
    if (!vname)
        return -ENOMEM;
    val = getenv(vname);
    if (colon && (!val || !val[0])) {
        const char *def = colon + 2;

        rc = expand(def, (size_t)(end - def), out, depth + 1, err, errlen);
    } else if (val) {
        rc = buf_put(out, val, strlen(val));
    }
    opd_free(vname);
    return rc;
}

static int expand(const char *in, size_t inlen, struct buf *out, int depth, char *err,
                  size_t errlen)
{
    size_t i = 0;
    int rc;

    if (depth > ENV_MAX_NESTING) {
        snprintf(err, errlen, "${...} nested deeper than %d levels", ENV_MAX_NESTING);
        return -EINVAL;
    }
    /* An empty result must still be a string. */
    if ((rc = buf_put(out, "", 0)))
        return rc;
    while (i < inlen) {
        const char *d = memchr(in + i, '$', inlen - i);
        size_t lit = d ? (size_t)(d - (in + i)) : inlen - i;
        long close;

        if ((rc = buf_put(out, in + i, lit)))
            return rc;
        i += lit;
        if (!d)
            break;
        if (i + 1 < inlen && in[i + 1] == '$') {
            if ((rc = buf_put(out, "$", 1)))
                return rc;
            i += 2;
            continue;
        }
        if (i + 1 >= inlen || in[i + 1] != '{') {
            if ((rc = buf_put(out, "$", 1)))
                return rc;
            i++;
            continue;
        }
        close = find_close(in + i);
        if (close < 0 || (size_t)close >= inlen - i) {
            snprintf(err, errlen, "unterminated \"${\" in \"%.*s\"", (int)(inlen - i), in + i);
            return -EINVAL;
        }
        rc = expand_ref(in + i + 2, (size_t)close - 2, out, depth, err, errlen);
        if (rc)
            return rc;
        i += (size_t)close + 1;
    }
    return 0;
}

int opd_env_expand(const char *in, char **out, char *err, size_t errlen)
{
    struct buf b = {0};
    int rc;

    if (errlen)
        err[0] = '\0';
    rc = expand(in, strlen(in), &b, 0, err, errlen);
    if (rc) {
        opd_free(b.s);
        *out = NULL;
        return rc;
    }
    *out = b.s;
    return 0;
}
