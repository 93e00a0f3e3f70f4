/* Open-addressing (linear probing) index from entry hash to table index. The table holds
 * the entries; the index only stores (hash, idx) so growing it never touches them. */
#include "otlp/intern.h"

#include <errno.h>
#include <string.h>

#include "collector/mem.h"

struct intern_slot {
    uint32_t hash;
    int32_t idx; /* -1: empty */
};

struct opd_intern {
    struct intern_slot *slots;
    size_t cap; /* power of two */
    size_t n;
};

#define INTERN_INITIAL 64

static struct intern_slot *slots_alloc(size_t cap)
{
    struct intern_slot *s;
    size_t i;

    if (cap > SIZE_MAX / sizeof(*s))
        return NULL;
    s = opd_malloc(cap * sizeof(*s));
    if (!s)
        return NULL;
    for (i = 0; i < cap; i++)
        s[i].idx = -1;
    return s;
}

struct opd_intern *opd_intern_create(void)
{
    struct opd_intern *ix = opd_calloc(1, sizeof(*ix));

    if (!ix)
        goto fail;
    ix->slots = slots_alloc(INTERN_INITIAL);
    if (!ix->slots)
        goto fail;
    ix->cap = INTERN_INITIAL;
    return ix;
fail:
    opd_free(ix);
    errno = ENOMEM;
    return NULL;
}

void opd_intern_destroy(struct opd_intern *ix)
{
    if (!ix)
        return;
    opd_free(ix->slots);
    opd_free(ix);
}

int32_t opd_intern_find(const struct opd_intern *ix, uint32_t hash, opd_intern_eq_fn eq,
                        const struct opd_dict *d, const void *key)
{
    size_t mask = ix->cap - 1;
    size_t i = hash & mask;

    for (;;) {
        const struct intern_slot *s = &ix->slots[i];

        if (s->idx < 0)
            return -1;
        if (s->hash == hash && eq(d, s->idx, key))
            return s->idx;
        i = (i + 1) & mask;
    }
}

static void slot_put(struct intern_slot *slots, size_t cap, uint32_t hash, int32_t idx)
{
    size_t i = hash & (cap - 1);

    while (slots[i].idx >= 0)
        i = (i + 1) & (cap - 1);
    slots[i].hash = hash;
    slots[i].idx = idx;
}

int opd_intern_reserve(struct opd_intern *ix)
{
    struct intern_slot *ns;
    size_t ncap, i;

    /* Keep the load factor under 3/4 so probes stay short. */
    if ((ix->n + 1) * 4 < ix->cap * 3)
        return 0;
    if (ix->cap > SIZE_MAX / 2)
        return -ENOMEM;
    ncap = ix->cap * 2;
    ns = slots_alloc(ncap);
    if (!ns)
        return -ENOMEM;
    for (i = 0; i < ix->cap; i++)
        if (ix->slots[i].idx >= 0)
            slot_put(ns, ncap, ix->slots[i].hash, ix->slots[i].idx);
    opd_free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return 0;
}

void opd_intern_insert(struct opd_intern *ix, uint32_t hash, int32_t idx)
{
    slot_put(ix->slots, ix->cap, hash, idx);
    ix->n++;
}

#define HASH_MUL 0x9e3779b97f4a7c15ULL

uint64_t opd_hash_u64(uint64_t h, uint64_t v)
{
    h ^= v + HASH_MUL + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 32);
}

uint64_t opd_hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t w;

    while (n >= 8) {
        memcpy(&w, b, 8);
        h = opd_hash_u64(h, w);
        b += 8;
        n -= 8;
    }
    w = 0;
    if (n)
        memcpy(&w, b, n); /* byte order does not matter, only consistency */
    return opd_hash_u64(h, w ^ ((uint64_t)n << 56));
}

uint32_t opd_hash_final(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)h;
}
