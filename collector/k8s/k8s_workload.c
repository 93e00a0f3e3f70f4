/* Workload resolution: which Deployment, StatefulSet, DaemonSet, CronJob or Job a pod
 * belongs to, through its controller owner reference. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "collector/k8s/k8s_client.h"

static void copy(char *dst, size_t len, const char *s, size_t n)
{
    if (!len)
        return;
    if (n >= len)
        n = len - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* "<prefix>-<suffix>" → length of prefix when the suffix satisfies ok, else 0. */
static size_t strip_suffix(const char *name, const char *want)
{
    const char *dash = strrchr(name, '-');

    if (!dash || dash == name)
        return 0;
    if (want)
        return strcmp(dash + 1, want) == 0 ? (size_t)(dash - name) : 0;
    for (const char *p = dash + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return dash[1] ? (size_t)(dash - name) : 0;
}

void opd_k8s_resolve_workload(struct opd_k8s_cache *cache, const struct opd_k8s_object *pod,
                              const char **kind, char *name, size_t name_len,
                              struct opd_k8s_object **owner_obj)
{
    const char *ok = pod->owner_kind, *on = pod->owner_name;
    struct opd_k8s_object *o = NULL;
    size_t n;

    *kind = "";
    copy(name, name_len, "", 0);
    if (owner_obj)
        *owner_obj = NULL;
    if (!ok[0])
        return;
    if (strcmp(ok, "ReplicaSet") == 0) {
        o = cache ? opd_k8s_cache_by_name(cache, OPD_K8S_REPLICASET, pod->ns, on) : NULL;
        if (o && strcmp(o->owner_kind, "Deployment") == 0) {
            *kind = "Deployment";
            copy(name, name_len, o->owner_name, strlen(o->owner_name));
        } else if (!o && (n = strip_suffix(on, opd_k8s_label(pod, "pod-template-hash")))) {
            /* Not watched: the Deployment controller names ReplicaSets <deployment>-<hash>. */
            *kind = "Deployment";
            copy(name, name_len, on, n);
        } else {
            *kind = "ReplicaSet";
            copy(name, name_len, on, strlen(on));
        }
    } else if (strcmp(ok, "Job") == 0) {
        o = cache ? opd_k8s_cache_by_name(cache, OPD_K8S_JOB, pod->ns, on) : NULL;
        if (o && strcmp(o->owner_kind, "CronJob") == 0) {
            *kind = "CronJob";
            copy(name, name_len, o->owner_name, strlen(o->owner_name));
        } else if (!o && (n = strip_suffix(on, NULL))) {
            /* The CronJob controller names Jobs <cronjob>-<scheduled minute>. */
            *kind = "CronJob";
            copy(name, name_len, on, n);
        } else {
            *kind = "Job";
            copy(name, name_len, on, strlen(on));
        }
    } else {
        *kind = strcmp(ok, "StatefulSet") == 0 ? "StatefulSet"
                : strcmp(ok, "DaemonSet") == 0 ? "DaemonSet"
                                               : "";
        if ((*kind)[0])
            copy(name, name_len, on, strlen(on));
    }
    /* The workload object itself when it is watched (Deployment, StatefulSet, DaemonSet). */
    if (cache && name[0]) {
        enum opd_k8s_kind wk = strcmp(*kind, "Deployment") == 0    ? OPD_K8S_DEPLOYMENT
                               : strcmp(*kind, "StatefulSet") == 0 ? OPD_K8S_STATEFULSET
                               : strcmp(*kind, "DaemonSet") == 0   ? OPD_K8S_DAEMONSET
                                                                   : OPD_K8S_NKINDS;
        struct opd_k8s_object *w =
            wk != OPD_K8S_NKINDS ? opd_k8s_cache_by_name(cache, wk, pod->ns, name) : NULL;

        if (w) {
            opd_k8s_object_unref(o);
            o = w;
        }
    }
    if (owner_obj)
        *owner_obj = o;
    else
        opd_k8s_object_unref(o);
}
