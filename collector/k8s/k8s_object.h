/* Kubernetes objects as the metadata client keeps them: the few fields of pods,
 * ReplicaSets, Jobs and Namespaces that attribution needs, decoded from the API server's
 * JSON (LIST bodies and WATCH events). An object is immutable once decoded and reference
 * counted, so a lookup can hand it out while the watch thread replaces it. */
#ifndef OPD_K8S_OBJECT_H
#define OPD_K8S_OBJECT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum opd_k8s_kind {
    OPD_K8S_POD,
    OPD_K8S_REPLICASET,
    OPD_K8S_JOB,
    OPD_K8S_NAMESPACE,
    OPD_K8S_DEPLOYMENT,
    OPD_K8S_STATEFULSET,
    OPD_K8S_DAEMONSET,
    OPD_K8S_NKINDS,
};

struct opd_k8s_kv {
    char *key;
    char *value;
};

struct opd_k8s_container {
    char *name;
    char *id;    /* container id without the "containerd://" runtime prefix; "" if unknown */
    char *image; /* as written in the spec, e.g. "registry:5000/app/api:1.2" */
};

struct opd_k8s_object {
    _Atomic int refs;
    enum opd_k8s_kind kind;
    char *uid;
    char *name;
    char *ns; /* "" for namespaces */
    char *resource_version;
    char *owner_kind; /* controller owner reference, "" when none */
    char *owner_name;
    struct opd_k8s_kv *labels;
    size_t n_labels;
    struct opd_k8s_kv *annotations;
    size_t n_annotations;
    /* pods only */
    char *node_name;
    char *start_time;                     /* status.startTime, RFC 3339 as the API wrote it */
    struct opd_k8s_container *containers; /* init, regular and ephemeral containers */
    size_t n_containers, cap_containers;
    /* set by the cache: CLOCK_MONOTONIC ns when the object was deleted, 0 while live */
    _Atomic uint64_t deleted_ns;
};

struct json_t;

/* Decodes one object of kind from a parsed JSON object (an item of a list or the object
 * of a watch event). Returns a new object (refs = 1), or NULL with errno EINVAL (not an
 * object, no metadata.uid or name) or ENOMEM. */
struct opd_k8s_object *opd_k8s_object_decode(enum opd_k8s_kind kind, const struct json_t *j);

/* Takes a reference; returns o. */
struct opd_k8s_object *opd_k8s_object_ref(struct opd_k8s_object *o);
/* Drops a reference; the last frees the object. NULL is a no-op. */
void opd_k8s_object_unref(struct opd_k8s_object *o);

/* Returns the value of a label or annotation, or NULL. */
const char *opd_k8s_label(const struct opd_k8s_object *o, const char *key);
const char *opd_k8s_annotation(const struct opd_k8s_object *o, const char *key);

/* Returns the container with this id (runtime prefix already stripped), or NULL. */
const struct opd_k8s_container *opd_k8s_pod_container(const struct opd_k8s_object *pod,
                                                      const char *container_id);

/* "pods", "replicasets", "jobs", "namespaces", "deployments", "statefulsets",
 * "daemonsets". */
const char *opd_k8s_kind_name(enum opd_k8s_kind kind);

/* Splits an image reference into name and tag ("repo/app:1.2@sha256:..." → "repo/app",
 * "1.2"; no tag → "latest"; a digest-only reference → tag ""). Writes into the caller's
 * buffers, truncating. */
void opd_k8s_image_split(const char *image, char *name, size_t name_len, char *tag, size_t tag_len);

#endif
