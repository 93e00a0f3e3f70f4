/* Allocation wrappers. Every allocation in otelprofd goes through these so that
 * unit tests can fail the N-th allocation (opd_mem_fail_after) and check that each
 * module returns -ENOMEM cleanly without leaking. */
#ifndef OPD_MEM_H
#define OPD_MEM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Countdown of allocations before one fails; negative means never. Test builds only. */
extern long opd_mem_fail_countdown;

static inline int opd_mem_should_fail(void)
{
    if (opd_mem_fail_countdown < 0)
        return 0;
    if (opd_mem_fail_countdown == 0)
        return 1;
    opd_mem_fail_countdown--;
    return 0;
}

static inline void *opd_malloc(size_t n)
{
    return opd_mem_should_fail() ? NULL : malloc(n ? n : 1);
}

static inline void *opd_calloc(size_t n, size_t sz)
{
    return opd_mem_should_fail() ? NULL : calloc(n ? n : 1, sz ? sz : 1);
}

static inline void *opd_realloc(void *p, size_t n)
{
    return opd_mem_should_fail() ? NULL : realloc(p, n ? n : 1);
}

static inline void opd_free(void *p)
{
    free(p);
}

static inline char *opd_strdup(const char *s)
{
    size_t n;
    char *d;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    d = opd_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static inline char *opd_strndup(const char *s, size_t len)
{
    char *d = opd_malloc(len + 1);

    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* Grows *vec (elements of size elem) so that it holds at least need elements.
 * Doubles the capacity; returns 0 or -ENOMEM (then *vec and *cap are unchanged). */
int opd_vec_reserve(void **vec, size_t *cap, size_t need, size_t elem);

#define OPD_VEC_PUSH_SLOT(vec, n, cap)                                                             \
    (opd_vec_reserve((void **)&(vec), &(cap), (n) + 1, sizeof(*(vec))) ? NULL : &(vec)[(n)++])

#endif
