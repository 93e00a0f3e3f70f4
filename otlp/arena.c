/* Bump allocator behind every batch: strings, byte blobs and interned index arrays live
 * here and are released together by opd_arena_fini(). */
#include "otlp/profiles.h"

#include <stdint.h>
#include <string.h>

#include "collector/mem.h"

#define ARENA_CHUNK_MIN (16 * 1024)
#define ARENA_CHUNK_MAX (1024 * 1024)

struct opd_arena_chunk {
    struct opd_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(8) unsigned char data[];
};

void opd_arena_init(struct opd_arena *a)
{
    a->head = NULL;
    a->bytes = 0;
}

void opd_arena_fini(struct opd_arena *a)
{
    struct opd_arena_chunk *c, *next;

    if (!a)
        return;
    for (c = a->head; c; c = next) {
        next = c->next;
        opd_free(c);
    }
    a->head = NULL;
    a->bytes = 0;
}

/* Chunks grow with the arena so a large batch needs few of them; an allocation larger
 * than a chunk gets a chunk of its own. */
static struct opd_arena_chunk *arena_new_chunk(struct opd_arena *a, size_t need)
{
    struct opd_arena_chunk *c;
    size_t size = a->bytes < ARENA_CHUNK_MIN ? ARENA_CHUNK_MIN : a->bytes;

    if (size > ARENA_CHUNK_MAX)
        size = ARENA_CHUNK_MAX;
    if (size < need)
        size = need;
    if (size > SIZE_MAX - sizeof(*c))
        return NULL;
    c = opd_malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    return c;
}

void *opd_arena_alloc(struct opd_arena *a, size_t n)
{
    struct opd_arena_chunk *c = a->head;
    size_t need;
    void *p;

    if (n > SIZE_MAX - 8)
        return NULL;
    need = (n + 7) & ~(size_t)7;
    if (need == 0)
        need = 8;
    if (!c || c->size - c->used < need) {
        struct opd_arena_chunk *nc = arena_new_chunk(a, need);

        if (!nc)
            return NULL;
        /* A dedicated big chunk goes behind the current one so the remaining space of
         * the current chunk stays usable. */
        if (c && need > ARENA_CHUNK_MIN && c->size - c->used >= 64) {
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            a->head = nc;
        }
        c = nc;
    }
    p = c->data + c->used;
    c->used += need;
    a->bytes += need;
    return p;
}

char *opd_arena_strndup(struct opd_arena *a, const char *s, size_t n)
{
    char *d = opd_arena_alloc(a, n + 1);

    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *opd_arena_strdup(struct opd_arena *a, const char *s)
{
    if (!s)
        return NULL;
    return opd_arena_strndup(a, s, strlen(s));
}
