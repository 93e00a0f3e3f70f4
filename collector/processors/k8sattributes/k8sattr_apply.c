/* k8sattributes: compiling the config into rules, and enriching resources from the
 * metadata cache (association, then metadata, labels and annotations). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"
#include "k8sattr.h"
#include "otlp/profiles.h"

static const struct {
    const char *name;
    uint32_t bit;
} metadata_names[] = {
    {"k8s.namespace.name", OPD_K8SATTR_NAMESPACE},
    {"k8s.pod.name", OPD_K8SATTR_POD_NAME},
    {"k8s.pod.uid", OPD_K8SATTR_POD_UID},
    {"k8s.pod.start_time", OPD_K8SATTR_POD_START},
    {"k8s.node.name", OPD_K8SATTR_NODE},
    {"k8s.container.name", OPD_K8SATTR_CONTAINER},
    {"container.id", OPD_K8SATTR_CONTAINER_ID},
    {"container.image.name", OPD_K8SATTR_IMAGE_NAME},
    {"container.image.tag", OPD_K8SATTR_IMAGE_TAG},
    {"k8s.deployment.name", OPD_K8SATTR_DEPLOYMENT},
    {"k8s.replicaset.name", OPD_K8SATTR_REPLICASET},
    {"k8s.statefulset.name", OPD_K8SATTR_STATEFULSET},
    {"k8s.daemonset.name", OPD_K8SATTR_DAEMONSET},
    {"k8s.job.name", OPD_K8SATTR_JOB},
    {"k8s.cronjob.name", OPD_K8SATTR_CRONJOB},
    {"service.name", OPD_K8SATTR_SERVICE_NAME},
};

#define N_METADATA (sizeof(metadata_names) / sizeof(metadata_names[0]))

void opd_k8sattr_rules_fini(struct opd_k8sattr_rules *r)
{
    for (size_t i = 0; i < r->n_fields; i++) {
        opd_free(r->fields[i].tag_name);
        opd_free(r->fields[i].key);
        if (r->fields[i].has_re)
            regfree(&r->fields[i].re);
    }
    opd_free(r->fields);
    for (size_t i = 0; i < r->n_assoc; i++) {
        for (size_t j = 0; j < r->assoc[i].n; j++)
            opd_free(r->assoc[i].names[j]);
        opd_free(r->assoc[i].names);
    }
    opd_free(r->assoc);
    memset(r, 0, sizeof(*r));
}

static int compile_field(struct opd_k8sattr_field *f, const struct opd_k8sattr_field_cfg *c,
                         bool annotation, const char *what, size_t idx, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum opd_k8s_kind kind;
    } froms[] = {{"pod", OPD_K8S_POD},
                 {"namespace", OPD_K8S_NAMESPACE},
                 {"deployment", OPD_K8S_DEPLOYMENT},
                 {"statefulset", OPD_K8S_STATEFULSET},
                 {"daemonset", OPD_K8S_DAEMONSET},
                 {"job", OPD_K8S_JOB}};
    size_t j;

    f->annotation = annotation;
    for (j = 0; j < sizeof(froms) / sizeof(froms[0]); j++)
        if (strcmp(c->from ? c->from : "pod", froms[j].name) == 0)
            break;
    if (j == sizeof(froms) / sizeof(froms[0])) {
        snprintf(err, errlen,
                 "extract::%s::%zu::from: %s is not supported (pod, namespace, deployment, "
                 "statefulset, daemonset or job)",
                 what, idx, c->from);
        return -EINVAL;
    }
    f->from = froms[j].kind;
    if ((c->key && c->key[0]) == (c->key_regex && c->key_regex[0])) {
        snprintf(err, errlen, "extract::%s::%zu: set exactly one of key and key_regex", what, idx);
        return -EINVAL;
    }
    if (c->tag_name && c->tag_name[0] && !(f->tag_name = opd_strdup(c->tag_name)))
        return -ENOMEM;
    if (c->key && c->key[0])
        return (f->key = opd_strdup(c->key)) ? 0 : -ENOMEM;
    {
        /* The Collector anchors key_regex: it must match the whole key. */
        size_t n = strlen(c->key_regex) + 8;
        char *anchored = opd_malloc(n);
        int rc;

        if (!anchored)
            return -ENOMEM;
        snprintf(anchored, n, "^(%s)$", c->key_regex);
        rc = regcomp(&f->re, anchored, REG_EXTENDED);
        opd_free(anchored);
        if (rc) {
            char msg[128];

            regerror(rc, &f->re, msg, sizeof(msg));
            snprintf(err, errlen, "extract::%s::%zu::key_regex: %s: %s", what, idx, c->key_regex,
                     msg);
            return -EINVAL;
        }
        f->has_re = true;
    }
    return 0;
}

static int compile_assoc(struct opd_k8sattr_rule *r, const struct opd_k8sattr_assoc_cfg *c,
                         size_t idx, char *err, size_t errlen)
{
    const struct opd_k8sattr_source_cfg *src = c->sources.items;
    bool cid = false, uid = false, name = false, ns = false;

    if (c->sources.n == 0 || c->sources.n > 4) {
        snprintf(err, errlen, "pod_association::%zu::sources: give 1 to 4 sources", idx);
        return -EINVAL;
    }
    r->names = opd_calloc(c->sources.n, sizeof(*r->names));
    if (!r->names)
        return -ENOMEM;
    for (size_t i = 0; i < c->sources.n; i++) {
        const char *from = src[i].from ? src[i].from : "resource_attribute";

        if (strcmp(from, "connection") == 0) {
            r->connection = true;
            continue;
        }
        if (strcmp(from, "resource_attribute") != 0 || !src[i].name || !src[i].name[0]) {
            snprintf(err, errlen,
                     "pod_association::%zu::sources::%zu: from must be resource_attribute "
                     "(with a name) or connection",
                     idx, i);
            return -EINVAL;
        }
        cid |= strcmp(src[i].name, "container.id") == 0;
        uid |= strcmp(src[i].name, "k8s.pod.uid") == 0;
        name |= strcmp(src[i].name, "k8s.pod.name") == 0;
        ns |= strcmp(src[i].name, "k8s.namespace.name") == 0;
        if (!(r->names[r->n++] = opd_strdup(src[i].name)))
            return -ENOMEM;
    }
    if (cid)
        r->by = OPD_K8SATTR_BY_CONTAINER;
    else if (uid)
        r->by = OPD_K8SATTR_BY_UID;
    else if (name && ns)
        r->by = OPD_K8SATTR_BY_NAME;
    else if (!r->connection) {
        snprintf(err, errlen,
                 "pod_association::%zu: a rule needs container.id, k8s.pod.uid, or "
                 "k8s.pod.name with k8s.namespace.name",
                 idx);
        return -EINVAL;
    }
    return 0;
}

int opd_k8sattr_rules_compile(const struct opd_k8sattr_cfg *cfg, struct opd_k8sattr_rules *r,
                              char *err, size_t errlen)
{
    const struct opd_k8sattr_field_cfg *labels = cfg->extract.labels.items;
    const struct opd_k8sattr_field_cfg *annots = cfg->extract.annotations.items;
    const struct opd_k8sattr_assoc_cfg *assoc = cfg->pod_association.items;
    size_t nf = cfg->extract.labels.n + cfg->extract.annotations.n;
    int rc;

    for (size_t i = 0; i < cfg->extract.metadata.n; i++) {
        size_t j;

        for (j = 0; j < N_METADATA; j++)
            if (strcmp(cfg->extract.metadata.v[i], metadata_names[j].name) == 0)
                break;
        if (j == N_METADATA) {
            snprintf(err, errlen, "extract::metadata::%zu: unknown attribute %s", i,
                     cfg->extract.metadata.v[i]);
            return -EINVAL;
        }
        r->metadata |= metadata_names[j].bit;
    }
    r->otel_annotations = cfg->extract.otel_annotations;
    if (nf && !(r->fields = opd_calloc(nf, sizeof(*r->fields))))
        return -ENOMEM;
    /* Each element counts as soon as it is touched, so fini frees a half-compiled one. */
    for (size_t i = 0; i < cfg->extract.labels.n; i++)
        if ((rc = compile_field(&r->fields[r->n_fields++], &labels[i], false, "labels", i, err,
                                errlen)))
            return rc;
    for (size_t i = 0; i < cfg->extract.annotations.n; i++)
        if ((rc = compile_field(&r->fields[r->n_fields++], &annots[i], true, "annotations", i, err,
                                errlen)))
            return rc;
    if (cfg->pod_association.n &&
        !(r->assoc = opd_calloc(cfg->pod_association.n, sizeof(*r->assoc))))
        return -ENOMEM;
    for (size_t i = 0; i < cfg->pod_association.n; i++)
        if ((rc = compile_assoc(&r->assoc[r->n_assoc++], &assoc[i], i, err, errlen)))
            return rc;
    return 0;
}

/* ---- apply ----------------------------------------------------------------------------- */

static const char *res_str(const struct opd_resource *res, const char *key)
{
    const struct opd_value *v = opd_attrs_get(&res->attrs, key);

    return v && v->type == OPD_VAL_STR && v->u.str[0] ? v->u.str : NULL;
}

/* Inserts key = value unless the resource already has key. */
static int insert(struct opd_batch *b, struct opd_resource *res, const char *key, const char *value)
{
    if (!value || !value[0] || opd_attrs_get(&res->attrs, key))
        return 0;
    return opd_attrs_set_str(b, &res->attrs, key, value);
}

/* Finds the pod of res by the first association rule whose attributes are all present;
 * that rule decides even when it finds nothing, as in the Collector. */
static struct opd_k8s_object *associate(const struct opd_k8sattr_rules *r,
                                        struct opd_k8s_cache *cache, const struct opd_resource *res,
                                        const char **cid, bool *had_identity)
{
    *cid = NULL;
    *had_identity = false;
    for (size_t i = 0; i < r->n_assoc; i++) {
        const struct opd_k8sattr_rule *rule = &r->assoc[i];
        bool all = !rule->connection;

        for (size_t j = 0; all && j < rule->n; j++)
            all = res_str(res, rule->names[j]) != NULL;
        if (!all)
            continue;
        *had_identity = true;
        switch (rule->by) {
        case OPD_K8SATTR_BY_CONTAINER:
            *cid = res_str(res, "container.id");
            return opd_k8s_cache_pod_by_container(cache, *cid);
        case OPD_K8SATTR_BY_UID:
            return opd_k8s_cache_by_uid(cache, res_str(res, "k8s.pod.uid"));
        default:
            return opd_k8s_cache_by_name(cache, OPD_K8S_POD, res_str(res, "k8s.namespace.name"),
                                         res_str(res, "k8s.pod.name"));
        }
    }
    return NULL;
}

/* "$1" style backreferences of the key match into a tag name. */
static void expand(char *out, size_t len, const char *tmpl, const char *key, const regmatch_t *m,
                   size_t nm)
{
    size_t o = 0;

    for (const char *p = tmpl; *p && o + 1 < len; p++) {
        if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
            /* group 1 is our own anchoring group: $0 and $1 both mean the whole key */
            size_t g = (size_t)(p[1] - '0') + 1;
            if (p[1] == '0')
                g = 1;
            if (g < nm && m[g].rm_so >= 0) {
                size_t n = (size_t)(m[g].rm_eo - m[g].rm_so);
                if (n > len - 1 - o)
                    n = len - 1 - o;
                memcpy(out + o, key + m[g].rm_so, n);
                o += n;
            }
            p++;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

static int apply_field(const struct opd_k8sattr_field *f, struct opd_batch *b,
                       struct opd_resource *res, const struct opd_k8s_object *o)
{
    const struct opd_k8s_kv *kv = f->annotation ? o->annotations : o->labels;
    size_t n = f->annotation ? o->n_annotations : o->n_labels;
    static const char *const kind_prefix[OPD_K8S_NKINDS] = {
        [OPD_K8S_POD] = "k8s.pod",
        [OPD_K8S_NAMESPACE] = "k8s.namespace",
        [OPD_K8S_JOB] = "k8s.job",
        [OPD_K8S_DEPLOYMENT] = "k8s.deployment",
        [OPD_K8S_STATEFULSET] = "k8s.statefulset",
        [OPD_K8S_DAEMONSET] = "k8s.daemonset",
    };
    const char *prefix = kind_prefix[f->from] ? kind_prefix[f->from] : "k8s.pod";
    char tag[512];
    int err;

    for (size_t i = 0; i < n; i++) {
        regmatch_t m[10];

        if (f->key && strcmp(f->key, kv[i].key) != 0)
            continue;
        if (!f->key && regexec(&f->re, kv[i].key, 10, m, 0) != 0)
            continue;
        if (f->tag_name && !f->key)
            expand(tag, sizeof(tag), f->tag_name, kv[i].key, m, 10);
        else if (f->tag_name)
            snprintf(tag, sizeof(tag), "%s", f->tag_name);
        else
            snprintf(tag, sizeof(tag), "%s.%s.%s", prefix, f->annotation ? "annotations" : "labels",
                     kv[i].key);
        if ((err = insert(b, res, tag, kv[i].value)))
            return err;
        if (f->key)
            break;
    }
    return 0;
}

static int set_service_name(struct opd_batch *b, struct opd_resource *res,
                            const struct opd_k8s_object *pod, const char *container,
                            const char *workload)
{
    const char *cur = res_str(res, "service.name"), *exe = res_str(res, "process.executable.name");
    const char *name = opd_k8s_label(pod, "app.kubernetes.io/name");

    /* The semantic conventions' order: the recommended label, then the instance label,
     * then the workload, then the container. An explicit service.name (OTEL_SERVICE_NAME)
     * stays; one that is only the executable's name does not. */
    if (!name)
        name = opd_k8s_label(pod, "app.kubernetes.io/instance");
    if (!name && workload && workload[0])
        name = workload;
    if (!name)
        name = container;
    if (!name || !name[0] || (cur && !(exe && strcmp(cur, exe) == 0)))
        return 0;
    return opd_attrs_set_str(b, &res->attrs, "service.name", name);
}

static int enrich(const struct opd_k8sattr_rules *r, struct opd_k8s_cache *cache,
                  struct opd_batch *b, struct opd_resource *res, const struct opd_k8s_object *pod,
                  const char *cid)
{
    const struct opd_k8s_container *ct = opd_k8s_pod_container(pod, cid);
    struct opd_k8s_object *nso = NULL, *owner = NULL, *job = NULL;
    const char *wkind;
    char wname[256], img[512], tag[128];
    uint32_t md = r->metadata;
    int err = 0;

    opd_k8s_resolve_workload(cache, pod, &wkind, wname, sizeof(wname), &owner);
    if (ct)
        opd_k8s_image_split(ct->image, img, sizeof(img), tag, sizeof(tag));
#define PUT(bit, key, val)                                                                         \
    do {                                                                                           \
        if (!err && (md & (bit)))                                                                  \
            err = insert(b, res, key, val);                                                        \
    } while (0)
    PUT(OPD_K8SATTR_NAMESPACE, "k8s.namespace.name", pod->ns);
    PUT(OPD_K8SATTR_POD_NAME, "k8s.pod.name", pod->name);
    PUT(OPD_K8SATTR_POD_UID, "k8s.pod.uid", pod->uid);
    PUT(OPD_K8SATTR_POD_START, "k8s.pod.start_time", pod->start_time);
    PUT(OPD_K8SATTR_NODE, "k8s.node.name", pod->node_name);
    PUT(OPD_K8SATTR_CONTAINER, "k8s.container.name", ct ? ct->name : NULL);
    PUT(OPD_K8SATTR_CONTAINER_ID, "container.id", ct ? ct->id : NULL);
    PUT(OPD_K8SATTR_IMAGE_NAME, "container.image.name", ct ? img : NULL);
    PUT(OPD_K8SATTR_IMAGE_TAG, "container.image.tag", ct ? tag : NULL);
    PUT(OPD_K8SATTR_DEPLOYMENT, "k8s.deployment.name",
        strcmp(wkind, "Deployment") == 0 ? wname : NULL);
    PUT(OPD_K8SATTR_REPLICASET, "k8s.replicaset.name",
        strcmp(pod->owner_kind, "ReplicaSet") == 0 ? pod->owner_name : NULL);
    PUT(OPD_K8SATTR_STATEFULSET, "k8s.statefulset.name",
        strcmp(wkind, "StatefulSet") == 0 ? wname : NULL);
    PUT(OPD_K8SATTR_DAEMONSET, "k8s.daemonset.name",
        strcmp(wkind, "DaemonSet") == 0 ? wname : NULL);
    PUT(OPD_K8SATTR_JOB, "k8s.job.name",
        strcmp(pod->owner_kind, "Job") == 0 ? pod->owner_name : NULL);
    PUT(OPD_K8SATTR_CRONJOB, "k8s.cronjob.name", strcmp(wkind, "CronJob") == 0 ? wname : NULL);
#undef PUT
    if (!err && (md & OPD_K8SATTR_SERVICE_NAME))
        err = set_service_name(b, res, pod, ct ? ct->name : NULL, wname);
    for (size_t i = 0; !err && i < r->n_fields; i++) {
        const struct opd_k8sattr_field *f = &r->fields[i];
        const struct opd_k8s_object *src = pod;

        if (f->from == OPD_K8S_NAMESPACE) {
            if (!nso)
                nso = opd_k8s_cache_by_name(cache, OPD_K8S_NAMESPACE, "", pod->ns);
            src = nso;
        } else if (f->from == OPD_K8S_JOB) {
            if (!job && strcmp(pod->owner_kind, "Job") == 0)
                job = opd_k8s_cache_by_name(cache, OPD_K8S_JOB, pod->ns, pod->owner_name);
            src = job;
        } else if (f->from != OPD_K8S_POD) {
            src = owner && owner->kind == f->from ? owner : NULL;
        }
        /* Objects not watched (namespaced Role, watch_workloads off) or not known yet. */
        if (src)
            err = apply_field(f, b, res, src);
    }
    /* resource.opentelemetry.io/<key>: <value> annotations become attributes. */
    for (size_t i = 0; !err && r->otel_annotations && i < pod->n_annotations; i++) {
        const char *k = pod->annotations[i].key, *pfx = "resource.opentelemetry.io/";

        if (strncmp(k, pfx, strlen(pfx)) == 0 && k[strlen(pfx)])
            err = insert(b, res, k + strlen(pfx), pod->annotations[i].value);
    }
    opd_k8s_object_unref(nso);
    opd_k8s_object_unref(owner);
    opd_k8s_object_unref(job);
    return err;
}

int opd_k8sattr_apply(const struct opd_k8sattr_rules *r, struct opd_k8s_cache *cache,
                      struct opd_batch *b, struct opd_k8sattr_counts *cnt)
{
    for (size_t i = 0; i < b->n_resources; i++) {
        struct opd_resource *res = &b->resources[i];
        struct opd_k8s_object *pod;
        const char *cid;
        bool ident;
        int err;

        cnt->resources++;
        pod = associate(r, cache, res, &cid, &ident);
        if (!pod) {
            if (ident)
                cnt->missed++;
            else
                cnt->no_identity++;
            continue;
        }
        cnt->matched++;
        err = enrich(r, cache, b, res, pod, cid);
        opd_k8s_object_unref(pod);
        if (err)
            return err;
    }
    return 0;
}
