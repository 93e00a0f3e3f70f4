/* The metadata cache: every watched object by uid, pods also by container id and by
 * namespace/name, ReplicaSets, Jobs and Namespaces by namespace/name. Bounded: beyond
 * max_objects a new object is refused (and counted) after deleted ones are evicted.
 * Deleted objects stay findable for a grace period so the last samples of a pod that just
 * ended are still attributed. Thread-safe; lookups return a reference the caller drops
 * with opd_k8s_object_unref(). */
#ifndef OPD_K8S_CACHE_H
#define OPD_K8S_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/k8s/k8s_object.h"

struct opd_k8s_cache;

struct opd_k8s_cache_stats {
    size_t objects[OPD_K8S_NKINDS]; /* live and in grace */
    uint64_t added, updated, deleted, expired, refused;
};

/* Returns an empty cache, or NULL with errno ENOMEM. */
struct opd_k8s_cache *opd_k8s_cache_create(size_t max_objects, uint64_t grace_ns);
/* Frees the cache and drops its references. NULL is a no-op. */
void opd_k8s_cache_destroy(struct opd_k8s_cache *c);

/* Inserts or replaces (by uid) o; the cache takes a new reference of its own. An object
 * that comes back live cancels its deletion. Returns 0, -ENOSPC when full, -ENOMEM. */
int opd_k8s_cache_put(struct opd_k8s_cache *c, struct opd_k8s_object *o);

/* Marks the object with this uid deleted at now_ns (monotonic); it expires after the grace
 * period. Unknown uids are ignored. */
void opd_k8s_cache_delete(struct opd_k8s_cache *c, const char *uid, uint64_t now_ns);

/* A relist of kind in namespace ns ("" = all namespaces) starts: objects put until
 * opd_k8s_cache_sync_end() are the new truth, and every live object of that kind and
 * namespace not put again is then marked deleted at now_ns. Returns a sync token. */
uint64_t opd_k8s_cache_sync_begin(struct opd_k8s_cache *c, enum opd_k8s_kind kind, const char *ns);
void opd_k8s_cache_sync_end(struct opd_k8s_cache *c, enum opd_k8s_kind kind, const char *ns,
                            uint64_t token, uint64_t now_ns);

/* Drops deleted objects older than the grace period. Returns how many were dropped. */
size_t opd_k8s_cache_sweep(struct opd_k8s_cache *c, uint64_t now_ns);

/* Lookups; each returns a new reference or NULL. */
struct opd_k8s_object *opd_k8s_cache_by_uid(struct opd_k8s_cache *c, const char *uid);
struct opd_k8s_object *opd_k8s_cache_pod_by_container(struct opd_k8s_cache *c,
                                                      const char *container_id);
struct opd_k8s_object *opd_k8s_cache_by_name(struct opd_k8s_cache *c, enum opd_k8s_kind kind,
                                             const char *ns, const char *name);

void opd_k8s_cache_get_stats(struct opd_k8s_cache *c, struct opd_k8s_cache_stats *out);

#endif
