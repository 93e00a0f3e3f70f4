/* processor "resource": the Collector's resource processor for profiles. Each action of
 * `attributes` is applied in order to every resource's attributes:
 *   insert (only when the key is absent), update (only when present), upsert (always),
 *   delete; the value is `value`, or the value of `from_attribute` on the same resource. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "otlp/profiles.h"

struct action_cfg {
    char *key;
    char *value;
    char *from_attribute;
    char *action;
};

struct resource_cfg {
    struct opd_seclist attributes; /* of action_cfg */
};

enum act { ACT_INSERT, ACT_UPDATE, ACT_UPSERT, ACT_DELETE };

struct action {
    enum act act;
    char *key, *value, *from;
};

struct resource_proc {
    struct opd_component base;
    struct opd_component *next;
    struct action *actions;
    size_t n;
};

static const char *const action_names[] = {"insert", "update", "upsert", "delete", NULL};

static int apply_one(const struct action *a, struct opd_batch *b, struct opd_resource *res)
{
    const struct opd_value *cur = opd_attrs_get(&res->attrs, a->key);
    struct opd_value v;

    if (a->act == ACT_DELETE) {
        opd_attrs_remove(&res->attrs, a->key);
        return 0;
    }
    if ((a->act == ACT_INSERT && cur) || (a->act == ACT_UPDATE && !cur))
        return 0;
    if (a->from) {
        const struct opd_value *src = opd_attrs_get(&res->attrs, a->from);

        if (!src)
            return 0;
        v = *src; /* arena-owned; opd_attrs_set copies strings again */
        return opd_attrs_set(b, &res->attrs, a->key, &v);
    }
    return opd_attrs_set_str(b, &res->attrs, a->key, a->value);
}

static int resource_consume(struct opd_component *self, struct opd_batch *b)
{
    struct resource_proc *p = (struct resource_proc *)self;

    if (b->readonly) {
        struct opd_batch *c = opd_batch_clone(b);

        opd_batch_unref(b);
        if (!c)
            return -ENOMEM;
        b = c;
    }
    for (size_t i = 0; i < b->n_resources; i++)
        for (size_t j = 0; j < p->n; j++) {
            int err = apply_one(&p->actions[j], b, &b->resources[i]);

            if (err) {
                /* A half-applied action list would mislabel data: drop the batch. */
                OPD_ERR(self->logname, "applying attribute actions: %s; batch dropped",
                        strerror(-err));
                opd_batch_unref(b);
                return err;
            }
        }
    return opd_component_consume(p->next, b);
}

static void resource_destroy(struct opd_component *self)
{
    struct resource_proc *p = (struct resource_proc *)self;

    for (size_t i = 0; i < p->n; i++) {
        opd_free(p->actions[i].key);
        opd_free(p->actions[i].value);
        opd_free(p->actions[i].from);
    }
    opd_free(p->actions);
    opd_free(p);
}

static const struct opd_component_ops resource_ops = {
    .consume = resource_consume,
    .destroy = resource_destroy,
};

static enum act parse_act(const char *s)
{
    for (int i = 0; action_names[i]; i++)
        if (strcmp(s, action_names[i]) == 0)
            return (enum act)i;
    return ACT_UPSERT;
}

static struct opd_component *resource_create(const struct opd_create_params *params,
                                             const void *cfgp)
{
    const struct resource_cfg *cfg = cfgp;
    const struct action_cfg *ac = cfg->attributes.items;
    struct resource_proc *p = opd_calloc(1, sizeof(*p));

    if (!p)
        goto nomem;
    p->base.ops = &resource_ops;
    p->next = params->next;
    if (cfg->attributes.n && !(p->actions = opd_calloc(cfg->attributes.n, sizeof(*p->actions))))
        goto nomem;
    for (size_t i = 0; i < cfg->attributes.n; i++, p->n++) {
        struct action *a = &p->actions[i];

        a->act = parse_act(ac[i].action);
        if (!(a->key = opd_strdup(ac[i].key)) ||
            (ac[i].value && !(a->value = opd_strdup(ac[i].value))) ||
            (ac[i].from_attribute && !(a->from = opd_strdup(ac[i].from_attribute))))
            goto nomem;
    }
    return &p->base;
nomem:
    if (p)
        resource_destroy(&p->base);
    errno = ENOMEM;
    return NULL;
}

static int resource_validate(const void *cfgp, char *err, size_t len)
{
    const struct resource_cfg *cfg = cfgp;
    const struct action_cfg *ac = cfg->attributes.items;

    if (cfg->attributes.n == 0) {
        snprintf(err, len, "attributes: at least one action is required");
        return -EINVAL;
    }
    for (size_t i = 0; i < cfg->attributes.n; i++) {
        bool del;

        if (!ac[i].action) {
            snprintf(err, len, "attributes::%zu::action: required", i);
            return -EINVAL;
        }
        del = strcmp(ac[i].action, "delete") == 0;
        if (!ac[i].key || !ac[i].key[0]) {
            snprintf(err, len, "attributes::%zu::key: required", i);
            return -EINVAL;
        }
        if (!del && !!ac[i].value == !!ac[i].from_attribute) {
            snprintf(err, len, "attributes::%zu: %s needs exactly one of value and from_attribute",
                     i, ac[i].action);
            return -EINVAL;
        }
        if (del && (ac[i].value || ac[i].from_attribute)) {
            snprintf(err, len, "attributes::%zu: delete takes no value", i);
            return -EINVAL;
        }
    }
    return 0;
}

static const struct opd_config_map action_map[] = {
    {OPD_CFG_STRING, "key", NULL, 0, 0, offsetof(struct action_cfg, key), "Attribute key"},
    {OPD_CFG_STRING, "value", NULL, 0, 0, offsetof(struct action_cfg, value),
     "Value to set (a string)"},
    {OPD_CFG_STRING, "from_attribute", NULL, 0, 0, offsetof(struct action_cfg, from_attribute),
     "Copy the value of this attribute instead"},
    {OPD_CFG_ENUM, "action", NULL, 0, 0, offsetof(struct action_cfg, action),
     "insert, update, upsert or delete", .choices = action_names},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map resource_map[] = {
    {OPD_CFG_SECTIONS, "attributes", NULL, 0, 0, offsetof(struct resource_cfg, attributes),
     "Actions applied in order to every resource", .sub = action_map,
     .elem_size = sizeof(struct action_cfg)},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_resource_processor_factory = {
    .type = "resource",
    .kind = OPD_KIND_PROCESSOR,
    .description = "inserts, updates, upserts or deletes resource attributes",
    .config_map = resource_map,
    .config_size = sizeof(struct resource_cfg),
    .mutates_data = true,
    .validate = resource_validate,
    .create = resource_create,
};
