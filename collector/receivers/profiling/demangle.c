/* Demangling through libiberty's callback interfaces: they build the result through our
 * callback instead of libiberty's xmalloc, which would abort the daemon on allocation failure. */
#include "collector/receivers/profiling/demangle.h"

#include <errno.h>
#include <libiberty/demangle.h>
#include <string.h>

#include "collector/mem.h"

#define MAX_MANGLED 4096

struct sink {
    char *buf;
    size_t len, cap;
    int failed;
};

static void sink_append(const char *s, size_t n, void *opaque)
{
    struct sink *k = opaque;

    if (k->failed)
        return;
    if (opd_vec_reserve((void **)&k->buf, &k->cap, k->len + n + 1, 1)) {
        k->failed = 1;
        return;
    }
    memcpy(k->buf + k->len, s, n);
    k->len += n;
    k->buf[k->len] = '\0';
}

/* Rust legacy symbols are Itanium-shaped with a final "17h<16 hex>E" path component. */
static int is_rust_legacy(const char *s, size_t n)
{
    size_t i;

    if (n < 4 + 20 || strncmp(s, "_ZN", 3) != 0 || s[n - 1] != 'E')
        return 0;
    if (memcmp(s + n - 20, "17h", 3) != 0)
        return 0;
    for (i = n - 17; i < n - 1; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

char *opd_demangle(const char *name)
{
    struct sink k = {0};
    size_t n;
    int ok;

    if (!name) {
        errno = EINVAL;
        return NULL;
    }
    n = strnlen(name, MAX_MANGLED + 1);
    if (n > MAX_MANGLED || n < 3 || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R')) {
        errno = EINVAL;
        return NULL;
    }
    if (name[1] == 'R' || is_rust_legacy(name, n))
        ok = rust_demangle_callback(name, DMGL_PARAMS | DMGL_ANSI, sink_append, &k);
    else
        ok = cplus_demangle_v3_callback(name, DMGL_PARAMS | DMGL_ANSI, sink_append, &k);
    if (k.failed) {
        opd_free(k.buf);
        errno = ENOMEM;
        return NULL;
    }
    if (!ok || !k.buf) {
        opd_free(k.buf);
        errno = EINVAL;
        return NULL;
    }
    return k.buf;
}
