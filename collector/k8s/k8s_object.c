/* Decoding of Kubernetes object JSON into struct opd_k8s_object. The API server is
 * trusted to speak its own shapes, but everything is checked anyway: a field of the
 * wrong type is treated as absent, never dereferenced. */
#include "collector/k8s/k8s_object.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "collector/mem.h"

static const char *const kind_names[OPD_K8S_NKINDS] = {
    "pods", "replicasets", "jobs", "namespaces", "deployments", "statefulsets", "daemonsets"};

const char *opd_k8s_kind_name(enum opd_k8s_kind kind)
{
    return (unsigned)kind < OPD_K8S_NKINDS ? kind_names[kind] : "unknown";
}

static const char *jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Copies s (or "" for NULL) into *dst; returns 0 or -ENOMEM. */
static int dup_into(char **dst, const char *s)
{
    *dst = opd_strdup(s ? s : "");
    return *dst ? 0 : -ENOMEM;
}

static void free_kvs(struct opd_k8s_kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        opd_free(v[i].key);
        opd_free(v[i].value);
    }
    opd_free(v);
}

static int decode_kvs(const json_t *map, struct opd_k8s_kv **out, size_t *n)
{
    const char *key;
    json_t *val;
    size_t cap, i = 0;

    *out = NULL;
    *n = 0;
    if (!json_is_object(map) || json_object_size(map) == 0)
        return 0;
    cap = json_object_size(map);
    *out = opd_calloc(cap, sizeof(**out));
    if (!*out)
        return -ENOMEM;
    json_object_foreach((json_t *)map, key, val)
    {
        if (!json_is_string(val) || i == cap)
            continue;
        (*out)[i].key = opd_strdup(key);
        (*out)[i].value = opd_strdup(json_string_value(val));
        if (!(*out)[i].key || !(*out)[i].value) {
            *n = i + 1;
            return -ENOMEM;
        }
        i++;
    }
    *n = i;
    return 0;
}

/* The controller owner reference (controller: true), else the first one. */
static int decode_owner(struct opd_k8s_object *o, const json_t *meta)
{
    const json_t *refs = json_object_get(meta, "ownerReferences");
    const json_t *pick = NULL, *r;
    size_t i;

    if (json_is_array(refs)) {
        json_array_foreach(refs, i, r)
        {
            if (!json_is_object(r))
                continue;
            if (!pick)
                pick = r;
            if (json_is_true(json_object_get(r, "controller"))) {
                pick = r;
                break;
            }
        }
    }
    if (dup_into(&o->owner_kind, jstr(pick, "kind")) ||
        dup_into(&o->owner_name, jstr(pick, "name")))
        return -ENOMEM;
    return 0;
}

static const char *strip_runtime(const char *id)
{
    const char *p = id ? strstr(id, "://") : NULL;

    return p ? p + 3 : (id ? id : "");
}

/* Appends the containers of spec.<list> with the ids from status.<statuses>. */
/* Appends one container entry; returns 0 or -ENOMEM. */
static int add_container(struct opd_k8s_object *o, const char *name, const char *id,
                         const char *image)
{
    struct opd_k8s_container *dst;

    if (opd_vec_reserve((void **)&o->containers, &o->cap_containers, o->n_containers + 1,
                        sizeof(*o->containers)))
        return -ENOMEM;
    dst = &o->containers[o->n_containers++];
    memset(dst, 0, sizeof(*dst));
    if (dup_into(&dst->name, name) || dup_into(&dst->id, strip_runtime(id)) ||
        dup_into(&dst->image, image))
        return -ENOMEM;
    return 0;
}

/* Appends the containers of spec.<list> with the ids from status.<statuses>. A container
 * that restarted also gets an entry for its previous instance (lastState.terminated), so
 * the last samples of that instance are still attributed. */
static int decode_containers(struct opd_k8s_object *o, const json_t *spec, const json_t *status,
                             const char *list, const char *statuses)
{
    const json_t *cs = json_object_get(spec, list);
    const json_t *st = json_object_get(status, statuses);
    const json_t *c, *s;
    size_t i, j;

    if (!json_is_array(cs))
        return 0;
    json_array_foreach(cs, i, c)
    {
        const char *name = jstr(c, "name"), *image = jstr(c, "image"), *id = NULL, *prev = NULL;

        if (!name)
            continue;
        if (json_is_array(st)) {
            json_array_foreach(st, j, s)
            {
                const char *sn = jstr(s, "name");

                if (sn && strcmp(sn, name) == 0) {
                    const json_t *last = json_object_get(s, "lastState");

                    id = jstr(s, "containerID");
                    prev = jstr(json_object_get(last, "terminated"), "containerID");
                    break;
                }
            }
        }
        if (add_container(o, name, id, image) ||
            (prev && prev[0] && add_container(o, name, prev, image)))
            return -ENOMEM;
    }
    return 0;
}

struct opd_k8s_object *opd_k8s_object_decode(enum opd_k8s_kind kind, const struct json_t *jv)
{
    const json_t *j = (const json_t *)jv;
    const json_t *meta = json_is_object(j) ? json_object_get(j, "metadata") : NULL;
    const json_t *spec, *status;
    struct opd_k8s_object *o = NULL;
    int err = -EINVAL;

    if (!json_is_object(meta) || !jstr(meta, "uid") || !jstr(meta, "name") ||
        (unsigned)kind >= OPD_K8S_NKINDS)
        goto out;
    err = -ENOMEM;
    o = opd_calloc(1, sizeof(*o));
    if (!o)
        goto out;
    atomic_init(&o->refs, 1);
    atomic_init(&o->deleted_ns, 0);
    o->kind = kind;
    if (dup_into(&o->uid, jstr(meta, "uid")) || dup_into(&o->name, jstr(meta, "name")) ||
        dup_into(&o->ns, kind == OPD_K8S_NAMESPACE ? "" : jstr(meta, "namespace")) ||
        dup_into(&o->resource_version, jstr(meta, "resourceVersion")) || decode_owner(o, meta) ||
        decode_kvs(json_object_get(meta, "labels"), &o->labels, &o->n_labels) ||
        decode_kvs(json_object_get(meta, "annotations"), &o->annotations, &o->n_annotations))
        goto out;
    spec = json_object_get(j, "spec");
    status = json_object_get(j, "status");
    if (kind == OPD_K8S_POD) {
        if (dup_into(&o->node_name, jstr(spec, "nodeName")) ||
            dup_into(&o->start_time, jstr(status, "startTime")) ||
            decode_containers(o, spec, status, "initContainers", "initContainerStatuses") ||
            decode_containers(o, spec, status, "containers", "containerStatuses") ||
            decode_containers(o, spec, status, "ephemeralContainers", "ephemeralContainerStatuses"))
            goto out;
    } else if (dup_into(&o->node_name, "") || dup_into(&o->start_time, "")) {
        goto out;
    }
    return o;
out:
    opd_k8s_object_unref(o);
    errno = -err;
    return NULL;
}

struct opd_k8s_object *opd_k8s_object_ref(struct opd_k8s_object *o)
{
    if (o)
        atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
    return o;
}

void opd_k8s_object_unref(struct opd_k8s_object *o)
{
    if (!o || atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)
        return;
    opd_free(o->uid);
    opd_free(o->name);
    opd_free(o->ns);
    opd_free(o->resource_version);
    opd_free(o->owner_kind);
    opd_free(o->owner_name);
    free_kvs(o->labels, o->n_labels);
    free_kvs(o->annotations, o->n_annotations);
    opd_free(o->node_name);
    opd_free(o->start_time);
    for (size_t i = 0; i < o->n_containers; i++) {
        opd_free(o->containers[i].name);
        opd_free(o->containers[i].id);
        opd_free(o->containers[i].image);
    }
    opd_free(o->containers);
    opd_free(o);
}

static const char *kv_get(const struct opd_k8s_kv *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return v[i].value;
    return NULL;
}

const char *opd_k8s_label(const struct opd_k8s_object *o, const char *key)
{
    return o ? kv_get(o->labels, o->n_labels, key) : NULL;
}

const char *opd_k8s_annotation(const struct opd_k8s_object *o, const char *key)
{
    return o ? kv_get(o->annotations, o->n_annotations, key) : NULL;
}

const struct opd_k8s_container *opd_k8s_pod_container(const struct opd_k8s_object *pod,
                                                      const char *container_id)
{
    if (!pod || !container_id || !container_id[0])
        return NULL;
    for (size_t i = 0; i < pod->n_containers; i++)
        if (strcmp(pod->containers[i].id, container_id) == 0)
            return &pod->containers[i];
    return NULL;
}

static void copy_trunc(char *dst, size_t len, const char *s, size_t n)
{
    if (!len)
        return;
    if (n >= len)
        n = len - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void opd_k8s_image_split(const char *image, char *name, size_t name_len, char *tag, size_t tag_len)
{
    const char *at = strchr(image, '@');
    size_t end = at ? (size_t)(at - image) : strlen(image);
    const char *slash = NULL, *colon = NULL;

    for (size_t i = 0; i < end; i++) {
        if (image[i] == '/')
            slash = image + i;
        else if (image[i] == ':')
            colon = image + i;
    }
    /* A colon before the last slash is a registry port, not a tag. */
    if (colon && slash && colon < slash)
        colon = NULL;
    if (colon) {
        copy_trunc(name, name_len, image, (size_t)(colon - image));
        copy_trunc(tag, tag_len, colon + 1, (size_t)(image + end - colon - 1));
    } else {
        copy_trunc(name, name_len, image, end);
        copy_trunc(tag, tag_len, at ? "" : "latest", at ? 0 : 6);
    }
}
