/* Namespace-scoped profiling, the Kubernetes half: the cgroup directories of the pods a
 * receiver's scope covers (scope.namespaces, scope.pod_selector), found in the cgroup v2
 * tree by the pod UID the kubelet writes into them:
 *   systemd driver:  /kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_>.slice
 *   cgroupfs driver: /kubepods/<qos>/pod<uid>
 * A receiver puts what these paths resolve to (cgroup ids) into its in-kernel filter at
 * each refresh, so out-of-scope processes are never copied out of the kernel. */
#ifndef OPD_K8S_SCOPE_H
#define OPD_K8S_SCOPE_H

#include <stddef.h>

#include "collector/k8s/k8s_select.h"

/* Pod directories below cgroup_root ("/sys/fs/cgroup" or the cgroup2 mount), as paths
 * relative to it starting with '/', for the pods of uids. Searches at most max_depth
 * levels. Returns 0 with a new array of new strings (free with opd_k8s_uids_free), or
 * -ENOMEM; an unreadable root gives 0 paths. */
int opd_k8s_pod_cgroups(const char *cgroup_root, char *const *uids, size_t n_uids, int max_depth,
                        char ***paths, size_t *n_paths);

/* Whether the cgroup directory name belongs to the pod uid ("…pod<uid>…" with dashes, or
 * with underscores as the systemd driver writes it). */
bool opd_k8s_cgroup_name_has_pod(const char *name, const char *uid);

#endif
