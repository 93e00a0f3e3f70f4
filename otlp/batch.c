/* Batch lifetime and the resource → scope → profile → sample lists. */
#include "otlp/intern.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

struct opd_batch *opd_batch_create(void)
{
    struct opd_batch *b = opd_calloc(1, sizeof(*b));

    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&b->refs, 1);
    opd_arena_init(&b->arena);
    if (opd_dict_init(&b->dict, &b->arena)) {
        opd_dict_fini(&b->dict);
        opd_arena_fini(&b->arena);
        opd_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

struct opd_batch *opd_batch_ref(struct opd_batch *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

static void sample_fini(struct opd_sample *s)
{
    opd_free(s->attr_indices);
    opd_free(s->values);
    opd_free(s->timestamps);
}

static void profile_fini(struct opd_profile *p)
{
    size_t i;

    for (i = 0; i < p->n_samples; i++)
        sample_fini(&p->samples[i]);
    opd_free(p->samples);
    opd_free(p->attr_indices);
}

static void scope_fini(struct opd_scope *s)
{
    size_t i;

    for (i = 0; i < s->n_profiles; i++)
        profile_fini(&s->profiles[i]);
    opd_free(s->profiles);
    opd_free(s->attrs.v);
}

static void resource_fini(struct opd_resource *r)
{
    size_t i;

    for (i = 0; i < r->n_scopes; i++)
        scope_fini(&r->scopes[i]);
    opd_free(r->scopes);
    opd_free(r->attrs.v);
}

void opd_batch_unref(struct opd_batch *b)
{
    size_t i;

    if (!b)
        return;
    /* acq_rel: the last owner must see every write the other owners made. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (i = 0; i < b->n_resources; i++)
        resource_fini(&b->resources[i]);
    opd_free(b->resources);
    opd_dict_fini(&b->dict);
    opd_arena_fini(&b->arena);
    opd_free(b);
}

struct opd_batch *opd_batch_clone(const struct opd_batch *b)
{
    struct opd_batch *c = opd_batch_create();
    int err;

    if (!c)
        return NULL;
    /* Merging into an empty batch interns every table in order, so a clone of a
     * duplicate-free batch keeps every index. */
    err = opd_batch_merge(c, b);
    if (err) {
        opd_batch_unref(c);
        errno = -err;
        return NULL;
    }
    return c;
}

struct opd_resource *opd_batch_add_resource(struct opd_batch *b)
{
    struct opd_resource *r = OPD_VEC_PUSH_SLOT(b->resources, b->n_resources, b->cap_resources);

    if (r)
        memset(r, 0, sizeof(*r));
    return r;
}

struct opd_scope *opd_resource_add_scope(struct opd_batch *b, struct opd_resource *r,
                                         const char *name, const char *version)
{
    char *n = NULL, *v = NULL;
    struct opd_scope *s;

    if (name && !(n = opd_arena_strdup(&b->arena, name)))
        return NULL;
    if (version && !(v = opd_arena_strdup(&b->arena, version)))
        return NULL;
    s = OPD_VEC_PUSH_SLOT(r->scopes, r->n_scopes, r->cap_scopes);
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->name = n;
    s->version = v;
    return s;
}

struct opd_profile *opd_scope_add_profile(struct opd_batch *b, struct opd_scope *s)
{
    struct opd_profile *p = OPD_VEC_PUSH_SLOT(s->profiles, s->n_profiles, s->cap_profiles);

    if (p)
        memset(p, 0, sizeof(*p));
    return p;
}

/* Heap copy of exactly n elements (NULL for n == 0), so owners may opd_realloc it. */
static int heap_dup(void **dst, const void *src, size_t n, size_t elem)
{
    *dst = NULL;
    if (!n)
        return 0;
    if (n > SIZE_MAX / elem)
        return -ENOMEM;
    *dst = opd_malloc(n * elem);
    if (!*dst)
        return -ENOMEM;
    memcpy(*dst, src, n * elem);
    return 0;
}

int opd_profile_add_sample(struct opd_batch *b, struct opd_profile *p,
                           const struct opd_sample *tmpl)
{
    struct opd_sample s = *tmpl;
    struct opd_sample *slot;

    s.attr_indices = NULL;
    s.values = NULL;
    s.timestamps = NULL;
    if (heap_dup((void **)&s.attr_indices, tmpl->attr_indices, tmpl->n_attr, sizeof(int32_t)) ||
        heap_dup((void **)&s.values, tmpl->values, tmpl->n_values, sizeof(int64_t)) ||
        heap_dup((void **)&s.timestamps, tmpl->timestamps, tmpl->n_timestamps, sizeof(uint64_t)))
        goto fail;
    slot = OPD_VEC_PUSH_SLOT(p->samples, p->n_samples, p->cap_samples);
    if (!slot)
        goto fail;
    *slot = s;
    return 0;
fail:
    sample_fini(&s);
    return -ENOMEM;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return x < y ? -1 : x > y;
}

/* Orders sample indices by identity, then by position (so the first stays first). */
static int cmp_identity(const void *a, const void *b, void *arg)
{
    const struct opd_sample *v = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct opd_sample *x = &v[i], *y = &v[j];

    if (x->stack_index != y->stack_index)
        return x->stack_index < y->stack_index ? -1 : 1;
    if (x->link_index != y->link_index)
        return x->link_index < y->link_index ? -1 : 1;
    if (x->n_attr != y->n_attr)
        return x->n_attr < y->n_attr ? -1 : 1;
    for (size_t k = 0; k < x->n_attr; k++)
        if (x->attr_indices[k] != y->attr_indices[k])
            return x->attr_indices[k] < y->attr_indices[k] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static bool mergeable(const struct opd_sample *x, const struct opd_sample *y)
{
    return x->stack_index == y->stack_index && x->link_index == y->link_index &&
           x->n_attr == y->n_attr &&
           (!x->n_attr || !memcmp(x->attr_indices, y->attr_indices, x->n_attr * sizeof(int32_t))) &&
           !x->n_timestamps && !y->n_timestamps && x->n_values && x->n_values == y->n_values;
}

long opd_profile_merge_samples(struct opd_profile *p)
{
    size_t *order, w = 0, n = p->n_samples;
    bool *gone;
    long merged = 0;

    if (n < 2)
        return 0;
    order = opd_malloc(n * sizeof(*order));
    gone = opd_calloc(n, sizeof(*gone));
    if (!order || !gone) {
        opd_free(order);
        opd_free(gone);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        if (p->samples[i].n_attr > 1)
            qsort(p->samples[i].attr_indices, p->samples[i].n_attr, sizeof(int32_t), cmp_i32);
    }
    qsort_r(order, n, sizeof(*order), cmp_identity, p->samples);
    for (size_t i = 0, first = 0; i < n; i++) {
        struct opd_sample *x = &p->samples[order[first]], *y = &p->samples[order[i]];

        if (i == first)
            continue;
        if (!mergeable(x, y)) {
            first = i;
            continue;
        }
        for (size_t k = 0; k < x->n_values; k++)
            x->values[k] += y->values[k];
        gone[order[i]] = true;
        merged++;
    }
    for (size_t i = 0; i < n; i++) {
        if (gone[i])
            sample_fini(&p->samples[i]);
        else
            p->samples[w++] = p->samples[i];
    }
    p->n_samples = w;
    opd_free(order);
    opd_free(gone);
    return merged;
}

bool opd_profile_id_set(const struct opd_profile *p)
{
    static const uint8_t zero[16];

    return p->has_profile_id && memcmp(p->profile_id, zero, sizeof(zero)) != 0;
}

bool opd_profile_counts_samples(const struct opd_batch *b, const struct opd_profile *p)
{
    const char *type = opd_dict_str(&b->dict, p->sample_type.type_strindex);
    const char *unit = opd_dict_str(&b->dict, p->sample_type.unit_strindex);

    if (unit[0] && strcmp(unit, "count") != 0)
        return false;
    return strncmp(type, "alloc_", 6) != 0 && strncmp(type, "inuse_", 6) != 0;
}

uint64_t opd_batch_sample_count(const struct opd_batch *b)
{
    uint64_t total = 0;
    size_t r, s, p, i;

    for (r = 0; r < b->n_resources; r++)
        for (s = 0; s < b->resources[r].n_scopes; s++)
            for (p = 0; p < b->resources[r].scopes[s].n_profiles; p++) {
                const struct opd_profile *pr = &b->resources[r].scopes[s].profiles[p];

                /* Values in other units (off-CPU nanoseconds, allocated bytes) are not
                 * sample counts: such a profile counts one per Sample record. */
                if (!opd_profile_counts_samples(b, pr)) {
                    total += pr->n_samples;
                    continue;
                }
                for (i = 0; i < pr->n_samples; i++) {
                    const struct opd_sample *sm = &pr->samples[i];

                    size_t k;

                    /* Values are element-aligned with timestamps when both are present,
                     * so a sample counts the sum of its values. */
                    for (k = 0; k < sm->n_values; k++)
                        total += sm->values[k] > 0 ? (uint64_t)sm->values[k] : 0;
                    if (!sm->n_values)
                        total += sm->n_timestamps;
                }
            }
    return total;
}

size_t opd_batch_profile_count(const struct opd_batch *b)
{
    size_t n = 0, r, s;

    for (r = 0; r < b->n_resources; r++)
        for (s = 0; s < b->resources[r].n_scopes; s++)
            n += b->resources[r].scopes[s].n_profiles;
    return n;
}
