/* The receiver's scope (include/exclude of pids, comm regexes and cgroup path prefixes)
 * kept in the kernel filter maps. Pids are static; comm and cgroup prefixes are resolved
 * to pids and cgroup ids by scanning /proc and the cgroup v2 tree at every refresh, so a
 * new process or container is in or out of scope from the next reporter interval on. */
#ifndef OPD_PROFILING_FILTER_H
#define OPD_PROFILING_FILTER_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_sampler;

struct opd_prof_filter_rules {
    uint32_t *pids;
    size_t n_pids;
    regex_t *comm;
    size_t n_comm;
    char **cgroup_prefixes; /* paths below the cgroup root, e.g. "/kubepods.slice" */
    size_t n_cgroup_prefixes;
};

struct opd_scope_filter {
    struct opd_prof_filter_rules include, exclude;
    const char *procfs_root; /* borrowed */
    const char *cgroup_root; /* borrowed; "/sys/fs/cgroup" */
    /* What the last refresh put in the kernel maps, sorted, to remove what vanished. */
    uint64_t *dyn_pids;
    size_t n_dyn_pids, cap_dyn_pids;
    uint64_t *dyn_cgroups;
    size_t n_dyn_cgroups, cap_dyn_cgroups;
    bool active; /* any include or exclude rule */
    /* The Kubernetes scope: pod cgroup directories (relative to the v2 root) whose
     * cgroups, and everything below them, are included. pods_scoped makes the include set
     * binding even while it is empty. Owned. */
    char **pods;
    size_t n_pods;
    bool pods_scoped;
};

/* Returns whether any rule needs the kernel filter. */
bool opd_prof_filter_any(const struct opd_scope_filter *s);

/* Puts the static rules into the kernel and resolves the dynamic ones. Returns 0 or
 * -errno (a full filter map gives -E2BIG: the rest is left out and logged). */
int opd_prof_filter_refresh(struct opd_scope_filter *s, struct opd_sampler *sampler,
                            const char *who);

/* A process just exec'd: applies the process-name rules to it at once (instead of at the
 * next refresh), so a short-lived process is in or out of scope from its start. No-op
 * without name rules or when the process is already gone. Returns 0 or -errno. */
int opd_prof_filter_exec(struct opd_scope_filter *s, struct opd_sampler *sampler, uint32_t pid);

/* Replaces the Kubernetes scope's pod cgroup directories with paths (taking ownership of
 * the array and its strings) and makes the scope binding; applied at the next refresh. */
void opd_prof_filter_set_pods(struct opd_scope_filter *s, char **paths, size_t n);

/* Frees the rules and the refresh state (regexes included). */
void opd_prof_filter_fini(struct opd_scope_filter *s);

/* Whether cgroup path p (relative to the cgroup root, starting with '/') lies under
 * prefix: equal to it, or below it at a '/' boundary, or sharing its text prefix when
 * prefix does not end at a path component (systemd "kubepods-besteffort" style). */
bool opd_prof_filter_cgroup_match(const char *prefix, const char *p);

#endif
