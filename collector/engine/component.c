/* Base-field helpers of the component model and the consume entry point. */
#include "collector/component.h"

#include <stdio.h>

#include "collector/mem.h"
#include "otlp/profiles.h"

static const char *const kind_names[] = {"receiver", "processor", "exporter", "extension"};

const char *opd_kind_name(enum opd_kind kind)
{
    return (unsigned)kind < 4 ? kind_names[kind] : "component";
}

int opd_component_consume(struct opd_component *c, struct opd_batch *batch)
{
    if (!c || !c->ops || !c->ops->consume) {
        opd_batch_unref(batch);
        return -EINVAL;
    }
    return c->ops->consume(c, batch);
}

int opd_component_init_base(struct opd_component *c, const struct opd_factory *f,
                            const char *id)
{
    size_t n;

    c->factory = f;
    c->id = opd_strdup(id);
    if (!c->id)
        return -ENOMEM;
    n = strlen(id) + 16;
    c->logname = opd_malloc(n);
    if (!c->logname) {
        opd_free(c->id);
        c->id = NULL;
        return -ENOMEM;
    }
    snprintf(c->logname, n, "%s/%s", opd_kind_name(f->kind), id);
    return 0;
}

void opd_component_destroy(struct opd_component *c)
{
    char *id, *logname;

    if (!c)
        return;
    id = c->id;
    logname = c->logname;
    if (c->ops && c->ops->destroy)
        c->ops->destroy(c);
    opd_free(id);
    opd_free(logname);
}
