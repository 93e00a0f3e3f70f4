/* Pod cgroup discovery for scoped profiling (see k8s_scope.h). */
#include "collector/k8s/k8s_scope.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/mem.h"

bool opd_k8s_cgroup_name_has_pod(const char *name, const char *uid)
{
    const char *p = name;
    size_t n = strlen(uid);

    while ((p = strstr(p, "pod"))) {
        const char *q = p + 3;
        size_t i;

        for (i = 0; i < n && q[i]; i++)
            if (q[i] != uid[i] && !(uid[i] == '-' && q[i] == '_'))
                break;
        /* the UID must end there: ".slice", end of name, or another separator */
        if (i == n && (q[i] == '\0' || q[i] == '.' || q[i] == '/'))
            return true;
        p += 3;
    }
    return false;
}

struct walk {
    char *const *uids;
    size_t n_uids;
    char **v;
    size_t n, cap;
    int err;
};

static int add(struct walk *w, const char *rel)
{
    char **slot = OPD_VEC_PUSH_SLOT(w->v, w->n, w->cap);

    if (!slot || !(*slot = opd_strdup(rel))) {
        if (slot)
            w->n--;
        return -ENOMEM;
    }
    return 0;
}

static void walk(struct walk *w, const char *root, char *rel, size_t rel_len, size_t rel_cap,
                 int depth)
{
    char path[4096];
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "%s%s", root, rel);
    d = opendir(path);
    if (!d)
        return;
    while (!w->err && (e = readdir(d))) {
        size_t nl = strlen(e->d_name);
        bool hit = false;

        if (e->d_name[0] == '.' || rel_len + nl + 2 > rel_cap)
            continue;
        if (e->d_type == DT_UNKNOWN) {
            struct stat st;

            if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISDIR(st.st_mode))
                continue;
        } else if (e->d_type != DT_DIR) {
            continue;
        }
        snprintf(rel + rel_len, rel_cap - rel_len, "/%s", e->d_name);
        for (size_t i = 0; i < w->n_uids && !hit; i++)
            hit = opd_k8s_cgroup_name_has_pod(e->d_name, w->uids[i]);
        if (hit)
            w->err = add(w, rel); /* containers below are covered by the prefix */
        else if (depth > 1)
            walk(w, root, rel, rel_len + nl + 1, rel_cap, depth - 1);
        rel[rel_len] = '\0';
    }
    closedir(d);
}

int opd_k8s_pod_cgroups(const char *cgroup_root, char *const *uids, size_t n_uids, int max_depth,
                        char ***paths, size_t *n_paths)
{
    struct walk w = {.uids = uids, .n_uids = n_uids};
    char rel[4096] = "";

    if (n_uids)
        walk(&w, cgroup_root, rel, 0, sizeof(rel), max_depth > 0 ? max_depth : 6);
    if (w.err) {
        opd_k8s_uids_free(w.v, w.n);
        *paths = NULL;
        *n_paths = 0;
        return w.err;
    }
    *paths = w.v;
    *n_paths = w.n;
    return 0;
}
