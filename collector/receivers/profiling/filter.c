/* Scope filter upkeep (see scope.h). */
#include "collector/receivers/profiling/filter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"

bool opd_prof_filter_any(const struct opd_scope_filter *s)
{
    return s->include.n_pids || s->include.n_comm || s->include.n_cgroup_prefixes ||
           s->exclude.n_pids || s->exclude.n_comm || s->exclude.n_cgroup_prefixes ||
           s->pods_scoped;
}

bool opd_prof_filter_cgroup_match(const char *prefix, const char *p)
{
    size_t n = strlen(prefix);

    while (n > 1 && prefix[n - 1] == '/')
        n--;
    return strncmp(prefix, p, n) == 0;
}

struct idset {
    uint64_t *v;
    size_t n, cap;
};

static int idset_add(struct idset *s, uint64_t id)
{
    uint64_t *slot = OPD_VEC_PUSH_SLOT(s->v, s->n, s->cap);

    if (!slot)
        return -ENOMEM;
    *slot = id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static bool comm_matches(const regex_t *re, size_t n, const char *comm)
{
    for (size_t i = 0; i < n; i++) {
        if (regexec(&re[i], comm, 0, NULL, 0) == 0)
            return true;
    }
    return false;
}

/* Reads /proc/PID/comm into buf (newline stripped). Returns 0 or -errno. */
static int read_comm(const char *procfs_root, unsigned long pid, char *buf, size_t len)
{
    char path[512];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%lu/comm", procfs_root, pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return n < 0 ? -errno : -ENOENT;
    buf[n] = '\0';
    if (buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return 0;
}

/* Collects pids whose comm matches the include (mode INCLUDE) or exclude rules. */
static int scan_comm(struct opd_scope_filter *s, struct idset *inc, struct idset *exc)
{
    char comm[64];
    struct dirent *de;
    DIR *dir;
    int err = 0;

    if (!s->include.n_comm && !s->exclude.n_comm)
        return 0;
    dir = opendir(s->procfs_root);
    if (!dir)
        return -errno;
    while ((de = readdir(dir)) && !err) {
        char *end;
        unsigned long pid = strtoul(de->d_name, &end, 10);

        if (*end || !pid || pid > UINT32_MAX)
            continue;
        if (read_comm(s->procfs_root, pid, comm, sizeof(comm)))
            continue;
        if (comm_matches(s->exclude.comm, s->exclude.n_comm, comm))
            err = idset_add(exc, pid);
        else if (comm_matches(s->include.comm, s->include.n_comm, comm))
            err = idset_add(inc, pid);
    }
    closedir(dir);
    return err;
}

/* nftw has no context argument: the walk state lives here for the one walk at a time
 * the receiver's drain thread does (guarded by walk_busy against a second receiver). */
static struct {
    const struct opd_scope_filter *s;
    struct idset *inc, *exc;
    size_t root_len;
    int err;
} walk;
static _Atomic int walk_busy;

static int walk_cb(const char *fpath, const struct stat *sb, int type, struct FTW *ftw)
{
    const char *rel = fpath + walk.root_len;
    const struct opd_scope_filter *s = walk.s;

    if (type != FTW_D)
        return 0;
    if (!*rel)
        rel = "/";
    for (size_t i = 0; i < s->exclude.n_cgroup_prefixes; i++) {
        if (opd_prof_filter_cgroup_match(s->exclude.cgroup_prefixes[i], rel)) {
            walk.err = idset_add(walk.exc, sb->st_ino);
            return walk.err ? FTW_STOP : 0;
        }
    }
    for (size_t i = 0; i < s->include.n_cgroup_prefixes; i++) {
        if (opd_prof_filter_cgroup_match(s->include.cgroup_prefixes[i], rel)) {
            walk.err = idset_add(walk.inc, sb->st_ino);
            return walk.err ? FTW_STOP : 0;
        }
    }
    for (size_t i = 0; i < s->n_pods; i++) {
        size_t n = strlen(s->pods[i]);

        /* A pod directory and what is below it, never a sibling sharing its text. */
        if (strncmp(s->pods[i], rel, n) == 0 && (rel[n] == '\0' || rel[n] == '/')) {
            walk.err = idset_add(walk.inc, sb->st_ino);
            return walk.err ? FTW_STOP : 0;
        }
    }
    return 0;
}

static bool is_cgroup2(const char *path)
{
    struct statfs st;

    return statfs(path, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

/* The cgroup v2 tree: the configured root when it is cgroup2, else its "unified"
 * subdirectory (hybrid hosts mount v1 controllers at /sys/fs/cgroup and v2 below it). */
static int v2_root(const struct opd_scope_filter *s, char *buf, size_t len)
{
    if (is_cgroup2(s->cgroup_root)) {
        snprintf(buf, len, "%s", s->cgroup_root);
        return 0;
    }
    snprintf(buf, len, "%s/unified", s->cgroup_root);
    return is_cgroup2(buf) ? 0 : -ENOENT;
}

/* On cgroup v2 a cgroup's id (bpf_get_current_cgroup_id) is its directory's inode. */
static int scan_cgroups(struct opd_scope_filter *s, struct idset *inc, struct idset *exc,
                        const char *who)
{
    char root[512];
    int expected = 0, err;

    if (!s->include.n_cgroup_prefixes && !s->exclude.n_cgroup_prefixes && !s->n_pods)
        return 0;
    if (v2_root(s, root, sizeof(root))) {
        OPD_WARN(who,
                 "cgroup_prefixes: no cgroup v2 tree at %s or %s/unified; those rules "
                 "match nothing",
                 s->cgroup_root, s->cgroup_root);
        return 0;
    }
    if (!atomic_compare_exchange_strong(&walk_busy, &expected, 1))
        return -EBUSY;
    walk.s = s;
    walk.inc = inc;
    walk.exc = exc;
    walk.root_len = strlen(root);
    walk.err = 0;
    err = nftw(root, walk_cb, 16, FTW_PHYS | FTW_MOUNT);
    err = walk.err ? walk.err : err < 0 ? -errno : 0;
    atomic_store(&walk_busy, 0);
    return err;
}

static bool sorted_has(const uint64_t *v, size_t n, uint64_t x)
{
    return n && bsearch(&x, v, n, sizeof(*v), cmp_u64) != NULL;
}

typedef int (*set_fn)(struct opd_sampler *, uint64_t id, int mode);

static int set_pid(struct opd_sampler *sp, uint64_t id, int mode)
{
    return opd_sampler_filter_pid(sp, (uint32_t)id, mode);
}

static int set_cgroup(struct opd_sampler *sp, uint64_t id, int mode)
{
    return opd_sampler_filter_cgroup(sp, id, mode);
}

/* Writes inc/exc into the kernel, removes entries of the previous refresh that are gone,
 * and keeps the new set (sorted) in *prev. */
static int apply(struct opd_sampler *sp, set_fn fn, struct idset *inc, struct idset *exc,
                 uint64_t **prev, size_t *n_prev, size_t *cap_prev, const uint64_t *static_ids,
                 size_t n_static)
{
    struct idset all = {0};
    int err = 0;

    for (size_t i = 0; i < inc->n && !err; i++)
        err = fn(sp, inc->v[i], OPD_FILTER_INCLUDE);
    for (size_t i = 0; i < exc->n && !err; i++)
        err = fn(sp, exc->v[i], OPD_FILTER_EXCLUDE);
    for (size_t i = 0; i < inc->n && !err; i++)
        err = idset_add(&all, inc->v[i]);
    for (size_t i = 0; i < exc->n && !err; i++)
        err = idset_add(&all, exc->v[i]);
    if (err) {
        opd_free(all.v);
        return err;
    }
    if (all.n)
        qsort(all.v, all.n, sizeof(*all.v), cmp_u64);
    for (size_t i = 0; i < *n_prev; i++) {
        uint64_t id = (*prev)[i];
        bool is_static = false;

        for (size_t k = 0; k < n_static; k++)
            is_static |= static_ids[k] == id;
        if (!is_static && !sorted_has(all.v, all.n, id))
            fn(sp, id, 0);
    }
    opd_free(*prev);
    *prev = all.v;
    *n_prev = all.n;
    *cap_prev = all.cap;
    return 0;
}

int opd_prof_filter_refresh(struct opd_scope_filter *s, struct opd_sampler *sp, const char *who)
{
    struct idset pinc = {0}, pexc = {0}, cinc = {0}, cexc = {0};
    uint64_t statics[64];
    size_t n_static = 0;
    int err = 0;

    if (!opd_prof_filter_any(s))
        return 0;
    for (size_t i = 0; i < s->include.n_pids && !err; i++) {
        err = opd_sampler_filter_pid(sp, s->include.pids[i], OPD_FILTER_INCLUDE);
        if (n_static < 64)
            statics[n_static++] = s->include.pids[i];
    }
    for (size_t i = 0; i < s->exclude.n_pids && !err; i++) {
        err = opd_sampler_filter_pid(sp, s->exclude.pids[i], OPD_FILTER_EXCLUDE);
        if (n_static < 64)
            statics[n_static++] = s->exclude.pids[i];
    }
    if (!err)
        err = scan_comm(s, &pinc, &pexc);
    if (!err)
        err = apply(sp, set_pid, &pinc, &pexc, &s->dyn_pids, &s->n_dyn_pids, &s->cap_dyn_pids,
                    statics, n_static);
    if (!err)
        err = scan_cgroups(s, &cinc, &cexc, who);
    if (!err)
        err = apply(sp, set_cgroup, &cinc, &cexc, &s->dyn_cgroups, &s->n_dyn_cgroups,
                    &s->cap_dyn_cgroups, NULL, 0);
    opd_sampler_all_execs(sp, s->include.n_comm || s->exclude.n_comm);
    opd_sampler_include_active(sp, s->include.n_pids || s->include.n_comm ||
                                       s->include.n_cgroup_prefixes || s->pods_scoped);
    if (err)
        OPD_WARN(who, "scope filter refresh incomplete: %s", strerror(-err));
    opd_free(pinc.v);
    opd_free(pexc.v);
    opd_free(cinc.v);
    opd_free(cexc.v);
    return err;
}

int opd_prof_filter_exec(struct opd_scope_filter *s, struct opd_sampler *sp, uint32_t pid)
{
    char comm[64];
    uint64_t *slot;
    int mode, err;

    if (!s->include.n_comm && !s->exclude.n_comm)
        return 0;
    if (read_comm(s->procfs_root, pid, comm, sizeof(comm)))
        return 0; /* gone already */
    if (comm_matches(s->exclude.comm, s->exclude.n_comm, comm))
        mode = OPD_FILTER_EXCLUDE;
    else if (comm_matches(s->include.comm, s->include.n_comm, comm))
        mode = OPD_FILTER_INCLUDE;
    else
        mode = 0;
    for (size_t i = 0; i < s->include.n_pids; i++) {
        if (s->include.pids[i] == pid)
            return 0; /* a configured pid keeps its rule */
    }
    for (size_t i = 0; i < s->exclude.n_pids; i++) {
        if (s->exclude.pids[i] == pid)
            return 0;
    }
    err = opd_sampler_filter_pid(sp, pid, mode);
    if (err || !mode)
        return err;
    /* Remembered with the scan's entries, so the next refresh removes it once it is gone. */
    slot = OPD_VEC_PUSH_SLOT(s->dyn_pids, s->n_dyn_pids, s->cap_dyn_pids);
    if (!slot)
        return -ENOMEM;
    *slot = pid;
    return 0;
}

static void rules_fini(struct opd_prof_filter_rules *r)
{
    opd_free(r->pids);
    for (size_t i = 0; i < r->n_comm; i++)
        regfree(&r->comm[i]);
    opd_free(r->comm);
    for (size_t i = 0; i < r->n_cgroup_prefixes; i++)
        opd_free(r->cgroup_prefixes[i]);
    opd_free(r->cgroup_prefixes);
    memset(r, 0, sizeof(*r));
}

static void free_pods(struct opd_scope_filter *s)
{
    for (size_t i = 0; i < s->n_pods; i++)
        opd_free(s->pods[i]);
    opd_free(s->pods);
    s->pods = NULL;
    s->n_pods = 0;
}

void opd_prof_filter_set_pods(struct opd_scope_filter *s, char **paths, size_t n)
{
    free_pods(s);
    s->pods = paths;
    s->n_pods = n;
    s->pods_scoped = true;
}

void opd_prof_filter_fini(struct opd_scope_filter *s)
{
    free_pods(s);
    rules_fini(&s->include);
    rules_fini(&s->exclude);
    opd_free(s->dyn_pids);
    opd_free(s->dyn_cgroups);
    s->dyn_pids = NULL;
    s->dyn_cgroups = NULL;
    s->n_dyn_pids = s->n_dyn_cgroups = 0;
    s->cap_dyn_pids = s->cap_dyn_cgroups = 0;
}
