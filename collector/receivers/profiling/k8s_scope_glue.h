/* The profiling receiver's Kubernetes scope: `scope.namespaces` and `scope.pod_selector`
 * (matchLabels) with the shared metadata client's connection settings. At every refresh
 * the pods the scope covers are looked up in the client's cache and their cgroup
 * directories handed to the scope filter, which puts the cgroup ids into the kernel's
 * include set: a process outside those pods is dropped by the BPF program before anything
 * about it leaves the kernel. Until the first pod is found nothing is sampled. */
#ifndef OPD_PROFILING_K8S_SCOPE_GLUE_H
#define OPD_PROFILING_K8S_SCOPE_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/k8s/k8s_config.h"
#include "config/config_map.h"

struct opd_scope_filter;
struct opd_telemetry;

struct opd_prof_k8s_scope_cfg {
    struct opd_strlist namespaces;
    struct opd_strmap pod_selector; /* label → value, all must match */
    struct opd_k8s_api_cfg api;     /* auth_type, filter, watch_workloads */
};

extern const struct opd_config_map opd_prof_k8s_scope_map[];

/* Whether the config asks for a Kubernetes scope (namespaces or pod_selector set). */
bool opd_prof_k8s_scope_configured(const struct opd_prof_k8s_scope_cfg *cfg);

/* Checks cfg: label keys and values, namespace names. Returns 0, or -EINVAL with a
 * message in err. */
int opd_prof_k8s_scope_check(const struct opd_prof_k8s_scope_cfg *cfg, char *err, size_t len);

struct opd_prof_k8s_scope;

/* Copies cfg's selection and connection settings; cgroup_root is where the cgroup tree
 * is mounted (its "unified" subdirectory is used on hybrid hosts). Connects nothing yet.
 * Returns NULL with errno ENOMEM. */
struct opd_prof_k8s_scope *opd_prof_k8s_scope_create(const struct opd_prof_k8s_scope_cfg *cfg,
                                                     const char *cgroup_root, const char *who);

/* Connects to the API server (sharing a client with equal settings) and waits up to
 * sync_timeout_ns for its first LIST. Returns 0, or -EINVAL/-ENOENT (bad or missing
 * connection settings, logged) or -ENOMEM. A LIST that has not finished in time is
 * logged, not an error: the scope then starts empty and fills as the watch catches up. */
int opd_prof_k8s_scope_start(struct opd_prof_k8s_scope *s, struct opd_telemetry *tel,
                             uint64_t sync_timeout_ns);

/* Releases the client reference (idempotent). */
void opd_prof_k8s_scope_stop(struct opd_prof_k8s_scope *s);

/* Stops and frees. NULL is a no-op. */
void opd_prof_k8s_scope_destroy(struct opd_prof_k8s_scope *s);

/* After start: selects the in-scope pods from the cache, finds their cgroup directories and hands them
 * to the filter (opd_prof_filter_set_pods); the filter's next refresh puts them in the
 * kernel. Logs when the set of pods changes. Returns 0 or -ENOMEM (the filter keeps the
 * previous pods then). */
int opd_prof_k8s_scope_refresh(struct opd_prof_k8s_scope *s, struct opd_scope_filter *f);

/* Pods and cgroup directories found by the last refresh. */
void opd_prof_k8s_scope_counts(const struct opd_prof_k8s_scope *s, size_t *pods,
                               size_t *cgroups);

#endif
