/* Kubernetes scope of the profiling receiver (see k8s_scope_glue.h). */
#include "collector/receivers/profiling/k8s_scope_glue.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include "collector/k8s/k8s_client.h"
#include "collector/k8s/k8s_scope.h"
#include "collector/k8s/k8s_select.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/filter.h"

/* Pod cgroups sit at most this deep below the root (kubepods/qos/pod, plus a slack for
 * nested runtimes such as kind). */
#define POD_CGROUP_DEPTH 6

struct opd_prof_k8s_scope {
    char *who;
    struct opd_k8s_api_cfg api;
    struct opd_k8s_client *client;
    char **namespaces;
    size_t n_namespaces;
    struct opd_k8s_selector sel;
    char root[512]; /* the cgroup v2 tree */
    size_t n_pods, n_cgroups;
    bool logged;
};

/* clang-format off */
const struct opd_config_map opd_prof_k8s_scope_map[] = {
    {OPD_CFG_STRLIST, "namespaces", NULL, 0, 0,
     offsetof(struct opd_prof_k8s_scope_cfg, namespaces),
     "Only processes of pods in these namespaces are sampled (enforced in the kernel)"},
    {OPD_CFG_STRMAP, "pod_selector", NULL, 0, 0,
     offsetof(struct opd_prof_k8s_scope_cfg, pod_selector),
     "Only pods with all of these labels (matchLabels: label: value)"},
    OPD_K8S_API_CFG_ENTRIES(struct opd_prof_k8s_scope_cfg, api),
    OPD_CFG_MAP_END,
};
/* clang-format on */

bool opd_prof_k8s_scope_configured(const struct opd_prof_k8s_scope_cfg *cfg)
{
    return cfg->namespaces.n || cfg->pod_selector.n;
}

/* Kubernetes label values: at most 63 characters of [A-Za-z0-9._-], starting and ending
 * alphanumeric, or empty. Keys: an optional DNS prefix and '/', then a name of the same
 * shape (not empty). */
static bool label_name_ok(const char *s, size_t n, bool may_be_empty)
{
    if (!n)
        return may_be_empty;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    }
    return true;
}

static bool label_key_ok(const char *k)
{
    const char *slash = strchr(k, '/');

    if (!slash)
        return label_name_ok(k, strlen(k), false);
    if (slash == k || slash - k > 253 || strchr(slash + 1, '/'))
        return false;
    for (const char *p = k; p < slash; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            return false;
    }
    return label_name_ok(slash + 1, strlen(slash + 1), false);
}

/* Namespace names are DNS labels: [a-z0-9-], at most 63, alphanumeric at both ends. */
static bool ns_ok(const char *s)
{
    size_t n = strlen(s);

    if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

int opd_prof_k8s_scope_check(const struct opd_prof_k8s_scope_cfg *cfg, char *err, size_t len)
{
    for (size_t i = 0; i < cfg->namespaces.n; i++) {
        if (!ns_ok(cfg->namespaces.v[i])) {
            snprintf(err, len, "scope.namespaces: \"%s\" is not a namespace name",
                     cfg->namespaces.v[i]);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->pod_selector.n; i++) {
        const char *k = cfg->pod_selector.keys[i], *v = cfg->pod_selector.values[i];

        if (!label_key_ok(k)) {
            snprintf(err, len, "scope.pod_selector: \"%s\" is not a label key", k);
            return -EINVAL;
        }
        if (!v || !label_name_ok(v, strlen(v), true)) {
            snprintf(err, len, "scope.pod_selector.%s: \"%s\" is not a label value", k,
                     v ? v : "");
            return -EINVAL;
        }
    }
    return 0;
}

static bool is_cgroup2(const char *path)
{
    struct statfs st;

    return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* The same tree the scope filter walks: the root itself when it is cgroup v2, else its
 * "unified" subdirectory (hybrid hosts). */
static void v2_root(const char *cgroup_root, char *buf, size_t len)
{
    snprintf(buf, len, "%s/unified", cgroup_root);
    if (is_cgroup2(cgroup_root) || !is_cgroup2(buf))
        snprintf(buf, len, "%s", cgroup_root);
}

static int copy_selection(struct opd_prof_k8s_scope *s, const struct opd_prof_k8s_scope_cfg *cfg)
{
    if (cfg->namespaces.n) {
        s->namespaces = opd_calloc(cfg->namespaces.n, sizeof(char *));
        if (!s->namespaces)
            return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->namespaces.n; i++) {
        s->namespaces[i] = opd_strdup(cfg->namespaces.v[i]);
        if (!s->namespaces[i])
            return -ENOMEM;
        s->n_namespaces++;
    }
    if (cfg->pod_selector.n) {
        s->sel.terms = opd_calloc(cfg->pod_selector.n, sizeof(*s->sel.terms));
        if (!s->sel.terms)
            return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->pod_selector.n; i++) {
        struct opd_k8s_sel_term *t = &s->sel.terms[i];

        t->op = OPD_K8S_SEL_EQ;
        t->key = opd_strdup(cfg->pod_selector.keys[i]);
        t->value = opd_strdup(cfg->pod_selector.values[i] ? cfg->pod_selector.values[i] : "");
        s->sel.n++;
        if (!t->key || !t->value)
            return -ENOMEM;
    }
    return 0;
}

struct opd_prof_k8s_scope *opd_prof_k8s_scope_create(const struct opd_prof_k8s_scope_cfg *cfg,
                                                     const char *cgroup_root, const char *who)
{
    struct opd_prof_k8s_scope *s = opd_calloc(1, sizeof(*s));
    int rc = -ENOMEM;

    if (!s || !(s->who = opd_strdup(who)))
        goto out;
    rc = opd_k8s_api_cfg_copy(&s->api, &cfg->api);
    if (!rc)
        rc = copy_selection(s, cfg);
    v2_root(cgroup_root, s->root, sizeof(s->root));
out:
    if (rc) {
        opd_prof_k8s_scope_destroy(s);
        errno = -rc;
        return NULL;
    }
    return s;
}

int opd_prof_k8s_scope_start(struct opd_prof_k8s_scope *s, struct opd_telemetry *tel,
                             uint64_t sync_timeout_ns)
{
    struct opd_k8s_settings set;
    char err[512];
    int rc;

    rc = opd_k8s_settings_from_cfg(&s->api, &set, err, sizeof(err));
    if (rc) {
        OPD_ERR(s->who, "scope: %s", err);
        return rc;
    }
    /* Without a filter of its own the client watches only the scope's namespaces, so a
     * namespaced Role in each of them is all the daemon needs. */
    if (!set.n_namespaces && s->n_namespaces) {
        set.namespaces = (const char *const *)s->namespaces;
        set.n_namespaces = s->n_namespaces;
        set.namespace_metadata = false;
    }
    s->client = opd_k8s_client_acquire(&set, s->who, tel, err, sizeof(err));
    if (!s->client) {
        rc = errno ? -errno : -EINVAL;
        OPD_ERR(s->who, "scope: Kubernetes API: %s", err);
        return rc;
    }
    if (opd_k8s_client_wait_synced(s->client, sync_timeout_ns))
        OPD_WARN(s->who, "scope: pods not listed yet; nothing is sampled until they are");
    return 0;
}

void opd_prof_k8s_scope_stop(struct opd_prof_k8s_scope *s)
{
    if (!s)
        return;
    opd_k8s_client_release(s->client);
    s->client = NULL;
}

void opd_prof_k8s_scope_destroy(struct opd_prof_k8s_scope *s)
{
    if (!s)
        return;
    opd_prof_k8s_scope_stop(s);
    opd_k8s_api_cfg_fini(&s->api);
    opd_k8s_uids_free(s->namespaces, s->n_namespaces);
    opd_k8s_selector_fini(&s->sel);
    opd_free(s->who);
    opd_free(s);
}

int opd_prof_k8s_scope_refresh(struct opd_prof_k8s_scope *s, struct opd_scope_filter *f)
{
    char **uids = NULL, **paths = NULL;
    size_t n_uids = 0, n_paths = 0;
    int err;

    if (!s->client)
        return -ENOTCONN;
    err = opd_k8s_select_pods(opd_k8s_client_cache(s->client),
                              (const char *const *)s->namespaces, s->n_namespaces, &s->sel,
                              &uids, &n_uids);
    if (!err)
        err = opd_k8s_pod_cgroups(s->root, uids, n_uids, POD_CGROUP_DEPTH, &paths, &n_paths);
    opd_k8s_uids_free(uids, n_uids);
    if (err) {
        OPD_WARN(s->who, "scope: cannot select pods: %s", strerror(-err));
        return err;
    }
    if (!s->logged || n_uids != s->n_pods || n_paths != s->n_cgroups)
        OPD_INFO(s->who, "scope: %zu pods selected, %zu pod cgroups found on this host",
                 n_uids, n_paths);
    s->logged = true;
    s->n_pods = n_uids;
    s->n_cgroups = n_paths;
    opd_prof_filter_set_pods(f, paths, n_paths);
    return 0;
}

void opd_prof_k8s_scope_counts(const struct opd_prof_k8s_scope *s, size_t *pods, size_t *cgroups)
{
    *pods = s->n_pods;
    *cgroups = s->n_cgroups;
}
