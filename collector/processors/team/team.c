/* processor "team": tags each resource with its owning team and the source of that
 * answer (see team.h), reading pod, workload and namespace metadata from the shared
 * Kubernetes client (the same one k8sattributes uses when the settings are equal). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/k8s/k8s_client.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"
#include "team.h"

struct team {
    struct opd_component base;
    struct opd_component *next;
    struct opd_k8s_api_cfg api;
    bool from_kubernetes;
    struct opd_team_rules rules;
    struct opd_k8s_client *client;
    struct opd_telemetry *telemetry;
    struct opd_metric *m_source[OPD_TEAM_NSOURCES];
    struct opd_metric *m_failed;
};

static int team_consume(struct opd_component *self, struct opd_batch *b)
{
    struct team *t = (struct team *)self;
    uint64_t counts[OPD_TEAM_NSOURCES] = {0};
    int err;

    if (b->readonly) {
        struct opd_batch *c = opd_batch_clone(b);

        opd_batch_unref(b);
        if (!c)
            return -ENOMEM;
        b = c;
    }
    err = opd_team_apply(&t->rules, t->client ? opd_k8s_client_cache(t->client) : NULL, b, counts);
    for (int i = 0; i < OPD_TEAM_NSOURCES; i++)
        opd_metric_add(t->m_source[i], (int64_t)counts[i]);
    if (err) {
        OPD_WARN(self->logname, "tagging a batch: %s", strerror(-err));
        opd_metric_add(t->m_failed, 1);
    }
    return opd_component_consume(t->next, b);
}

static int team_start(struct opd_component *self, struct opd_host *host)
{
    struct team *t = (struct team *)self;
    struct opd_k8s_settings s;
    char err[512];
    int rc;

    if (!t->from_kubernetes)
        return 0;
    if ((rc = opd_k8s_settings_from_cfg(&t->api, &s, err, sizeof(err)))) {
        OPD_ERR(self->logname, "%s", err);
        return rc;
    }
    t->client = opd_k8s_client_acquire(&s, self->logname, t->telemetry, err, sizeof(err));
    if (!t->client) {
        rc = -errno;
        OPD_ERR(self->logname,
                "Kubernetes API: %s (set from_kubernetes: false to use only "
                "rules and default_team)",
                err);
        return rc;
    }
    return 0;
}

static int team_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct team *t = (struct team *)self;

    opd_k8s_client_release(t->client);
    t->client = NULL;
    return 0;
}

static void team_destroy(struct opd_component *self)
{
    struct team *t = (struct team *)self;

    opd_k8s_client_release(t->client);
    opd_team_rules_fini(&t->rules);
    opd_k8s_api_cfg_fini(&t->api);
    opd_free(t);
}

static const struct opd_component_ops team_ops = {
    .start = team_start,
    .consume = team_consume,
    .shutdown = team_shutdown,
    .destroy = team_destroy,
};

static struct opd_component *team_create(const struct opd_create_params *params, const void *cfgp)
{
    const struct opd_team_cfg *cfg = cfgp;
    struct team *t = opd_calloc(1, sizeof(*t));
    char err[512], labels[256];
    int rc = -ENOMEM;

    if (!t)
        goto fail;
    t->base.ops = &team_ops;
    t->next = params->next;
    t->telemetry = params->telemetry;
    t->from_kubernetes = cfg->from_kubernetes;
    if ((rc = opd_k8s_api_cfg_copy(&t->api, &cfg->api)))
        goto fail;
    if ((rc = opd_team_rules_compile(cfg, &t->rules, err, sizeof(err)))) {
        if (rc == -EINVAL)
            OPD_ERR(params->logname, "%s", err);
        goto fail;
    }
    for (int i = 0; i < OPD_TEAM_NSOURCES; i++) {
        snprintf(labels, sizeof(labels), "processor=\"%s\",source=\"%s\"", params->id,
                 opd_team_source_name(i));
        t->m_source[i] =
            opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER, "otelprofd_team_resources",
                                 labels, "Resources tagged with a team, by source.");
    }
    snprintf(labels, sizeof(labels), "processor=\"%s\"", params->id);
    t->m_failed =
        opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER, "otelprofd_team_failed_batches",
                             labels, "Batches only partly tagged for lack of memory.");
    return &t->base;
fail:
    if (t)
        team_destroy(&t->base);
    errno = -rc;
    return NULL;
}

static int team_validate(const void *cfgp, char *err, size_t len)
{
    struct opd_team_rules r = {0};
    int rc = opd_team_rules_compile(cfgp, &r, err, len);

    opd_team_rules_fini(&r);
    return rc == -EINVAL ? rc : 0;
}

static const struct opd_config_map rule_map[] = {
    {OPD_CFG_STRING, "namespace", NULL, 0, 0, offsetof(struct opd_team_rule_cfg, ns),
     "Regex (POSIX extended) on the namespace"},
    {OPD_CFG_STRING, "workload", NULL, 0, 0, offsetof(struct opd_team_rule_cfg, workload),
     "Regex on the workload (Deployment, StatefulSet, DaemonSet, CronJob, Job) name"},
    {OPD_CFG_STRING, "service", NULL, 0, 0, offsetof(struct opd_team_rule_cfg, service),
     "Regex on service.name"},
    {OPD_CFG_STRING, "team", NULL, 0, 0, offsetof(struct opd_team_rule_cfg, team),
     "Team when every given regex matches"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_team_config_map[] = {
    OPD_K8S_API_CFG_ENTRIES(struct opd_team_cfg, api),
    {OPD_CFG_BOOL, "from_kubernetes", "true", 0, 0, offsetof(struct opd_team_cfg, from_kubernetes),
     "Read pod, workload and namespace annotations and labels from the API server"},
    {OPD_CFG_STRING, "attribute", "team.name", 0, 0, offsetof(struct opd_team_cfg, attribute),
     "Resource attribute receiving the team"},
    {OPD_CFG_STRING, "source_attribute", "team.source", 0, 0,
     offsetof(struct opd_team_cfg, source_attribute),
     "Resource attribute receiving where the team came from (\"\" to leave out)"},
    {OPD_CFG_STRLIST, "keys", "[team]", 0, 0, offsetof(struct opd_team_cfg, keys),
     "Annotation/label keys naming the team, e.g. team.example.com/owner"},
    {OPD_CFG_SECTIONS, "rules", NULL, 0, 0, offsetof(struct opd_team_cfg, rules),
     "Static rules tried in order after Kubernetes metadata", .sub = rule_map,
     .elem_size = sizeof(struct opd_team_rule_cfg)},
    {OPD_CFG_STRING, "default_team", "unowned", 0, 0, offsetof(struct opd_team_cfg, default_team),
     "Team when nothing else answers (\"\" to leave the attribute unset)"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_team_processor_factory = {
    .type = "team",
    .kind = OPD_KIND_PROCESSOR,
    .description = "tags resources with their owning team and where that came from",
    .config_map = opd_team_config_map,
    .config_size = sizeof(struct opd_team_cfg),
    .mutates_data = true,
    .validate = team_validate,
    .create = team_create,
};
