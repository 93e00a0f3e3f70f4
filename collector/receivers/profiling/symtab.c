/* Sorted symbol tables with a shared string blob (the ksyms__load layout of bcc). */
#include "collector/receivers/profiling/symtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/demangle.h"

static char empty_name[] = "";

void opd_symtab_init(struct opd_symtab *t)
{
    memset(t, 0, sizeof(*t));
}

void opd_symtab_fini(struct opd_symtab *t)
{
    size_t i;

    if (!t)
        return;
    if (t->demangled) {
        for (i = 0; i < t->n; i++)
            if (t->demangled[i] != empty_name)
                opd_free(t->demangled[i]);
        opd_free(t->demangled);
    }
    opd_free(t->v);
    opd_free(t->strs);
    memset(t, 0, sizeof(*t));
}

int64_t opd_symtab_add_string(struct opd_symtab *t, const char *s, size_t len)
{
    size_t off = t->strs_len;

    if (off + len + 1 > UINT32_MAX)
        return -E2BIG;
    if (opd_vec_reserve((void **)&t->strs, &t->strs_cap, off + len + 1, 1))
        return -ENOMEM;
    memcpy(t->strs + off, s, len);
    t->strs[off + len] = '\0';
    t->strs_len += len + 1;
    return (int64_t)off;
}

int opd_symtab_add(struct opd_symtab *t, uint64_t start, uint64_t size, const char *name,
                   size_t name_len, uint32_t aux)
{
    struct opd_symtab_entry *e;
    int64_t off;

    if (t->n >= UINT32_MAX)
        return -E2BIG;
    if (t->limit && t->cap * sizeof(*t->v) + t->strs_cap >= t->limit)
        return -EFBIG;
    off = opd_symtab_add_string(t, name, name_len);
    if (off < 0)
        return (int)off;
    e = OPD_VEC_PUSH_SLOT(t->v, t->n, t->cap);
    if (!e) {
        t->strs_len = (size_t)off; /* drop the orphan name */
        return -ENOMEM;
    }
    e->start = start;
    e->size = size;
    e->name = (uint32_t)off;
    e->aux = aux;
    t->sorted = false;
    return 0;
}

/* Orders by start, then by insertion (the name offset grows with insertion order). */
static int cmp_entry(const void *a, const void *b)
{
    const struct opd_symtab_entry *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name;
}

static size_t underscores(const char *s)
{
    size_t n = 0;

    while (s[n] == '_')
        n++;
    return n;
}

/* Whether b should replace a, both at one address. */
static bool better(const struct opd_symtab *t, const struct opd_symtab_entry *a,
                   const struct opd_symtab_entry *b)
{
    const char *na, *nb;
    size_t ua, ub;

    if (!a->size != !b->size)
        return b->size != 0;
    if (!t->elf_rank)
        return true;
    if (a->aux != b->aux)
        return b->aux > a->aux;
    na = t->strs + a->name;
    nb = t->strs + b->name;
    ua = underscores(na);
    ub = underscores(nb);
    if (ua != ub)
        return ub < ua;
    return strlen(nb) < strlen(na);
}

int opd_symtab_finish(struct opd_symtab *t)
{
    size_t i, o = 0;

    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
    for (i = 0; i < t->n; i++) {
        if (o && t->v[o - 1].start == t->v[i].start) {
            if (better(t, &t->v[o - 1], &t->v[i]))
                t->v[o - 1] = t->v[i];
            continue;
        }
        t->v[o++] = t->v[i];
    }
    t->n = o;
    if (t->cap > t->n) {
        void *nv = opd_realloc(t->v, (t->n ? t->n : 1) * sizeof(*t->v));

        if (nv) {
            t->v = nv;
            t->cap = t->n ? t->n : 1;
        }
    }
    if (t->strs_cap > t->strs_len) {
        void *ns = opd_realloc(t->strs, t->strs_len ? t->strs_len : 1);

        if (ns) {
            t->strs = ns;
            t->strs_cap = t->strs_len ? t->strs_len : 1;
        }
    }
    t->sorted = true;
    return 0;
}

const struct opd_symtab_entry *opd_symtab_lookup(const struct opd_symtab *t, uint64_t addr,
                                                 uint64_t max_gap)
{
    size_t lo = 0, hi = t->n, k;

    if (!t->sorted || !t->n)
        return NULL;
    /* First entry with start > addr. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (t->v[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    /* A small symbol may sit between addr and the big one that covers it: look back a bit. */
    for (k = lo; k > 0 && lo - k < 8; k--) {
        const struct opd_symtab_entry *e = &t->v[k - 1];

        if (e->size) {
            if (addr - e->start < e->size)
                return e;
        } else if (k == lo && addr - e->start < max_gap) {
            return e;
        }
    }
    return NULL;
}

const char *opd_symtab_demangled(struct opd_symtab *t, const struct opd_symtab_entry *e)
{
    size_t i = (size_t)(e - t->v);
    char *d;

    if (i >= t->n)
        return opd_symtab_name(t, e);
    if (!t->demangled) {
        t->demangled = opd_calloc(t->n, sizeof(*t->demangled));
        if (!t->demangled)
            return opd_symtab_name(t, e);
    }
    if (!t->demangled[i]) {
        d = opd_demangle(opd_symtab_name(t, e));
        if (d) {
            t->demangled[i] = d;
            t->demangled_bytes += strlen(d) + 1;
        } else if (errno == EINVAL)
            t->demangled[i] = empty_name;
        else
            return opd_symtab_name(t, e);
    }
    return t->demangled[i] == empty_name ? opd_symtab_name(t, e) : t->demangled[i];
}

size_t opd_symtab_bytes(const struct opd_symtab *t)
{
    size_t b = t->cap * sizeof(*t->v) + t->strs_cap;

    if (t->demangled)
        b += t->n * sizeof(*t->demangled) + t->demangled_bytes;
    return b;
}
