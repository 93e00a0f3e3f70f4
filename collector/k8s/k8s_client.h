/* The Kubernetes metadata client: one per set of connection settings in the daemon,
 * shared by every component that asks with equal settings (the receiver's scope,
 * k8s_attributes, team), so the API server sees one set of watches.
 *
 * Per watched kind (pods; ReplicaSets and Jobs to resolve Deployments and CronJobs;
 * Namespaces when allowed) and per namespace of the filter, a thread LISTs in chunks
 * (limit/continue), then WATCHes from the list's resourceVersion with bookmarks, keeps
 * the resourceVersion of every event, relists on 410 Gone, and reconnects with
 * exponential backoff after errors. Everything lands in one opd_k8s_cache. Under a
 * namespace filter only namespaced endpoints are used, so a namespaced Role suffices. */
#ifndef OPD_K8S_CLIENT_H
#define OPD_K8S_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/k8s/k8s_cache.h"

struct opd_telemetry;

struct opd_k8s_settings {
    const char *auth_type;         /* "serviceAccount" (default), "kubeConfig", "none" */
    const char *kubeconfig;        /* kubeConfig: file; NULL = $KUBECONFIG or ~/.kube/config */
    const char *sa_dir;            /* serviceAccount: directory; NULL = the standard one */
    const char *node;              /* only pods on this node; NULL or "" = every node */
    const char *const *namespaces; /* only these namespaces; none = cluster-wide */
    size_t n_namespaces;
    bool namespace_metadata; /* watch Namespace objects (cluster-scoped: needs a ClusterRole) */
    bool owners;             /* watch ReplicaSets and Jobs */
    bool workloads;          /* watch Deployments, StatefulSets and DaemonSets */
    size_t max_objects;      /* cache bound; 0 = 100000 */
    uint64_t grace_ns;       /* kept after deletion; 0 = 120 s */
    uint64_t backoff_initial_ns, backoff_max_ns; /* 0 = 1 s, 30 s */
    int watch_timeout_s;                         /* timeoutSeconds of each watch; 0 = 300 */
    int list_limit;                              /* items per LIST page; 0 = 500 */
};

struct opd_k8s_client_stats {
    uint64_t lists;   /* LIST pages fetched */
    uint64_t relists; /* relists after 410 Gone */
    uint64_t watches; /* WATCH requests opened */
    uint64_t events;  /* watch events applied */
    uint64_t bookmarks;
    uint64_t errors;      /* failed requests (each followed by a backoff) */
    uint64_t auth_errors; /* 401/403 answers */
};

struct opd_k8s_client;

/* Returns the client for these settings, creating and starting it (threads, watches) when
 * no component holds one with equal settings yet. who names the first user in log lines;
 * telemetry (may be NULL) receives the client's metrics. NULL with errno (ENOENT/EINVAL:
 * no usable connection settings, message in err; ENOMEM). */
struct opd_k8s_client *opd_k8s_client_acquire(const struct opd_k8s_settings *s, const char *who,
                                              struct opd_telemetry *telemetry, char *err,
                                              size_t errlen);

/* Drops a reference; the last stops the threads (within a second or so) and frees the
 * client and its cache. NULL is a no-op. */
void opd_k8s_client_release(struct opd_k8s_client *c);

/* Waits until every watcher has completed its first LIST. Returns 0 or -ETIMEDOUT. */
int opd_k8s_client_wait_synced(struct opd_k8s_client *c, uint64_t timeout_ns);

/* The cache the watches fill; valid until the client is released. */
struct opd_k8s_cache *opd_k8s_client_cache(struct opd_k8s_client *c);

void opd_k8s_client_get_stats(struct opd_k8s_client *c, struct opd_k8s_client_stats *out);

/* Resolves the workload of a pod: kind ("Deployment", "StatefulSet", "DaemonSet",
 * "CronJob", "Job", "ReplicaSet" or "") and name, following ReplicaSet → Deployment and
 * Job → CronJob through the cache when the owner objects are watched, else by the
 * controllers' naming rules. Also returns the most specific cached object of the
 * workload (the Deployment, StatefulSet or DaemonSet when workloads are watched, else the
 * ReplicaSet or Job; a reference, or NULL). */
void opd_k8s_resolve_workload(struct opd_k8s_cache *cache, const struct opd_k8s_object *pod,
                              const char **kind, char *name, size_t name_len,
                              struct opd_k8s_object **owner_obj);

#endif
