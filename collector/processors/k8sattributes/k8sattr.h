/* processor "k8sattributes": its config (the Collector's names and defaults) and the
 * enrichment step, separate from the component so tests can drive it with a cache they
 * fill themselves. */
#ifndef OPD_K8SATTR_H
#define OPD_K8SATTR_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_config.h"
#include "config/config_map.h"

struct opd_batch;

struct opd_k8sattr_source_cfg {
    char *from; /* resource_attribute | connection */
    char *name;
};

struct opd_k8sattr_assoc_cfg {
    struct opd_seclist sources; /* of opd_k8sattr_source_cfg */
};

struct opd_k8sattr_field_cfg {
    char *tag_name;
    char *key;
    char *key_regex;
    char *from; /* pod | namespace */
};

struct opd_k8sattr_extract_cfg {
    struct opd_strlist metadata;
    struct opd_seclist labels;      /* of opd_k8sattr_field_cfg */
    struct opd_seclist annotations; /* of opd_k8sattr_field_cfg */
    bool otel_annotations;
};

struct opd_k8sattr_cfg {
    struct opd_k8s_api_cfg api;
    bool passthrough;
    struct opd_k8sattr_extract_cfg extract;
    struct opd_seclist pod_association; /* of opd_k8sattr_assoc_cfg */
    bool wait_for_metadata;
    int64_t wait_for_metadata_timeout;
};

extern const struct opd_config_map opd_k8sattr_config_map[];

/* Metadata attributes, one bit each (extract.metadata). */
enum {
    OPD_K8SATTR_NAMESPACE = 1u << 0,
    OPD_K8SATTR_POD_NAME = 1u << 1,
    OPD_K8SATTR_POD_UID = 1u << 2,
    OPD_K8SATTR_POD_START = 1u << 3,
    OPD_K8SATTR_NODE = 1u << 4,
    OPD_K8SATTR_CONTAINER = 1u << 5,
    OPD_K8SATTR_IMAGE_NAME = 1u << 6,
    OPD_K8SATTR_IMAGE_TAG = 1u << 7,
    OPD_K8SATTR_DEPLOYMENT = 1u << 8,
    OPD_K8SATTR_REPLICASET = 1u << 9,
    OPD_K8SATTR_STATEFULSET = 1u << 10,
    OPD_K8SATTR_DAEMONSET = 1u << 11,
    OPD_K8SATTR_JOB = 1u << 12,
    OPD_K8SATTR_CRONJOB = 1u << 13,
    OPD_K8SATTR_SERVICE_NAME = 1u << 14,
    OPD_K8SATTR_CONTAINER_ID = 1u << 15,
};

struct opd_k8sattr_field {
    enum opd_k8s_kind from; /* POD, NAMESPACE, JOB, DEPLOYMENT, STATEFULSET or DAEMONSET */
    bool annotation;
    char *tag_name; /* NULL: the Collector's default name */
    char *key;      /* exact key, or NULL with re set */
    regex_t re;
    bool has_re;
};

/* Association rule: which resource attributes identify the pod. */
enum opd_k8sattr_id { OPD_K8SATTR_BY_CONTAINER, OPD_K8SATTR_BY_UID, OPD_K8SATTR_BY_NAME };

struct opd_k8sattr_rule {
    char **names; /* resource attribute names that must all be present */
    size_t n;
    bool connection; /* has a "connection" source: never matches in a node-local daemon */
    enum opd_k8sattr_id by;
};

struct opd_k8sattr_rules {
    uint32_t metadata;
    struct opd_k8sattr_field *fields;
    size_t n_fields;
    struct opd_k8sattr_rule *assoc;
    size_t n_assoc;
    bool otel_annotations;
};

struct opd_k8sattr_counts {
    uint64_t resources, matched, missed, no_identity;
};

/* Compiles cfg into r (zeroed by the caller). Returns 0, -EINVAL with a message in err
 * (unknown metadata name, bad regex, bad source), or -ENOMEM. Free with
 * opd_k8sattr_rules_fini either way. */
int opd_k8sattr_rules_compile(const struct opd_k8sattr_cfg *cfg, struct opd_k8sattr_rules *r,
                              char *err, size_t errlen);
void opd_k8sattr_rules_fini(struct opd_k8sattr_rules *r);

/* Enriches every resource of b from cache. Attributes already present are kept, except
 * service.name when it is only the executable's name. Returns 0 or -ENOMEM (b may then
 * be partly enriched); counts are added to *cnt. */
int opd_k8sattr_apply(const struct opd_k8sattr_rules *r, struct opd_k8s_cache *cache,
                      struct opd_batch *b, struct opd_k8sattr_counts *cnt);

#endif
