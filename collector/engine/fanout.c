#include "fanout.h"

#include <stdio.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "otlp/profiles.h"

struct fanout {
    struct opd_component base;
    struct opd_component **next;
    bool *mutates;
    size_t n;
    size_t n_mutating;
};

static int first_error(int acc, int err)
{
    /* A permanent error wins over a retryable one: retrying cannot fix it. */
    if (acc == 0 || (opd_err_is_retryable(acc) && err != 0 && !opd_err_is_retryable(err)))
        return err;
    return acc;
}

static int fanout_consume(struct opd_component *self, struct opd_batch *batch)
{
    struct fanout *f = (struct fanout *)self;
    size_t mutating_seen = 0;
    bool shared = f->n_mutating < f->n;
    int err = 0;

    /* Clone for mutating consumers first, while the batch is still ours to read. */
    for (size_t i = 0; i < f->n; i++) {
        struct opd_batch *mine;

        if (!f->mutates[i])
            continue;
        mutating_seen++;
        if (!shared && mutating_seen == f->n_mutating) {
            mine = opd_batch_ref(batch);
        } else {
            mine = opd_batch_clone(batch);
            if (!mine) {
                OPD_ERR(self->logname, "cannot clone batch for %s: out of memory",
                        f->next[i]->logname);
                err = first_error(err, -ENOMEM);
                continue;
            }
        }
        err = first_error(err, opd_component_consume(f->next[i], mine));
    }
    if (shared) {
        batch->readonly = true;
        for (size_t i = 0; i < f->n; i++)
            if (!f->mutates[i])
                err = first_error(err, opd_component_consume(f->next[i], opd_batch_ref(batch)));
    }
    opd_batch_unref(batch);
    return err;
}

static void fanout_destroy(struct opd_component *self)
{
    struct fanout *f = (struct fanout *)self;

    if (!f)
        return;
    opd_free(f->next);
    opd_free(f->mutates);
    opd_free(f);
}

static const struct opd_component_ops fanout_ops = {
    .consume = fanout_consume,
    .destroy = fanout_destroy,
};

static const struct opd_factory fanout_factory = {
    .type = "fanout",
    .kind = OPD_KIND_PROCESSOR,
};

struct opd_component *opd_fanout_create(const char *name, struct opd_component *const *next,
                                        const bool *mutates, size_t n)
{
    struct fanout *f = opd_calloc(1, sizeof(*f));

    if (!f)
        goto nomem;
    f->base.ops = &fanout_ops;
    if (opd_component_init_base(&f->base, &fanout_factory, name))
        goto nomem;
    f->next = opd_calloc(n, sizeof(*f->next));
    f->mutates = opd_calloc(n, sizeof(*f->mutates));
    if (!f->next || !f->mutates)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        f->next[i] = next[i];
        f->mutates[i] = mutates[i];
        f->n_mutating += mutates[i];
    }
    f->n = n;
    return &f->base;
nomem:
    if (f)
        opd_component_destroy(&f->base);
    errno = ENOMEM;
    return NULL;
}
