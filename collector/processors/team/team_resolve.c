/* team: compiling rules and resolving the owner of each resource (see team.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/k8s/k8s_client.h"
#include "collector/mem.h"
#include "otlp/profiles.h"
#include "team.h"

static const char *const source_names[OPD_TEAM_NSOURCES] = {
    "resource",       "pod_annotation",       "pod_label",       "workload_annotation",
    "workload_label", "namespace_annotation", "namespace_label", "rule",
    "default",
};

const char *opd_team_source_name(enum opd_team_source s)
{
    return (unsigned)s < OPD_TEAM_NSOURCES ? source_names[s] : "unknown";
}

void opd_team_rules_fini(struct opd_team_rules *r)
{
    for (size_t i = 0; i < r->n_rules; i++) {
        struct opd_team_rule *t = &r->rules[i];

        if (t->has_ns)
            regfree(&t->ns);
        if (t->has_workload)
            regfree(&t->workload);
        if (t->has_service)
            regfree(&t->service);
        opd_free(t->team);
    }
    opd_free(r->rules);
    for (size_t i = 0; i < r->n_keys; i++)
        opd_free(r->keys[i]);
    opd_free(r->keys);
    opd_free(r->attribute);
    opd_free(r->source_attribute);
    opd_free(r->default_team);
    memset(r, 0, sizeof(*r));
}

static int compile_one(regex_t *re, bool *has, const char *pat, const char *what, size_t idx,
                       char *err, size_t errlen)
{
    int rc;

    if (!pat || !pat[0])
        return 0;
    rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[128];

        regerror(rc, re, msg, sizeof(msg));
        snprintf(err, errlen, "rules::%zu::%s: %s: %s", idx, what, pat, msg);
        return -EINVAL;
    }
    *has = true;
    return 0;
}

int opd_team_rules_compile(const struct opd_team_cfg *cfg, struct opd_team_rules *r, char *err,
                           size_t errlen)
{
    const struct opd_team_rule_cfg *rc = cfg->rules.items;
    int e;

    if (!(r->attribute = opd_strdup(cfg->attribute ? cfg->attribute : "team.name")) ||
        !(r->source_attribute = opd_strdup(cfg->source_attribute ? cfg->source_attribute : "")) ||
        !(r->default_team = opd_strdup(cfg->default_team ? cfg->default_team : "")))
        return -ENOMEM;
    if (!r->attribute[0]) {
        snprintf(err, errlen, "attribute must not be empty");
        return -EINVAL;
    }
    if (cfg->keys.n && !(r->keys = opd_calloc(cfg->keys.n, sizeof(char *))))
        return -ENOMEM;
    for (size_t i = 0; i < cfg->keys.n; i++, r->n_keys++)
        if (!(r->keys[i] = opd_strdup(cfg->keys.v[i])))
            return -ENOMEM;
    if (cfg->rules.n && !(r->rules = opd_calloc(cfg->rules.n, sizeof(*r->rules))))
        return -ENOMEM;
    for (size_t i = 0; i < cfg->rules.n; i++) {
        struct opd_team_rule *t = &r->rules[r->n_rules++]; /* counted now: fini frees it */

        if (!rc[i].team || !rc[i].team[0]) {
            snprintf(err, errlen, "rules::%zu: team must be set", i);
            return -EINVAL;
        }
        if (!(t->team = opd_strdup(rc[i].team)))
            return -ENOMEM;
        if ((e = compile_one(&t->ns, &t->has_ns, rc[i].ns, "namespace", i, err, errlen)) ||
            (e = compile_one(&t->workload, &t->has_workload, rc[i].workload, "workload", i, err,
                             errlen)) ||
            (e = compile_one(&t->service, &t->has_service, rc[i].service, "service", i, err,
                             errlen)))
            return e;
        if (!t->has_ns && !t->has_workload && !t->has_service) {
            snprintf(err, errlen, "rules::%zu: give namespace, workload or service to match", i);
            return -EINVAL;
        }
    }
    return 0;
}

static const char *res_str(const struct opd_resource *res, const char *key)
{
    const struct opd_value *v = opd_attrs_get(&res->attrs, key);

    return v && v->type == OPD_VAL_STR && v->u.str[0] ? v->u.str : NULL;
}

/* The first of keys found on o: annotations first, then labels. */
static const char *from_object(const struct opd_team_rules *r, const struct opd_k8s_object *o,
                               enum opd_team_source annot, enum opd_team_source label,
                               enum opd_team_source *src)
{
    const char *v;

    if (!o)
        return NULL;
    for (size_t i = 0; i < r->n_keys; i++) {
        if ((v = opd_k8s_annotation(o, r->keys[i])) && v[0]) {
            *src = annot;
            return v;
        }
        if ((v = opd_k8s_label(o, r->keys[i])) && v[0]) {
            *src = label;
            return v;
        }
    }
    return NULL;
}

static bool rule_matches(const struct opd_team_rule *t, const char *ns, const char *workload,
                         const char *service)
{
    if (t->has_ns && (!ns || regexec(&t->ns, ns, 0, NULL, 0) != 0))
        return false;
    if (t->has_workload && (!workload || regexec(&t->workload, workload, 0, NULL, 0) != 0))
        return false;
    if (t->has_service && (!service || regexec(&t->service, service, 0, NULL, 0) != 0))
        return false;
    return true;
}

/* The workload name already on the resource (from k8sattributes). */
static const char *res_workload(const struct opd_resource *res)
{
    static const char *const keys[] = {"k8s.deployment.name", "k8s.statefulset.name",
                                       "k8s.daemonset.name",  "k8s.cronjob.name",
                                       "k8s.job.name",        "k8s.replicaset.name"};
    const char *v;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if ((v = res_str(res, keys[i])))
            return v;
    return NULL;
}

static int tag_one(const struct opd_team_rules *r, struct opd_k8s_cache *cache, struct opd_batch *b,
                   struct opd_resource *res, uint64_t counts[OPD_TEAM_NSOURCES])
{
    struct opd_k8s_object *pod = NULL, *owner = NULL, *nso = NULL;
    enum opd_team_source src = OPD_TEAM_DEFAULT;
    const char *team = NULL, *ns = res_str(res, "k8s.namespace.name");
    const char *workload = res_workload(res);
    char wname[256];
    int err = 0;

    if (res_str(res, r->attribute)) {
        counts[OPD_TEAM_RESOURCE]++;
        if (r->source_attribute[0] && !opd_attrs_get(&res->attrs, r->source_attribute))
            err = opd_attrs_set_str(b, &res->attrs, r->source_attribute, "resource");
        return err;
    }
    if (cache) {
        pod = opd_k8s_cache_by_uid(cache, res_str(res, "k8s.pod.uid"));
        if (!pod)
            pod = opd_k8s_cache_pod_by_container(cache, res_str(res, "container.id"));
    }
    if (pod) {
        const char *wkind;

        ns = pod->ns;
        opd_k8s_resolve_workload(cache, pod, &wkind, wname, sizeof(wname), &owner);
        if (wname[0])
            workload = wname;
        team = from_object(r, pod, OPD_TEAM_POD_ANNOTATION, OPD_TEAM_POD_LABEL, &src);
        if (!team)
            team =
                from_object(r, owner, OPD_TEAM_WORKLOAD_ANNOTATION, OPD_TEAM_WORKLOAD_LABEL, &src);
    }
    if (!team && cache && ns) {
        nso = opd_k8s_cache_by_name(cache, OPD_K8S_NAMESPACE, "", ns);
        team = from_object(r, nso, OPD_TEAM_NAMESPACE_ANNOTATION, OPD_TEAM_NAMESPACE_LABEL, &src);
    }
    for (size_t i = 0; !team && i < r->n_rules; i++) {
        if (rule_matches(&r->rules[i], ns, workload, res_str(res, "service.name"))) {
            team = r->rules[i].team;
            src = OPD_TEAM_RULE;
        }
    }
    if (!team) {
        team = r->default_team;
        src = OPD_TEAM_DEFAULT;
    }
    counts[src]++;
    if (team[0])
        err = opd_attrs_set_str(b, &res->attrs, r->attribute, team);
    if (!err && r->source_attribute[0])
        err = opd_attrs_set_str(b, &res->attrs, r->source_attribute, opd_team_source_name(src));
    opd_k8s_object_unref(pod);
    opd_k8s_object_unref(owner);
    opd_k8s_object_unref(nso);
    return err;
}

int opd_team_apply(const struct opd_team_rules *r, struct opd_k8s_cache *cache, struct opd_batch *b,
                   uint64_t counts[OPD_TEAM_NSOURCES])
{
    for (size_t i = 0; i < b->n_resources; i++) {
        int err = tag_one(r, cache, b, &b->resources[i], counts);

        if (err)
            return err;
    }
    return 0;
}
