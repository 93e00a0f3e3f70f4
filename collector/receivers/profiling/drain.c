/* Storage of one drained generation (see drain.h). */
#include "collector/receivers/profiling/drain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

/* Frames per block: 512 KiB, a few thousand typical stacks. A deeper stack than fits gets
 * a block of its own size. */
#define BLOCK_FRAMES (64 * 1024)

struct opd_drain_block {
    struct opd_drain_block *next;
    size_t cap, used; /* frames */
    uint64_t ip[];
};

void opd_drain_init(struct opd_drain *d)
{
    memset(d, 0, sizeof(*d));
}

void opd_drain_fini(struct opd_drain *d)
{
    struct opd_drain_block *b = d->blocks;

    while (b) {
        struct opd_drain_block *next = b->next;

        opd_free(b);
        b = next;
    }
    opd_free(d->recs);
    opd_free(d->stacks);
    memset(d, 0, sizeof(*d));
}

void opd_drain_reset(struct opd_drain *d)
{
    for (struct opd_drain_block *b = d->blocks; b; b = b->next)
        b->used = 0;
    d->cur = d->blocks;
    d->n_recs = 0;
    d->n_stacks = 0;
    d->start_unix_ns = 0;
    d->end_unix_ns = 0;
}

/* Room for n frames that stays put; NULL when out of memory. Blocks are filled in list
 * order, so after a reset they are reused before any new one is allocated. */
static uint64_t *frames_alloc(struct opd_drain *d, size_t n)
{
    struct opd_drain_block *b = d->cur, **tail;

    while (b && b->cap - b->used < n)
        b = b->next;
    if (!b) {
        size_t cap = n > BLOCK_FRAMES ? n : BLOCK_FRAMES;

        b = opd_malloc(sizeof(*b) + cap * sizeof(uint64_t));
        if (!b)
            return NULL;
        b->next = NULL;
        b->cap = cap;
        b->used = 0;
        for (tail = &d->blocks; *tail; tail = &(*tail)->next)
            ;
        *tail = b;
    }
    d->cur = b;
    b->used += n;
    return &b->ip[b->used - n];
}

int opd_drain_add_record(struct opd_drain *d, const struct opd_sample_key *key, uint64_t count)
{
    return opd_drain_add_value(d, OPD_PROF_CPU, key, count);
}

int opd_drain_add_value(struct opd_drain *d, enum opd_prof_kind kind,
                        const struct opd_sample_key *key, uint64_t value)
{
    struct opd_drain_record *r = OPD_VEC_PUSH_SLOT(d->recs, d->n_recs, d->cap_recs);

    if (!r)
        return -ENOMEM;
    r->key = *key;
    r->count = value;
    r->kind = (uint32_t)kind;
    r->pad = 0;
    return 0;
}

int opd_drain_add_stack(struct opd_drain *d, uint64_t id, const struct opd_bpf_stack *st)
{
    /* The length comes from the kernel; never let it index past the array. */
    return opd_drain_add_frames(d, id, st->kernel, (const uint64_t *)st->ip,
                                st->len > OPD_MAX_FRAMES ? OPD_MAX_FRAMES : st->len);
}

int opd_drain_add_frames(struct opd_drain *d, uint64_t id, uint32_t kernel, const uint64_t *ip,
                         uint32_t len)
{
    struct opd_drain_stack *s;
    uint64_t *frames;

    if (len > OPD_MAX_FRAMES)
        return -EINVAL;
    frames = frames_alloc(d, len ? len : 1);
    if (!frames)
        return -ENOMEM;
    s = OPD_VEC_PUSH_SLOT(d->stacks, d->n_stacks, d->cap_stacks);
    if (!s)
        return -ENOMEM;
    memcpy(frames, ip, len * sizeof(uint64_t));
    s->id = id;
    s->st.len = len;
    s->st.kernel = kernel;
    s->st.ip = frames;
    return 0;
}

static int cmp_stack(const void *a, const void *b)
{
    uint64_t x = ((const struct opd_drain_stack *)a)->id;
    uint64_t y = ((const struct opd_drain_stack *)b)->id;

    return x < y ? -1 : x > y;
}

void opd_drain_finish(struct opd_drain *d)
{
    if (d->n_stacks > 1)
        qsort(d->stacks, d->n_stacks, sizeof(*d->stacks), cmp_stack);
}

const struct opd_drained_stack *opd_drain_stack(const struct opd_drain *d, uint64_t id)
{
    size_t lo = 0, hi = d->n_stacks;

    if (id == OPD_STACK_NONE)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (d->stacks[mid].id == id)
            return &d->stacks[mid].st;
        if (d->stacks[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t opd_drain_sample_count(const struct opd_drain *d)
{
    uint64_t n = 0;

    for (size_t i = 0; i < d->n_recs; i++) {
        if (d->recs[i].kind == OPD_PROF_CPU)
            n += d->recs[i].count;
    }
    return n;
}
