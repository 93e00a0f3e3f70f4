/* The Kubernetes connection options every component that talks to the API server takes,
 * with the Collector's k8s_attributes names: auth_type, and filter {node,
 * node_from_env_var, namespace}. Components embed struct opd_k8s_api_cfg in their config
 * and list OPD_K8S_API_CFG_ENTRIES(their struct, member) in their config map, so equal
 * settings in different components give one shared client. */
#ifndef OPD_K8S_CONFIG_H
#define OPD_K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/k8s/k8s_client.h"
#include "config/config_map.h"

struct opd_k8s_filter_cfg {
    char *node;
    char *node_from_env_var;
    struct opd_strlist ns; /* "namespace": one name or a list */
};

struct opd_k8s_api_cfg {
    char *auth_type;
    struct opd_k8s_filter_cfg filter;
    bool watch_workloads;
};

extern const char *const opd_k8s_auth_types[];
extern const struct opd_config_map opd_k8s_filter_map[];

/* clang-format off */
#define OPD_K8S_API_CFG_ENTRIES(type, member)                                                      \
    {OPD_CFG_ENUM, "auth_type", "serviceAccount", 0, 0, offsetof(type, member.auth_type),          \
     "serviceAccount (in-cluster), kubeConfig ($KUBECONFIG or ~/.kube/config) or none",            \
     .choices = opd_k8s_auth_types},                                                               \
    {OPD_CFG_SECTION, "filter", NULL, 0, 0, offsetof(type, member.filter),                         \
     "Limit the watched pods to one node and/or to namespaces (a namespaced Role then "            \
     "suffices)", .sub = opd_k8s_filter_map},                                                      \
    {OPD_CFG_BOOL, "watch_workloads", "false", 0, 0, offsetof(type, member.watch_workloads),       \
     "Also watch Deployments, StatefulSets and DaemonSets, for their labels and annotations "      \
     "(needs get/list/watch on them)"}
/* clang-format on */

/* Fills s from cfg (s keeps pointers into cfg, which must outlive its use). The node comes
 * from filter.node, else from the variable named by filter.node_from_env_var. Namespace
 * objects are watched only without a namespace filter (they are cluster-scoped); owners
 * (ReplicaSets, Jobs) always. Returns 0, or -EINVAL with a message in err when the node
 * variable is named but unset. */
int opd_k8s_settings_from_cfg(const struct opd_k8s_api_cfg *cfg, struct opd_k8s_settings *s,
                              char *err, size_t errlen);

/* Deep-copies src into dst (zeroed by the caller). Returns 0 or -ENOMEM; dst is released
 * with opd_k8s_api_cfg_fini either way. */
int opd_k8s_api_cfg_copy(struct opd_k8s_api_cfg *dst, const struct opd_k8s_api_cfg *src);
void opd_k8s_api_cfg_fini(struct opd_k8s_api_cfg *c);

#endif
