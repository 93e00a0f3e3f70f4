/* The service section: telemetry settings, the extensions to start, and the profiles
 * pipelines, with the Collector's graph rules (every reference defined, at least one
 * receiver and one exporter per pipeline, nothing listed twice, at least one pipeline). */
#include <errno.h>
#include <stddef.h>

#include "collector/mem.h"
#include "config/config_internal.h"
#include "config/node.h"
#include "config/suggest.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const metrics_levels[] = {"none", "basic", "normal", "detailed", NULL};

static const struct opd_config_map logs_map[] = {
    {.type = OPD_CFG_ENUM,
     .name = "level",
     .def = "info",
     .offset =
         offsetof(struct opd_telemetry_cfg, logs.level) - offsetof(struct opd_telemetry_cfg, logs),
     .desc = "Minimum level of log lines written to stderr",
     .choices = log_levels},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map metrics_map[] = {
    {.type = OPD_CFG_ENUM,
     .name = "level",
     .def = "normal",
     .offset = offsetof(struct opd_telemetry_cfg, metrics.level) -
               offsetof(struct opd_telemetry_cfg, metrics),
     .desc = "How much self-telemetry to record; none turns the endpoint off",
     .choices = metrics_levels},
    {.type = OPD_CFG_STRING,
     .name = "address",
     .def = "localhost:8888",
     .offset = offsetof(struct opd_telemetry_cfg, metrics.address) -
               offsetof(struct opd_telemetry_cfg, metrics),
     .desc = "host:port where self-metrics are served in Prometheus format"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_telemetry_config_map[] = {
    {.type = OPD_CFG_SECTION,
     .name = "logs",
     .offset = offsetof(struct opd_telemetry_cfg, logs),
     .desc = "Daemon logs",
     .sub = logs_map},
    {.type = OPD_CFG_SECTION,
     .name = "metrics",
     .offset = offsetof(struct opd_telemetry_cfg, metrics),
     .desc = "Self-metrics",
     .sub = metrics_map},
    OPD_CFG_MAP_END,
};

/* What one pipeline's map binds into before its lists move into opd_pipeline_cfg. */
struct pipeline_lists {
    struct opd_strlist receivers;
    struct opd_strlist processors;
    struct opd_strlist exporters;
};

static const struct opd_config_map pipeline_map[] = {
    {.type = OPD_CFG_STRLIST,
     .name = "receivers",
     .offset = offsetof(struct pipeline_lists, receivers),
     .desc = "Receiver ids feeding this pipeline"},
    {.type = OPD_CFG_STRLIST,
     .name = "processors",
     .offset = offsetof(struct pipeline_lists, processors),
     .desc = "Processor ids, applied in order"},
    {.type = OPD_CFG_STRLIST,
     .name = "exporters",
     .offset = offsetof(struct pipeline_lists, exporters),
     .desc = "Exporter ids receiving the pipeline's output"},
    OPD_CFG_MAP_END,
};

struct service_top {
    struct opd_strlist extensions;
};

static const struct opd_config_map service_ext_map[] = {
    {.type = OPD_CFG_STRLIST,
     .name = "extensions",
     .offset = offsetof(struct service_top, extensions),
     .desc = "Extension ids to start"},
    OPD_CFG_MAP_END,
};

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        opd_free(v[i]);
    opd_free(v);
}

void opd_config_service_fini(struct opd_service_cfg *s)
{
    for (size_t i = 0; i < s->n_pipelines; i++) {
        struct opd_pipeline_cfg *p = &s->pipelines[i];

        opd_free(p->name);
        free_list(p->receivers, p->n_receivers);
        free_list(p->processors, p->n_processors);
        free_list(p->exporters, p->n_exporters);
    }
    opd_free(s->pipelines);
    free_list(s->extensions, s->n_extensions);
    opd_free(s->log_level);
    opd_free(s->metrics_level);
    opd_free(s->metrics_address);
    memset(s, 0, sizeof(*s));
}

/* Position of element i of a list option (a scalar stands for a one-element list). */
static const struct opd_cfg_pos *item_pos(const struct opd_node *list, size_t i)
{
    if (list->type == OPD_NODE_SEQ && i < list->n)
        return &list->items[i]->pos;
    return &list->pos;
}

/* Names another section that defines id (a reference in the wrong list), or NULL. */
static const char *other_section(const struct opd_config *c, enum opd_kind kind, const char *id)
{
    static const enum opd_kind kinds[] = {OPD_KIND_RECEIVER, OPD_KIND_PROCESSOR, OPD_KIND_EXPORTER,
                                          OPD_KIND_EXTENSION};

    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        const char *name = opd_config_section_name(kinds[k]);

        if (kinds[k] != kind && opd_node_map_find(opd_node_map_get(c->root, name), id))
            return name;
    }
    return NULL;
}

/* The id of a configured component of kind closest to a misspelt one, or NULL. */
static const char *suggest_id(const struct opd_config *c, enum opd_kind kind, const char *id)
{
    struct opd_suggest sg;

    opd_suggest_init(&sg, id);
    for (size_t i = 0; i < c->n_components; i++)
        if (c->components[i].kind == kind)
            opd_suggest_add(&sg, c->components[i].id);
    return opd_suggest_best(&sg);
}

/* Checks that each id of a reference list is defined in the section of kind and appears
 * once. Returns 0 or -ENOMEM. */
static int check_refs(const struct opd_config *c, enum opd_kind kind, const char *key,
                      const struct opd_node *owner, const struct opd_strlist *l, const char *path,
                      struct opd_cfg_errors *errs)
{
    const struct opd_node *section = opd_node_map_get(c->root, opd_config_section_name(kind));
    const struct opd_node *list = opd_node_map_get(owner, key);
    const char *word = opd_config_kind_word(kind);
    char idx[24];
    int rc = 0;

    for (size_t i = 0; i < l->n && !rc; i++) {
        char *lpath, *ipath;
        bool twice = false;

        for (size_t j = 0; j < i; j++)
            twice = twice || strcmp(l->v[i], l->v[j]) == 0;
        if (!twice && opd_node_map_find(section, l->v[i]))
            continue;
        snprintf(idx, sizeof(idx), "%zu", i);
        lpath = opd_config_path(path, key);
        ipath = lpath ? opd_config_path(lpath, idx) : NULL;
        if (!ipath)
            rc = -ENOMEM;
        else if (twice)
            rc = opd_cfg_errors_add(errs, item_pos(list, i), ipath, "%s \"%s\" is listed twice",
                                    word, l->v[i]);
        else if (suggest_id(c, kind, l->v[i]))
            rc = opd_cfg_errors_add(errs, item_pos(list, i), ipath,
                                    "%s \"%s\" is not defined, did you mean \"%s\"?", word, l->v[i],
                                    suggest_id(c, kind, l->v[i]));
        else if (other_section(c, kind, l->v[i]))
            rc = opd_cfg_errors_add(errs, item_pos(list, i), ipath,
                                    "%s \"%s\" is not defined under %s (it is defined under %s)",
                                    word, l->v[i], opd_config_section_name(kind),
                                    other_section(c, kind, l->v[i]));
        else
            rc = opd_cfg_errors_add(errs, item_pos(list, i), ipath,
                                    "%s \"%s\" is not defined (define it under %s)", word, l->v[i],
                                    opd_config_section_name(kind));
        opd_free(ipath);
        opd_free(lpath);
    }
    return rc;
}

static void take_list(struct opd_strlist *l, char ***v, size_t *n)
{
    *v = l->v;
    *n = l->n;
    l->v = NULL;
    l->n = 0;
}

/* Validates a pipeline id: "profiles" or "profiles/<name>". */
static int check_pipeline_id(const struct opd_node_pair *p, const char *path,
                             struct opd_cfg_errors *errs)
{
    const char *id = p->key;
    size_t tlen = strcspn(id, "/");

    if (tlen == 8 && strncmp(id, "profiles", 8) == 0) {
        if (id[8] == '/' && id[9] == '\0')
            return opd_cfg_errors_add(errs, &p->key_pos, path,
                                      "invalid pipeline id \"%s\": the name after '/' must not "
                                      "be empty",
                                      id);
        return 0;
    }
    if ((tlen == 6 && strncmp(id, "traces", 6) == 0) ||
        (tlen == 7 && strncmp(id, "metrics", 7) == 0) || (tlen == 4 && strncmp(id, "logs", 4) == 0))
        return opd_cfg_errors_add(errs, &p->key_pos, path,
                                  "%.*s pipelines are not supported: only profiles pipelines "
                                  "(profiles or profiles/<name>)",
                                  (int)tlen, id);
    return opd_cfg_errors_add(errs, &p->key_pos, path,
                              "invalid pipeline id \"%s\": expected profiles or "
                              "profiles/<name>",
                              id);
}

/* Reads one pipeline; returns 0 (errors in errs) or -ENOMEM. */
static int load_pipeline(struct opd_config *c, const struct opd_node_pair *p, const char *base,
                         struct opd_cfg_errors *errs)
{
    struct pipeline_lists lists = {0};
    struct opd_pipeline_cfg *pc;
    size_t before = opd_cfg_errors_count(errs);
    char *path = opd_config_path(base, p->key);
    int rc;

    if (!path)
        return -ENOMEM;
    rc = check_pipeline_id(p, path, errs);
    if (rc || opd_cfg_errors_count(errs) != before)
        goto out;
    rc = opd_config_bind(pipeline_map, p->value, &lists, path, errs);
    if (rc == -EINVAL) {
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (lists.receivers.n == 0)
        rc = opd_cfg_errors_add(errs, &p->key_pos, path, "a pipeline needs at least one receiver");
    if (!rc && lists.exporters.n == 0)
        rc = opd_cfg_errors_add(errs, &p->key_pos, path, "a pipeline needs at least one exporter");
    if (!rc)
        rc = check_refs(c, OPD_KIND_RECEIVER, "receivers", p->value, &lists.receivers, path, errs);
    if (!rc)
        rc = check_refs(c, OPD_KIND_PROCESSOR, "processors", p->value, &lists.processors, path,
                        errs);
    if (!rc)
        rc = check_refs(c, OPD_KIND_EXPORTER, "exporters", p->value, &lists.exporters, path, errs);
    if (rc || opd_cfg_errors_count(errs) != before)
        goto out;
    pc = c->service.pipelines + c->service.n_pipelines++;
    memset(pc, 0, sizeof(*pc));
    pc->pos = p->key_pos;
    pc->name = opd_strdup(p->key);
    if (!pc->name) {
        rc = -ENOMEM;
        goto out;
    }
    take_list(&lists.receivers, &pc->receivers, &pc->n_receivers);
    take_list(&lists.processors, &pc->processors, &pc->n_processors);
    take_list(&lists.exporters, &pc->exporters, &pc->n_exporters);
out:
    opd_config_release(pipeline_map, &lists);
    opd_free(path);
    return rc;
}

static int load_pipelines(struct opd_config *c, const struct opd_node *svc,
                          struct opd_cfg_errors *errs)
{
    const struct opd_node_pair *pp = opd_node_map_find(svc, "pipelines");
    const struct opd_node *pl = pp ? pp->value : NULL;
    const struct opd_cfg_pos *pos = pp ? &pp->key_pos : svc ? &svc->pos : &c->root->pos;
    int rc;

    if (pl && pl->type != OPD_NODE_NULL && pl->type != OPD_NODE_MAP)
        return opd_cfg_errors_add(errs, &pl->pos, "service::pipelines",
                                  "expected a map of pipelines, got %s",
                                  opd_node_type_name(pl->type));
    if (!pl || pl->type == OPD_NODE_NULL || pl->n == 0)
        return opd_cfg_errors_add(errs, pos, "service::pipelines",
                                  "at least one pipeline is required (e.g. profiles: "
                                  "{receivers: [profiling], exporters: [debug]})");
    c->service.pipelines = opd_calloc(pl->n, sizeof(*c->service.pipelines));
    if (!c->service.pipelines)
        return -ENOMEM;
    for (size_t i = 0; i < pl->n; i++) {
        rc = load_pipeline(c, &pl->pairs[i], "service::pipelines", errs);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_telemetry(struct opd_config *c, const struct opd_node *svc,
                          struct opd_cfg_errors *errs)
{
    struct opd_telemetry_cfg t = {0};
    int rc;

    rc = opd_config_defaults(opd_telemetry_config_map, &t);
    if (!rc)
        rc = opd_config_bind(opd_telemetry_config_map, opd_node_map_get(svc, "telemetry"), &t,
                             "service::telemetry", errs);
    if (rc == -EINVAL)
        rc = 0;
    if (!rc) {
        c->service.log_level = t.logs.level;
        c->service.metrics_level = t.metrics.level;
        c->service.metrics_address = t.metrics.address;
        memset(&t, 0, sizeof(t));
    }
    opd_config_release(opd_telemetry_config_map, &t);
    return rc;
}

int opd_config_load_service(struct opd_config *c, const struct opd_load_ctx *ctx)
{
    const struct opd_node *svc = opd_node_map_get(c->root, "service");
    struct service_top top = {0};
    int rc;

    if (svc && svc->type != OPD_NODE_NULL && svc->type != OPD_NODE_MAP)
        return opd_cfg_errors_add(ctx->errs, &svc->pos, "service", "expected a map, got %s",
                                  opd_node_type_name(svc->type));
    for (size_t i = 0; svc && i < svc->n; i++) {
        const struct opd_node_pair *p = &svc->pairs[i];

        if (strcmp(p->key, "extensions") && strcmp(p->key, "pipelines") &&
            strcmp(p->key, "telemetry")) {
            char *path = opd_config_path("service", p->key);

            if (!path)
                return -ENOMEM;
            struct opd_suggest sg;

            opd_suggest_init(&sg, p->key);
            opd_suggest_add(&sg, "extensions");
            opd_suggest_add(&sg, "pipelines");
            opd_suggest_add(&sg, "telemetry");
            if (opd_suggest_best(&sg))
                rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                        "unknown key, did you mean \"%s\"? (valid keys: "
                                        "extensions, pipelines, telemetry)",
                                        opd_suggest_best(&sg));
            else
                rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                        "unknown key (valid keys: extensions, pipelines, "
                                        "telemetry)");
            opd_free(path);
            if (rc)
                return rc;
        }
    }
    rc = load_telemetry(c, svc, ctx->errs);
    if (rc)
        return rc;
    {
        /* Bind only the extensions key; the other keys are handled above and below. */
        const struct opd_node_pair *ep = opd_node_map_find(svc, "extensions");

        if (ep && ep->value->type != OPD_NODE_NULL) {
            struct opd_node wrap = {
                .type = OPD_NODE_MAP, .pos = svc->pos, .pairs = (struct opd_node_pair *)ep, .n = 1};

            rc = opd_config_bind(service_ext_map, &wrap, &top, "service", ctx->errs);
            if (rc == -EINVAL)
                rc = 0;
            if (!rc)
                rc = check_refs(c, OPD_KIND_EXTENSION, "extensions", svc, &top.extensions,
                                "service", ctx->errs);
            if (!rc)
                take_list(&top.extensions, &c->service.extensions, &c->service.n_extensions);
            opd_config_release(service_ext_map, &top);
            if (rc)
                return rc;
        }
    }
    return load_pipelines(c, svc, ctx->errs);
}
