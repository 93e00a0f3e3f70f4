/* Pod selection for scoped profiling: which cached pods a receiver's scope
 * (namespaces, pod_selector) covers, so their cgroups can be put in the kernel filter.
 * The selector is Kubernetes' equality-based label selector syntax:
 * "app=web,tier!=db,canary,!legacy" (= and == alike). */
#ifndef OPD_K8S_SELECT_H
#define OPD_K8S_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/k8s/k8s_cache.h"

enum opd_k8s_sel_op { OPD_K8S_SEL_EQ, OPD_K8S_SEL_NE, OPD_K8S_SEL_EXISTS, OPD_K8S_SEL_ABSENT };

struct opd_k8s_sel_term {
    enum opd_k8s_sel_op op;
    char *key;
    char *value; /* NULL for EXISTS/ABSENT */
};

struct opd_k8s_selector {
    struct opd_k8s_sel_term *terms;
    size_t n;
};

/* Parses text (NULL or "" selects everything) into sel (zeroed by the caller). Returns 0,
 * -EINVAL with a message in err, or -ENOMEM; release with opd_k8s_selector_fini. */
int opd_k8s_selector_parse(const char *text, struct opd_k8s_selector *sel, char *err,
                           size_t errlen);
void opd_k8s_selector_fini(struct opd_k8s_selector *sel);

/* Whether o's labels satisfy every term. */
bool opd_k8s_selector_matches(const struct opd_k8s_selector *sel, const struct opd_k8s_object *o);

/* Calls fn for every cached object of kind (live or in its deletion grace period) under
 * the cache's read lock; fn must not call back into the cache. */
void opd_k8s_cache_foreach(struct opd_k8s_cache *c, enum opd_k8s_kind kind,
                           void (*fn)(const struct opd_k8s_object *o, void *arg), void *arg);

/* Collects the UIDs of cached pods (deleted ones in grace included, so their last samples
 * are kept) in one of namespaces (all when n_ns is 0) that match sel, into a new array of
 * new strings (*uids, freed with opd_k8s_uids_free). Returns 0 or -ENOMEM. */
int opd_k8s_select_pods(struct opd_k8s_cache *c, const char *const *namespaces, size_t n_ns,
                        const struct opd_k8s_selector *sel, char ***uids, size_t *n);
void opd_k8s_uids_free(char **uids, size_t n);

#endif
