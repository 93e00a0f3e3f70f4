#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/component.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "config/config.h"
#include "fanout.h"

/* Every node the service owns, in creation order: extensions, exporters, exporter fanouts
 * and processors (pipeline by pipeline, last processor first), receiver fanouts, receivers.
 * Creation order is the start order; shutdown walks it backwards. */
struct node {
    struct opd_component *c;
    enum opd_kind kind;
    bool internal; /* a fanout: no start/shutdown of its own */
    bool started;
};

struct opd_service {
    const struct opd_config *cfg;
    struct opd_telemetry *tel;
    struct opd_host host;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    bool shut_down;
};

uint64_t opd_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct opd_component *find_node(struct opd_service *s, enum opd_kind kind, const char *id)
{
    for (size_t i = 0; i < s->n_nodes; i++)
        if (!s->nodes[i].internal && s->nodes[i].kind == kind &&
            strcmp(s->nodes[i].c->id, id) == 0)
            return s->nodes[i].c;
    return NULL;
}

static struct opd_component *host_get_extension(struct opd_host *host, const char *id)
{
    struct opd_service *s = (struct opd_service *)((char *)host - offsetof(struct opd_service, host));

    return find_node(s, OPD_KIND_EXTENSION, id);
}

static int add_node(struct opd_service *s, struct opd_component *c, enum opd_kind kind,
                    bool internal)
{
    struct node *n = OPD_VEC_PUSH_SLOT(s->nodes, s->n_nodes, s->cap_nodes);

    if (!n)
        return -ENOMEM;
    n->c = c;
    n->kind = kind;
    n->internal = internal;
    n->started = false;
    return 0;
}

/* Creates one configured component; pipeline_name makes a processor's log name unique. */
static struct opd_component *create_component(struct opd_service *s, enum opd_kind kind,
                                              const char *id, struct opd_component *next)
{
    const struct opd_component_cfg *cc = opd_config_find(s->cfg, kind, id);
    struct opd_create_params p = {0};
    struct opd_component *c;
    char logname[256];
    int err;

    if (!cc) {
        OPD_ERR("service", "%s %s is not configured", opd_kind_name(kind), id);
        errno = EINVAL;
        return NULL;
    }
    snprintf(logname, sizeof(logname), "%s/%s", opd_kind_name(kind), id);
    p.id = id;
    p.logname = logname;
    p.telemetry = s->tel;
    p.next = next;
    c = cc->factory->create(&p, cc->cfg);
    if (!c) {
        err = errno;
        OPD_ERR("service", "failed to create %s: %s", logname, strerror(err));
        errno = err;
        return NULL;
    }
    err = opd_component_init_base(c, cc->factory, id);
    if (!err)
        err = add_node(s, c, kind, false);
    if (err) {
        opd_component_destroy(c);
        errno = -err;
        return NULL;
    }
    return c;
}

/* A pipeline changes the batches it gets when any of its processors does: a read-only
 * processor in front of a mutating one must not be handed a shared batch. */
static bool pipeline_mutates(const struct opd_service *s, const struct opd_pipeline_cfg *p)
{
    for (size_t i = 0; i < p->n_processors; i++) {
        const struct opd_component_cfg *cc =
            opd_config_find(s->cfg, OPD_KIND_PROCESSOR, p->processors[i]);
        if (cc && cc->factory->mutates_data)
            return true;
    }
    return false;
}

/* Returns the node that consumes for all of next[0..n): next[0] itself, or a new fanout. */
static struct opd_component *join(struct opd_service *s, const char *name,
                                  struct opd_component **next, bool *mutates, size_t n)
{
    struct opd_component *f;

    if (n == 1)
        return next[0];
    f = opd_fanout_create(name, next, mutates, n);
    if (!f)
        return NULL;
    if (add_node(s, f, OPD_KIND_PROCESSOR, true)) {
        opd_component_destroy(f);
        errno = ENOMEM;
        return NULL;
    }
    return f;
}

/* Builds pipeline p's processors and exporter fanout; returns its first node. */
static struct opd_component *build_pipeline(struct opd_service *s,
                                            const struct opd_pipeline_cfg *p)
{
    struct opd_component **exps = opd_calloc(p->n_exporters, sizeof(*exps));
    bool *ro = opd_calloc(p->n_exporters, sizeof(*ro));
    struct opd_component *head = NULL;
    char name[256];

    if (!exps || !ro) {
        errno = ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p->n_exporters; i++) {
        exps[i] = find_node(s, OPD_KIND_EXPORTER, p->exporters[i]);
        if (!exps[i])
            goto out;
    }
    snprintf(name, sizeof(name), "fanout/%s/exporters", p->name);
    head = join(s, name, exps, ro, p->n_exporters);
    for (size_t i = p->n_processors; head && i-- > 0;)
        head = create_component(s, OPD_KIND_PROCESSOR, p->processors[i], head);
out:
    opd_free(exps);
    opd_free(ro);
    return head;
}

static bool listed(char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

static int build(struct opd_service *s)
{
    const struct opd_service_cfg *svc = &s->cfg->service;
    struct opd_component **heads = NULL, **targets = NULL;
    bool *mut = NULL;
    int err = -ENOMEM;

    for (size_t i = 0; i < svc->n_extensions; i++)
        if (!create_component(s, OPD_KIND_EXTENSION, svc->extensions[i], NULL))
            goto fail;
    /* Exporters once per id, in first-use order. */
    for (size_t i = 0; i < svc->n_pipelines; i++)
        for (size_t j = 0; j < svc->pipelines[i].n_exporters; j++) {
            const char *id = svc->pipelines[i].exporters[j];
            if (!find_node(s, OPD_KIND_EXPORTER, id) &&
                !create_component(s, OPD_KIND_EXPORTER, id, NULL))
                goto fail;
        }
    heads = opd_calloc(svc->n_pipelines, sizeof(*heads));
    targets = opd_calloc(svc->n_pipelines, sizeof(*targets));
    mut = opd_calloc(svc->n_pipelines, sizeof(*mut));
    if (!heads || !targets || !mut)
        goto out;
    for (size_t i = 0; i < svc->n_pipelines; i++) {
        heads[i] = build_pipeline(s, &svc->pipelines[i]);
        if (!heads[i])
            goto fail;
    }
    /* Receivers once per id, feeding every pipeline that lists them. */
    for (size_t i = 0; i < svc->n_pipelines; i++) {
        for (size_t j = 0; j < svc->pipelines[i].n_receivers; j++) {
            const char *id = svc->pipelines[i].receivers[j];
            struct opd_component *next;
            size_t n = 0;
            char name[256];

            if (find_node(s, OPD_KIND_RECEIVER, id))
                continue;
            for (size_t k = 0; k < svc->n_pipelines; k++)
                if (listed(svc->pipelines[k].receivers, svc->pipelines[k].n_receivers, id)) {
                    targets[n] = heads[k];
                    mut[n] = pipeline_mutates(s, &svc->pipelines[k]);
                    n++;
                }
            snprintf(name, sizeof(name), "fanout/receiver/%s", id);
            next = join(s, name, targets, mut, n);
            if (!next || !create_component(s, OPD_KIND_RECEIVER, id, next))
                goto fail;
        }
    }
    err = 0;
    goto out;
fail:
    err = errno ? -errno : -EINVAL;
out:
    opd_free(heads);
    opd_free(targets);
    opd_free(mut);
    return err;
}

struct opd_service *opd_service_create(const struct opd_config *cfg, struct opd_telemetry *tel)
{
    struct opd_service *s = opd_calloc(1, sizeof(*s));
    int err;

    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->cfg = cfg;
    s->tel = tel;
    s->host.telemetry = tel;
    s->host.get_extension = host_get_extension;
    err = build(s);
    if (err) {
        opd_service_destroy(s);
        errno = -err;
        return NULL;
    }
    return s;
}

int opd_service_start(struct opd_service *s)
{
    for (size_t i = 0; i < s->n_nodes; i++) {
        struct node *n = &s->nodes[i];
        int err;

        if (n->internal || !n->c->ops->start) {
            n->started = true;
            continue;
        }
        err = n->c->ops->start(n->c, &s->host);
        if (err) {
            OPD_ERR("service", "failed to start %s: %s", n->c->logname, strerror(-err));
            opd_service_shutdown(s, opd_now_ns() + 5000000000ull);
            return err;
        }
        n->started = true;
        OPD_DEBUG("service", "started %s", n->c->logname);
    }
    OPD_INFO("service", "everything is ready; %zu components running", s->n_nodes);
    return 0;
}

int opd_service_shutdown(struct opd_service *s, uint64_t deadline_ns)
{
    int first = 0;

    if (!s || s->shut_down)
        return 0;
    s->shut_down = true;
    /* Receivers were created last: walking backwards stops producers first. */
    for (size_t i = s->n_nodes; i-- > 0;) {
        struct node *n = &s->nodes[i];
        int err;

        if (!n->started || n->internal || !n->c->ops->shutdown)
            continue;
        err = n->c->ops->shutdown(n->c, deadline_ns);
        if (err) {
            OPD_WARN("service", "shutdown of %s: %s", n->c->logname, strerror(-err));
            if (!first)
                first = err;
        }
        n->started = false;
    }
    return first;
}

void opd_service_destroy(struct opd_service *s)
{
    if (!s)
        return;
    opd_service_shutdown(s, opd_now_ns() + 1000000000ull);
    for (size_t i = s->n_nodes; i-- > 0;)
        opd_component_destroy(s->nodes[i].c);
    opd_free(s->nodes);
    opd_free(s);
}
