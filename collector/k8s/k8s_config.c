/* Shared Kubernetes connection options (see k8s_config.h). */
#include "collector/k8s/k8s_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

const char *const opd_k8s_auth_types[] = {"serviceAccount", "kubeConfig", "none", NULL};

const struct opd_config_map opd_k8s_filter_map[] = {
    {OPD_CFG_STRING, "node", NULL, 0, 0, offsetof(struct opd_k8s_filter_cfg, node),
     "Only pods on this node"},
    {OPD_CFG_STRING, "node_from_env_var", NULL, 0, 0,
     offsetof(struct opd_k8s_filter_cfg, node_from_env_var),
     "Only pods on the node named by this environment variable (Downward API spec.nodeName)"},
    {OPD_CFG_STRLIST, "namespace", NULL, 0, 0, offsetof(struct opd_k8s_filter_cfg, ns),
     "Only pods in this namespace (or these namespaces)"},
    OPD_CFG_MAP_END,
};

int opd_k8s_settings_from_cfg(const struct opd_k8s_api_cfg *cfg, struct opd_k8s_settings *s,
                              char *err, size_t errlen)
{
    const char *node = cfg->filter.node;

    memset(s, 0, sizeof(*s));
    s->auth_type = cfg->auth_type;
    if ((!node || !node[0]) && cfg->filter.node_from_env_var && cfg->filter.node_from_env_var[0]) {
        node = getenv(cfg->filter.node_from_env_var);
        if (!node || !node[0]) {
            snprintf(err, errlen,
                     "filter::node_from_env_var: environment variable %s is not set (set it "
                     "from the Downward API: fieldRef spec.nodeName)",
                     cfg->filter.node_from_env_var);
            return -EINVAL;
        }
    }
    s->node = node;
    s->namespaces = (const char *const *)cfg->filter.ns.v;
    s->n_namespaces = cfg->filter.ns.n;
    s->namespace_metadata = cfg->filter.ns.n == 0;
    s->owners = true;
    s->workloads = cfg->watch_workloads;
    return 0;
}

int opd_k8s_api_cfg_copy(struct opd_k8s_api_cfg *dst, const struct opd_k8s_api_cfg *src)
{
    dst->watch_workloads = src->watch_workloads;
    if ((src->auth_type && !(dst->auth_type = opd_strdup(src->auth_type))) ||
        (src->filter.node && !(dst->filter.node = opd_strdup(src->filter.node))) ||
        (src->filter.node_from_env_var &&
         !(dst->filter.node_from_env_var = opd_strdup(src->filter.node_from_env_var))))
        return -ENOMEM;
    if (src->filter.ns.n) {
        dst->filter.ns.v = opd_calloc(src->filter.ns.n, sizeof(char *));
        if (!dst->filter.ns.v)
            return -ENOMEM;
        for (size_t i = 0; i < src->filter.ns.n; i++, dst->filter.ns.n++)
            if (!(dst->filter.ns.v[i] = opd_strdup(src->filter.ns.v[i])))
                return -ENOMEM;
    }
    return 0;
}

void opd_k8s_api_cfg_fini(struct opd_k8s_api_cfg *c)
{
    opd_free(c->auth_type);
    opd_free(c->filter.node);
    opd_free(c->filter.node_from_env_var);
    for (size_t i = 0; i < c->filter.ns.n; i++)
        opd_free(c->filter.ns.v[i]);
    opd_free(c->filter.ns.v);
    memset(c, 0, sizeof(*c));
}
