/* processor "team": the owning team of each resource, written to a configurable
 * attribute with where the answer came from in a second one. Order: the pod's
 * annotations then labels (keys in order), the owning workload's, the namespace's, then
 * static rules (namespace / workload / service.name regexes), then default_team. */
#ifndef OPD_TEAM_H
#define OPD_TEAM_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_config.h"
#include "config/config_map.h"

struct opd_batch;

struct opd_team_rule_cfg {
    char *ns; /* "namespace" */
    char *workload;
    char *service;
    char *team;
};

struct opd_team_cfg {
    struct opd_k8s_api_cfg api;
    bool from_kubernetes;
    char *attribute;
    char *source_attribute;
    struct opd_strlist keys;
    struct opd_seclist rules; /* of opd_team_rule_cfg */
    char *default_team;
};

extern const struct opd_config_map opd_team_config_map[];

struct opd_team_rule {
    regex_t ns, workload, service;
    bool has_ns, has_workload, has_service;
    char *team;
};

struct opd_team_rules {
    char *attribute, *source_attribute, *default_team;
    char **keys;
    size_t n_keys;
    struct opd_team_rule *rules;
    size_t n_rules;
};

/* Where a team came from, as written to the source attribute. */
enum opd_team_source {
    OPD_TEAM_RESOURCE, /* already on the resource */
    OPD_TEAM_POD_ANNOTATION,
    OPD_TEAM_POD_LABEL,
    OPD_TEAM_WORKLOAD_ANNOTATION,
    OPD_TEAM_WORKLOAD_LABEL,
    OPD_TEAM_NAMESPACE_ANNOTATION,
    OPD_TEAM_NAMESPACE_LABEL,
    OPD_TEAM_RULE,
    OPD_TEAM_DEFAULT,
    OPD_TEAM_NSOURCES,
};

const char *opd_team_source_name(enum opd_team_source s);

/* Compiles cfg into r (zeroed by the caller). 0, -EINVAL with a message in err (bad
 * regex, rule without team or without any match field), -ENOMEM. Free with
 * opd_team_rules_fini either way. */
int opd_team_rules_compile(const struct opd_team_cfg *cfg, struct opd_team_rules *r, char *err,
                           size_t errlen);
void opd_team_rules_fini(struct opd_team_rules *r);

/* Tags every resource of b; cache may be NULL (rules and default only). counts[source]
 * is incremented per resource. Returns 0 or -ENOMEM. */
int opd_team_apply(const struct opd_team_rules *r, struct opd_k8s_cache *cache, struct opd_batch *b,
                   uint64_t counts[OPD_TEAM_NSOURCES]);

#endif
