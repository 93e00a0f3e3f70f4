/* Storage of one drained generation (see drain.h). */
#include "collector/receivers/profiling/drain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

void opd_drain_init(struct opd_drain *d)
{
    memset(d, 0, sizeof(*d));
}

void opd_drain_fini(struct opd_drain *d)
{
    opd_free(d->recs);
    opd_free(d->stacks);
    memset(d, 0, sizeof(*d));
}

void opd_drain_reset(struct opd_drain *d)
{
    d->n_recs = 0;
    d->n_stacks = 0;
    d->start_unix_ns = 0;
    d->end_unix_ns = 0;
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
    struct opd_drain_stack *s = OPD_VEC_PUSH_SLOT(d->stacks, d->n_stacks, d->cap_stacks);

    if (!s)
        return -ENOMEM;
    s->id = id;
    s->st = *st;
    /* The length comes from the kernel; never let it index past the array. */
    if (s->st.len > OPD_MAX_FRAMES)
        s->st.len = OPD_MAX_FRAMES;
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

const struct opd_bpf_stack *opd_drain_stack(const struct opd_drain *d, uint64_t id)
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
