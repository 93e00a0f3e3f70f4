/* processor "k8s_attributes" (alias "k8sattributes"): adds Kubernetes metadata to each resource (process →
 * container.id / k8s.pod.uid → pod, container, workload), from the shared metadata
 * client. Collector option names and defaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/k8s/k8s_client.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "k8sattr.h"
#include "otlp/profiles.h"

struct k8sattr {
    struct opd_component base;
    struct opd_component *next;
    struct opd_k8sattr_cfg cfg; /* only what start needs: api, passthrough, wait */
    struct opd_k8sattr_rules rules;
    struct opd_k8s_client *client;
    struct opd_telemetry *telemetry;
    struct opd_metric *m_miss, *m_matched, *m_failed;
};

static int k8sattr_consume(struct opd_component *self, struct opd_batch *b)
{
    struct k8sattr *p = (struct k8sattr *)self;
    struct opd_k8sattr_counts cnt = {0};
    int err;

    if (!p->client)
        return opd_component_consume(p->next, b);
    if (b->readonly) {
        struct opd_batch *c = opd_batch_clone(b);

        opd_batch_unref(b);
        if (!c)
            return -ENOMEM;
        b = c;
    }
    err = opd_k8sattr_apply(&p->rules, opd_k8s_client_cache(p->client), b, &cnt);
    opd_metric_add(p->m_miss, (int64_t)cnt.missed);
    opd_metric_add(p->m_matched, (int64_t)cnt.matched);
    if (err) {
        /* Half-enriched data is still correct data: attributes are only ever added. */
        OPD_WARN(self->logname, "enriching a batch: %s", strerror(-err));
        opd_metric_add(p->m_failed, 1);
    }
    return opd_component_consume(p->next, b);
}

static int k8sattr_start(struct opd_component *self, struct opd_host *host)
{
    struct k8sattr *p = (struct k8sattr *)self;
    struct opd_k8s_settings s;
    char err[512];
    int rc;

    if (p->cfg.passthrough)
        return 0;
    if ((rc = opd_k8s_settings_from_cfg(&p->cfg.api, &s, err, sizeof(err)))) {
        OPD_ERR(self->logname, "%s", err);
        return rc;
    }
    p->client = opd_k8s_client_acquire(&s, self->logname, p->telemetry, err, sizeof(err));
    if (!p->client) {
        rc = -errno;
        OPD_ERR(self->logname, "Kubernetes API: %s", err);
        return rc;
    }
    if (p->cfg.wait_for_metadata &&
        opd_k8s_client_wait_synced(p->client, (uint64_t)p->cfg.wait_for_metadata_timeout)) {
        OPD_ERR(self->logname, "metadata not synced within wait_for_metadata_timeout");
        return -ETIMEDOUT;
    }
    return 0;
}

static int k8sattr_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct k8sattr *p = (struct k8sattr *)self;

    opd_k8s_client_release(p->client);
    p->client = NULL;
    return 0;
}

static void k8sattr_destroy(struct opd_component *self)
{
    struct k8sattr *p = (struct k8sattr *)self;

    opd_k8s_client_release(p->client);
    opd_k8sattr_rules_fini(&p->rules);
    opd_k8s_api_cfg_fini(&p->cfg.api);
    opd_free(p);
}

static const struct opd_component_ops k8sattr_ops = {
    .start = k8sattr_start,
    .consume = k8sattr_consume,
    .shutdown = k8sattr_shutdown,
    .destroy = k8sattr_destroy,
};

static struct opd_component *k8sattr_create(const struct opd_create_params *params,
                                            const void *cfgp)
{
    const struct opd_k8sattr_cfg *cfg = cfgp;
    struct k8sattr *p = opd_calloc(1, sizeof(*p));
    char err[512], labels[256];
    int rc = -ENOMEM;

    if (!p)
        goto fail;
    p->base.ops = &k8sattr_ops;
    p->next = params->next;
    p->telemetry = params->telemetry;
    p->cfg.passthrough = cfg->passthrough;
    p->cfg.wait_for_metadata = cfg->wait_for_metadata;
    p->cfg.wait_for_metadata_timeout = cfg->wait_for_metadata_timeout;
    if ((rc = opd_k8s_api_cfg_copy(&p->cfg.api, &cfg->api)))
        goto fail;
    if ((rc = opd_k8sattr_rules_compile(cfg, &p->rules, err, sizeof(err)))) {
        if (rc == -EINVAL)
            OPD_ERR(params->logname, "%s", err);
        goto fail;
    }
    snprintf(labels, sizeof(labels), "processor=\"%s\"", params->id);
    p->m_miss = opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER,
                                     "otelcol_otelsvc_k8s_ip_lookup_miss", labels,
                                     "Resources whose pod identity was not found in the cache.");
    p->m_matched = opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER,
                                        "otelprofd_k8sattributes_matched_resources", labels,
                                        "Resources enriched with Kubernetes metadata.");
    p->m_failed = opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER,
                                       "otelprofd_k8sattributes_failed_batches", labels,
                                       "Batches only partly enriched for lack of memory.");
    return &p->base;
fail:
    if (p)
        k8sattr_destroy(&p->base);
    errno = -rc;
    return NULL;
}

static int k8sattr_validate(const void *cfgp, char *err, size_t len)
{
    struct opd_k8sattr_rules r = {0};
    int rc = opd_k8sattr_rules_compile(cfgp, &r, err, len);

    opd_k8sattr_rules_fini(&r);
    return rc == -EINVAL ? rc : 0;
}

static const char *const source_froms[] = {"resource_attribute", "connection", NULL};
static const char *const field_froms[] = {"pod",       "namespace", "deployment", "statefulset",
                                          "daemonset", "job",       NULL};

static const struct opd_config_map source_map[] = {
    {OPD_CFG_ENUM, "from", "resource_attribute", 0, 0,
     offsetof(struct opd_k8sattr_source_cfg, from), "resource_attribute or connection",
     .choices = source_froms},
    {OPD_CFG_STRING, "name", NULL, 0, 0, offsetof(struct opd_k8sattr_source_cfg, name),
     "Resource attribute holding the pod identity (container.id, k8s.pod.uid, ...)"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map assoc_map[] = {
    {OPD_CFG_SECTIONS, "sources", NULL, 0, 0, offsetof(struct opd_k8sattr_assoc_cfg, sources),
     "All of these must be present for the rule to apply", .sub = source_map,
     .elem_size = sizeof(struct opd_k8sattr_source_cfg)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map field_map[] = {
    {OPD_CFG_STRING, "tag_name", NULL, 0, 0, offsetof(struct opd_k8sattr_field_cfg, tag_name),
     "Attribute to write; $1.. refer to key_regex groups. Default k8s.<from>.<labels|"
     "annotations>.<key>"},
    {OPD_CFG_STRING, "key", NULL, 0, 0, offsetof(struct opd_k8sattr_field_cfg, key),
     "Exact label/annotation key"},
    {OPD_CFG_STRING, "key_regex", NULL, 0, 0, offsetof(struct opd_k8sattr_field_cfg, key_regex),
     "POSIX extended regex matching whole keys"},
    {OPD_CFG_ENUM, "from", "pod", 0, 0, offsetof(struct opd_k8sattr_field_cfg, from),
     "pod, namespace, deployment, statefulset, daemonset or job (the last four need "
     "watch_workloads, jobs are always watched)",
     .choices = field_froms},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map extract_map[] = {
    {OPD_CFG_STRLIST, "metadata",
     "[k8s.namespace.name, k8s.pod.name, k8s.pod.uid, k8s.pod.start_time, k8s.deployment.name, "
     "k8s.node.name]",
     0, 0, offsetof(struct opd_k8sattr_extract_cfg, metadata),
     "Metadata attributes to add (k8s.container.name, container.image.name/tag, "
     "k8s.replicaset/statefulset/daemonset/job/cronjob.name, service.name, ...)"},
    {OPD_CFG_SECTIONS, "labels", NULL, 0, 0, offsetof(struct opd_k8sattr_extract_cfg, labels),
     "Labels to copy into attributes", .sub = field_map,
     .elem_size = sizeof(struct opd_k8sattr_field_cfg)},
    {OPD_CFG_SECTIONS, "annotations", NULL, 0, 0,
     offsetof(struct opd_k8sattr_extract_cfg, annotations), "Annotations to copy into attributes",
     .sub = field_map, .elem_size = sizeof(struct opd_k8sattr_field_cfg)},
    {OPD_CFG_BOOL, "otel_annotations", "false", 0, 0,
     offsetof(struct opd_k8sattr_extract_cfg, otel_annotations),
     "Map resource.opentelemetry.io/<key> pod annotations to attributes"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_k8sattr_config_map[] = {
    OPD_K8S_API_CFG_ENTRIES(struct opd_k8sattr_cfg, api),
    {OPD_CFG_BOOL, "passthrough", "false", 0, 0, offsetof(struct opd_k8sattr_cfg, passthrough),
     "Do not contact the API server; pass resources on unchanged"},
    {OPD_CFG_SECTION, "extract", NULL, 0, 0, offsetof(struct opd_k8sattr_cfg, extract),
     "What to add", .sub = extract_map},
    {OPD_CFG_SECTIONS, "pod_association",
     "[{sources: [{from: resource_attribute, name: container.id}]}, "
     "{sources: [{from: resource_attribute, name: k8s.pod.uid}]}]",
     0, 0, offsetof(struct opd_k8sattr_cfg, pod_association),
     "Ordered rules identifying a resource's pod; the first rule whose attributes are all "
     "present decides",
     .sub = assoc_map, .elem_size = sizeof(struct opd_k8sattr_assoc_cfg)},
    {OPD_CFG_BOOL, "wait_for_metadata", "false", 0, 0,
     offsetof(struct opd_k8sattr_cfg, wait_for_metadata),
     "Fail start unless the first LIST completes within wait_for_metadata_timeout"},
    {OPD_CFG_DURATION, "wait_for_metadata_timeout", "10s", 0, 3600000000000LL,
     offsetof(struct opd_k8sattr_cfg, wait_for_metadata_timeout), "See wait_for_metadata"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_k8sattributes_processor_factory = {
    .type = "k8s_attributes",
    .alias = "k8sattributes", /* the Collector's name before v0.146 */
    .kind = OPD_KIND_PROCESSOR,
    .description = "adds Kubernetes pod, container and workload metadata to resources",
    .config_map = opd_k8sattr_config_map,
    .config_size = sizeof(struct opd_k8sattr_cfg),
    .mutates_data = true,
    .validate = k8sattr_validate,
    .create = k8sattr_create,
};
