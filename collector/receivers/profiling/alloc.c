/* Allocation profiling: process selection, per-file uprobe management and drain (see
 * alloc.h). */
#include "collector/receivers/profiling/alloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"
#include "profile.skel.h"

/* One probed function: its entry program, and whether its return is probed too. */
struct probe {
    const char *func;
    size_t prog_off; /* offset of the entry program in struct profile_bpf's progs */
    bool ret;
    bool libc_only; /* other allocators map their large blocks through libc's */
};

#define PROG(name) offsetof(struct profile_bpf, progs.name)

static const struct probe probes[] = {
    {"malloc", PROG(opd_alloc_malloc), true},
    {"calloc", PROG(opd_alloc_calloc), true},
    {"realloc", PROG(opd_alloc_realloc), true},
    {"posix_memalign", PROG(opd_alloc_posix_memalign), true},
    {"aligned_alloc", PROG(opd_alloc_aligned_alloc), true},
    {"free", PROG(opd_alloc_free), false},
    {"mmap", PROG(opd_alloc_mmap), true, true},
    {"munmap", PROG(opd_alloc_munmap), false, true},
};
#define N_PROBES (sizeof(probes) / sizeof(probes[0]))

/* One probed allocator file, by identity (a file is probed once whatever the number of
 * paths that map it). With a memory scope of pids or names, once per profiled process
 * (pid): the kernel then puts the breakpoints only into that process, and the others
 * mapping the same libc do not trap on every malloc. Without (every process in scope),
 * once for all (pid 0). */
struct afile {
    uint64_t dev, inode;
    uint32_t pid;
    char *path; /* the path it was attached through, for logs */
    struct bpf_link *entry[N_PROBES];
    struct bpf_link *ret[N_PROBES];
    bool seen; /* mapped by a profiled process in the current scan */
};

struct opd_alloc {
    struct opd_sampler *s;
    struct profile_bpf *skel;
    char *who;
    char *procfs_root;
    uint64_t rate;
    const uint32_t *pids;
    size_t n_pids;
    const regex_t *comm;
    size_t n_comm;
    pid_t self;

    struct afile *files;
    size_t n_files, cap_files;
    uint32_t *profiled; /* sorted pids currently in opd_alloc_pids */
    size_t n_profiled, cap_profiled;
    uint32_t *scan; /* scratch for a scan */
    size_t n_scan, cap_scan;
    bool warned_full;

    /* Drain scratch. */
    uint64_t *ids;
    size_t n_ids, cap_ids;
    struct opd_alloc_live *live;
    size_t n_live, cap_live;
    struct opd_alloc_live *stale; /* (tgid, address) of blocks to forget */
    size_t cap_stale;
    struct opd_alloc_live_key live_key; /* the walk's previous key */
    uint64_t *percpu;
    int ncpus;
};

static struct bpf_program *prog_at(struct profile_bpf *skel, size_t off)
{
    return *(struct bpf_program **)((char *)skel + off);
}

void opd_alloc_configure(struct profile_bpf *skel, bool on)
{
    for (size_t i = 0; i < N_PROBES; i++)
        bpf_program__set_autoload(prog_at(skel, probes[i].prog_off), on);
    bpf_program__set_autoload(skel->progs.opd_alloc_ret, on);
    bpf_program__set_autoload(skel->progs.opd_alloc_walk, on);
    bpf_program__set_autoload(skel->progs.opd_alloc_finish, on);
    if (!on) {
        bpf_map__set_max_entries(skel->maps.opd_alloc_pids, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc_threads, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc_pending, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc0, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc1, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc_live, 1);
        bpf_map__set_max_entries(skel->maps.opd_alloc_stacks, 1);
    }
}

void opd_alloc_intervals(uint64_t mean, uint64_t out[OPD_ALLOC_INTERVALS])
{
    for (size_t i = 0; i < OPD_ALLOC_INTERVALS; i++) {
        /* The (i + 0.5) / N quantile of U(0,1) through the inverse exponential CDF. */
        double u = ((double)i + 0.5) / OPD_ALLOC_INTERVALS;
        double v = -log(u) * (double)mean;

        out[i] = v < 1 ? 1 : v > 1e18 ? (uint64_t)1e18 : (uint64_t)v;
    }
}

void opd_alloc_scale(uint64_t count, uint64_t bytes, uint64_t rate, uint64_t *objects,
                     uint64_t *space)
{
    double avg, scale;

    if (count == 0 || rate == 0) {
        *objects = count;
        *space = bytes;
        return;
    }
    avg = (double)bytes / (double)count;
    scale = 1.0 / (1.0 - exp(-avg / (double)rate));
    *objects = (uint64_t)((double)count * scale + 0.5);
    *space = (uint64_t)((double)bytes * scale + 0.5);
}

bool opd_alloc_is_allocator(const char *path)
{
    const char *base = strrchr(path, '/');
    /* jemalloc and tcmalloc come in variants (libtcmalloc_minimal, _debug, ...): any
     * shared object of theirs. */
    static const char *const families[] = {"libjemalloc", "libtcmalloc"};

    base = base ? base + 1 : path;
    /* libc.so.6, or libc-2.31.so but not libc-client.so. */
    if (strncmp(base, "libc.so", 7) == 0 ||
        (strncmp(base, "libc-", 5) == 0 && isdigit((unsigned char)base[5])))
        return true;
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        if (strncmp(base, families[i], strlen(families[i])) == 0 && strstr(base, ".so"))
            return true;
    }
    return false;
}

struct opd_alloc *opd_alloc_create(struct opd_sampler *s, const struct opd_alloc_config *cfg)
{
    uint64_t iv[OPD_ALLOC_INTERVALS];
    struct opd_alloc *a = NULL;
    int err = -ENOMEM, fd;

    if (!cfg->sample_bytes) {
        err = -EINVAL;
        goto out;
    }
    a = opd_calloc(1, sizeof(*a));
    if (!a)
        goto out;
    a->s = s;
    a->skel = opd_sampler_skel(s);
    a->rate = cfg->sample_bytes;
    a->pids = cfg->pids;
    a->n_pids = cfg->n_pids;
    a->comm = cfg->comm;
    a->n_comm = cfg->n_comm;
    a->self = getpid();
    a->who = opd_strdup(cfg->who ? cfg->who : "receiver/profiling");
    a->procfs_root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    a->ncpus = libbpf_num_possible_cpus();
    if (!a->who || !a->procfs_root)
        goto out;
    if (a->ncpus <= 0) {
        err = a->ncpus ? a->ncpus : -ENODEV;
        goto out;
    }
    a->percpu = opd_calloc((size_t)a->ncpus, sizeof(*a->percpu));
    if (!a->percpu)
        goto out;
    opd_alloc_intervals(a->rate, iv);
    fd = bpf_map__fd(a->skel->maps.opd_alloc_intervals);
    for (uint32_t i = 0; i < OPD_ALLOC_INTERVALS; i++) {
        if (bpf_map_update_elem(fd, &i, &iv[i], BPF_ANY)) {
            err = -errno;
            OPD_ERR(a->who, "memory: cannot fill the sampling intervals: %s", strerror(-err));
            goto out;
        }
    }
    __atomic_store_n(&a->skel->bss->opd_alloc_sample_bytes, a->rate, __ATOMIC_SEQ_CST);
    err = 0;
out:
    if (err) {
        opd_alloc_destroy(a);
        errno = -err;
        return NULL;
    }
    return a;
}

static void file_detach(struct afile *f)
{
    for (size_t i = 0; i < N_PROBES; i++) {
        bpf_link__destroy(f->entry[i]);
        bpf_link__destroy(f->ret[i]);
        f->entry[i] = f->ret[i] = NULL;
    }
    opd_free(f->path);
    f->path = NULL;
}

void opd_alloc_destroy(struct opd_alloc *a)
{
    if (!a)
        return;
    if (a->skel && a->skel->bss)
        __atomic_store_n(&a->skel->bss->opd_alloc_sample_bytes, 0, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < a->n_files; i++)
        file_detach(&a->files[i]);
    opd_free(a->files);
    opd_free(a->profiled);
    opd_free(a->scan);
    opd_free(a->ids);
    opd_free(a->live);
    opd_free(a->stale);
    opd_free(a->percpu);
    opd_free(a->procfs_root);
    opd_free(a->who);
    opd_free(a);
}

/* ---- process selection and probes ------------------------------------------------------ */

static bool in_memory_scope(struct opd_alloc *a, uint32_t pid)
{
    char path[512], comm[64];
    FILE *f;
    bool in = false;

    if (a->n_pids == 0 && a->n_comm == 0)
        return true;
    for (size_t i = 0; i < a->n_pids; i++) {
        if (a->pids[i] == pid)
            return true;
    }
    if (a->n_comm == 0)
        return false;
    snprintf(path, sizeof(path), "%s/%" PRIu32 "/comm", a->procfs_root, pid);
    f = fopen(path, "re");
    if (!f)
        return false;
    if (fgets(comm, sizeof(comm), f)) {
        comm[strcspn(comm, "\n")] = '\0';
        for (size_t i = 0; i < a->n_comm && !in; i++)
            in = regexec(&a->comm[i], comm, 0, NULL, 0) == 0;
    }
    fclose(f);
    return in;
}

static struct afile *file_find(struct opd_alloc *a, uint64_t dev, uint64_t inode, uint32_t pid)
{
    for (size_t i = 0; i < a->n_files; i++) {
        if (a->files[i].dev == dev && a->files[i].inode == inode && a->files[i].pid == pid)
            return &a->files[i];
    }
    return NULL;
}

/* Attaches every probe to the file at path (reached through the process's root, so
 * that a container's libc is the one probed). A function the library lacks is skipped;
 * a library without malloc is not probed at all. */
static int file_attach(struct opd_alloc *a, struct afile *f, const char *path)
{
    int attached = 0, pid = f->pid ? (int)f->pid : -1;
    bool libc = !strstr(path, "jemalloc") && !strstr(path, "tcmalloc");

    f->path = opd_strdup(path);
    if (!f->path)
        return -ENOMEM;
    for (size_t i = 0; i < N_PROBES; i++) {
        LIBBPF_OPTS(bpf_uprobe_opts, eo, .func_name = probes[i].func, .retprobe = false);
        LIBBPF_OPTS(bpf_uprobe_opts, ro, .func_name = probes[i].func, .retprobe = true);

        if (probes[i].libc_only && !libc)
            continue;
        f->entry[i] = bpf_program__attach_uprobe_opts(prog_at(a->skel, probes[i].prog_off), pid,
                                                      path, 0, &eo);
        if (!f->entry[i]) {
            OPD_DEBUG(a->who, "memory: %s has no %s (%s)", path, probes[i].func, strerror(errno));
            if (i == 0)
                break;
            continue;
        }
        attached++;
        if (probes[i].ret) {
            f->ret[i] =
                bpf_program__attach_uprobe_opts(a->skel->progs.opd_alloc_ret, pid, path, 0, &ro);
            if (!f->ret[i]) {
                OPD_WARN(a->who, "memory: cannot probe the return of %s in %s: %s", probes[i].func,
                         path, strerror(errno));
                bpf_link__destroy(f->entry[i]);
                f->entry[i] = NULL;
                attached--;
            }
        }
    }
    if (!f->entry[0]) {
        file_detach(f);
        return -ENOENT;
    }
    OPD_INFO(a->who, "memory: probing %d allocator functions of %s", attached, path);
    return 0;
}

/* Marks (and attaches, when new) the allocator files pid maps. */
static int scan_maps(struct opd_alloc *a, uint32_t pid)
{
    char path[600], line[1024];
    FILE *fp;
    int err = 0;

    bool per_pid = a->n_pids || a->n_comm;

    snprintf(path, sizeof(path), "%s/%" PRIu32 "/maps", a->procfs_root, pid);
    fp = fopen(path, "re");
    if (!fp)
        return -errno;
    while (fgets(line, sizeof(line), fp)) {
        unsigned long long start, end, off, inode;
        unsigned int maj, min;
        char perms[8];
        int name_at = 0;
        const char *file;
        struct afile *f;

        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
                   &inode, &name_at) < 7 ||
            !name_at || perms[2] != 'x' || inode == 0)
            continue;
        file = line + name_at;
        ((char *)file)[strcspn(file, "\n")] = '\0';
        if (file[0] != '/' || !opd_alloc_is_allocator(file))
            continue;
        f = file_find(a, ((uint64_t)maj << 32) | min, inode, per_pid ? pid : 0);
        if (f) {
            f->seen = true;
            continue;
        }
        f = OPD_VEC_PUSH_SLOT(a->files, a->n_files, a->cap_files);
        if (!f) {
            err = -ENOMEM;
            break;
        }
        memset(f, 0, sizeof(*f));
        f->dev = ((uint64_t)maj << 32) | min;
        f->inode = inode;
        f->pid = per_pid ? pid : 0;
        f->seen = true;
        snprintf(path, sizeof(path), "%s/%" PRIu32 "/root%s", a->procfs_root, pid, file);
        err = file_attach(a, f, path);
        if (err == -ENOMEM)
            break;
        if (err) {
            /* Forgotten, so that the next scan tries again: a process caught while its
             * loader maps the library, or gone meanwhile, is no reason to give up. */
            OPD_DEBUG(a->who, "memory: cannot probe %s: %s", path, strerror(-err));
            a->n_files--;
        }
        err = 0;
    }
    fclose(fp);
    return err;
}

static int cmp_u32(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

    return a < b ? -1 : a > b;
}

static bool has_pid(const uint32_t *v, size_t n, uint32_t pid)
{
    return n && bsearch(&pid, v, n, sizeof(*v), cmp_u32) != NULL;
}

int opd_alloc_refresh(struct opd_alloc *a)
{
    int fd = bpf_map__fd(a->skel->maps.opd_alloc_pids);
    uint32_t one = 1, *tmp;
    struct dirent *de;
    DIR *d;
    int err = 0;

    d = opendir(a->procfs_root);
    if (!d)
        return -errno;
    a->n_scan = 0;
    for (size_t i = 0; i < a->n_files; i++)
        a->files[i].seen = false;
    while ((de = readdir(d))) {
        char *end;
        unsigned long pid = strtoul(de->d_name, &end, 10);
        uint32_t *slot;

        if (!isdigit((unsigned char)de->d_name[0]) || *end || pid == (unsigned long)a->self ||
            pid == 0 || pid > UINT32_MAX)
            continue;
        if (!in_memory_scope(a, (uint32_t)pid))
            continue;
        slot = OPD_VEC_PUSH_SLOT(a->scan, a->n_scan, a->cap_scan);
        if (!slot) {
            err = -ENOMEM;
            break;
        }
        *slot = (uint32_t)pid;
        /* Into the pid map before its probes go in: the process may allocate as soon as
         * they are, and what it allocates then must count. */
        if (bpf_map_update_elem(fd, slot, &one, BPF_ANY)) {
            a->n_scan--;
            if (!a->warned_full) {
                a->warned_full = true;
                OPD_WARN(a->who, "memory: more processes in scope than can be profiled (%s)",
                         strerror(errno));
            }
            continue;
        }
        if (scan_maps(a, (uint32_t)pid) == -ENOMEM) {
            err = -ENOMEM;
            break;
        }
    }
    closedir(d);
    qsort(a->scan, a->n_scan, sizeof(*a->scan), cmp_u32);
    if (err) {
        /* Keep the previous set: take out of the map what this pass added to it. */
        for (size_t i = 0; i < a->n_scan; i++) {
            if (!has_pid(a->profiled, a->n_profiled, a->scan[i]))
                bpf_map_delete_elem(fd, &a->scan[i]);
        }
        return err;
    }

    /* Leave: processes gone or out of scope. */
    for (size_t i = 0; i < a->n_profiled; i++) {
        if (!has_pid(a->scan, a->n_scan, a->profiled[i]))
            bpf_map_delete_elem(fd, &a->profiled[i]);
    }
    tmp = a->profiled;
    a->profiled = a->scan;
    a->scan = tmp;
    a->n_profiled = a->n_scan;
    {
        size_t c = a->cap_profiled;

        a->cap_profiled = a->cap_scan;
        a->cap_scan = c;
    }

    /* Files no profiled process maps any more. */
    for (size_t i = 0; i < a->n_files;) {
        if (a->files[i].seen) {
            i++;
            continue;
        }
        if (a->files[i].path)
            OPD_INFO(a->who, "memory: %s no longer mapped; detaching", a->files[i].path);
        file_detach(&a->files[i]);
        a->files[i] = a->files[--a->n_files];
    }
    return (int)a->n_profiled;
}

/* ---- drain -------------------------------------------------------------------------------- */

static int push_id(struct opd_alloc *a, uint64_t id)
{
    uint64_t *slot;

    if (id == OPD_STACK_NONE)
        return 0;
    slot = OPD_VEC_PUSH_SLOT(a->ids, a->n_ids, a->cap_ids);
    if (!slot)
        return -ENOMEM;
    *slot = id;
    return 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

static int add_stacks(struct opd_alloc *a, struct opd_drain *out)
{
    int fd = bpf_map__fd(a->skel->maps.opd_alloc_stacks);
    struct opd_bpf_stack st;
    size_t n = 0;
    int err;

    if (a->n_ids > 1)
        qsort(a->ids, a->n_ids, sizeof(*a->ids), cmp_u64);
    for (size_t i = 0; i < a->n_ids; i++) {
        if ((i && a->ids[i] == a->ids[i - 1]) || opd_drain_stack(out, a->ids[i]))
            continue;
        a->ids[n++] = a->ids[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (bpf_map_lookup_elem(fd, &a->ids[i], &st))
            continue;
        err = opd_drain_add_stack(out, a->ids[i], &st);
        if (err)
            return err;
    }
    opd_drain_finish(out);
    return 0;
}

static int add_estimate(struct opd_alloc *a, struct opd_drain *out,
                        const struct opd_sample_key *key, uint64_t count, uint64_t bytes,
                        bool inuse)
{
    uint64_t objects, space;
    int err;

    opd_alloc_scale(count, bytes, a->rate, &objects, &space);
    if (inuse)
        return opd_drain_add_value(out, OPD_PROF_INUSE_SPACE, key, space);
    err = opd_drain_add_value(out, OPD_PROF_ALLOC_SPACE, key, space);
    if (!err)
        err = opd_drain_add_value(out, OPD_PROF_ALLOC_OBJECTS, key, objects);
    return err;
}

static int drain_counts(struct opd_alloc *a, struct opd_drain *out)
{
    uint32_t old = (__atomic_load_n(&a->skel->bss->opd_state.gen, __ATOMIC_RELAXED) & 1) ^ 1;
    int fd = bpf_map__fd(old ? a->skel->maps.opd_alloc1 : a->skel->maps.opd_alloc0);
    struct opd_sample_key key;
    struct opd_alloc_value v;
    int err;

    for (;;) {
        if (bpf_map_get_next_key(fd, NULL, &key))
            return errno == ENOENT ? 0 : -errno;
        if (bpf_map_lookup_elem(fd, &key, &v) == 0 && v.count) {
            err = add_estimate(a, out, &key, v.count, v.bytes, false);
            if (!err)
                err = push_id(a, key.ustack);
            if (err)
                return err;
        }
        if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
            return -errno;
    }
}

static int cmp_live(const void *x, const void *y)
{
    return memcmp(&((const struct opd_alloc_live *)x)->key,
                  &((const struct opd_alloc_live *)y)->key, sizeof(struct opd_sample_key));
}

/* Live sampled blocks of profiled processes, summed per key; blocks of processes no
 * longer profiled are dropped from the map. */
static int drain_live(struct opd_alloc *a, struct opd_drain *out)
{
    int fd = bpf_map__fd(a->skel->maps.opd_alloc_live);
    struct opd_alloc_live_key k, *prev = NULL;
    struct opd_alloc_live v;
    size_t n_stale = 0;
    int err;

    a->n_live = 0;
    while (bpf_map_get_next_key(fd, prev, &k) == 0) {
        struct opd_alloc_live *slot = OPD_VEC_PUSH_SLOT(a->live, a->n_live, a->cap_live);

        if (!slot)
            return -ENOMEM;
        if (bpf_map_lookup_elem(fd, &k, &v)) {
            a->n_live--; /* freed meanwhile */
        } else if (!has_pid(a->profiled, a->n_profiled, k.tgid)) {
            /* Stale: remembered by address at the end of the array, deleted after the
             * walk so that the walk is not restarted. */
            a->n_live--;
            slot = OPD_VEC_PUSH_SLOT(a->stale, n_stale, a->cap_stale);
            if (!slot)
                return -ENOMEM;
            memset(slot, 0, sizeof(*slot));
            slot->key.tgid = k.tgid;
            slot->size = k.addr;
        } else {
            *slot = v;
        }
        a->live_key = k;
        prev = &a->live_key;
    }
    for (size_t i = 0; i < n_stale; i++) {
        k.tgid = a->stale[i].key.tgid;
        k.pad = 0;
        k.addr = a->stale[i].size;
        bpf_map_delete_elem(fd, &k);
    }
    if (a->n_live > 1)
        qsort(a->live, a->n_live, sizeof(*a->live), cmp_live);
    for (size_t i = 0, j; i < a->n_live; i = j) {
        uint64_t bytes = 0;

        for (j = i; j < a->n_live && cmp_live(&a->live[i], &a->live[j]) == 0; j++)
            bytes += a->live[j].size;
        err = add_estimate(a, out, &a->live[i].key, j - i, bytes, true);
        if (!err)
            err = push_id(a, a->live[i].key.ustack);
        if (err)
            return err;
    }
    return 0;
}

int opd_alloc_drain(struct opd_alloc *a, struct opd_drain *out)
{
    int err;

    a->n_ids = 0;
    err = drain_counts(a, out);
    if (!err)
        err = drain_live(a, out);
    if (!err)
        err = add_stacks(a, out);
    return err;
}

int opd_alloc_counters(struct opd_alloc *a, uint64_t out[OPD_ACNT__MAX])
{
    int fd = bpf_map__fd(a->skel->maps.opd_alloc_counters);

    for (uint32_t i = 0; i < OPD_ACNT__MAX; i++) {
        out[i] = 0;
        if (bpf_map_lookup_elem(fd, &i, a->percpu))
            return -errno;
        for (int c = 0; c < a->ncpus; c++)
            out[i] += a->percpu[c];
    }
    return 0;
}
