/* The process table: a bounded pid -> metadata cache over /proc with LRU eviction, exit
 * detection at each sweep, and parking of replaced entries so returned pointers stay valid
 * for a whole interval (see proctab.h). An entry is immutable once read except for its
 * flags, LRU links and thread-name cache; refreshing builds a new entry and parks the old. */
#include "collector/receivers/profiling/proctab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/fileutil.h"
#include "collector/telemetry.h"

#define MAX_MAPS_BYTES     (32u << 20)
#define MAX_SMALL_BYTES    (64u << 10)
#define MAX_ENVIRON_BYTES  (4u << 20)
#define MAX_THREADS_CACHED 512 /* per process: bounds memory at ~10 KiB each */

struct thread_name {
    int32_t tid;
    char name[16];
    uint64_t gen; /* sweep generation of the last read */
};

struct entry {
    struct opd_proc pub;
    struct entry *hnext;
    struct entry *prev, *next; /* LRU list, most recent first */
    char *exe_path, *cgroup, *service_name, *resource_attributes;
    struct opd_proc_mapping *maps;
    size_t n_maps;
    bool stale;        /* invalidated: reread on next lookup */
    bool maps_reread;  /* a maps reread was already spent in this interval */
    bool exit_checked; /* an exited entry was rechecked in this interval */
    struct thread_name *threads;
    size_t n_threads, cap_threads;
};

struct opd_proctab {
    char *root;
    char *who;
    size_t max_procs;
    uint64_t grace_ns;
    bool read_env;
    struct entry **buckets;
    size_t n_buckets; /* power of two */
    size_t count;
    struct entry *head, *tail;
    struct entry **parked;
    size_t n_parked, cap_parked;
    struct opd_metric *m_tracked, *m_evictions, *m_read_failed;
    uint64_t gen; /* sweeps so far */
};

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    opd_free(e->exe_path);
    opd_free(e->cgroup);
    opd_free(e->service_name);
    opd_free(e->resource_attributes);
    opd_procmaps_free(e->maps, e->n_maps);
    opd_free(e->threads);
    opd_free(e);
}

static size_t bucket_of(const struct opd_proctab *t, int32_t pid)
{
    uint32_t h = (uint32_t)pid * 2654435761u;

    return h & (t->n_buckets - 1);
}

static struct entry *lookup(struct opd_proctab *t, int32_t pid)
{
    struct entry *e;

    for (e = t->buckets[bucket_of(t, pid)]; e; e = e->hnext)
        if (e->pub.pid == pid)
            return e;
    return NULL;
}

static void lru_unlink(struct opd_proctab *t, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct opd_proctab *t, struct entry *e)
{
    e->prev = NULL;
    e->next = t->head;
    if (t->head)
        t->head->prev = e;
    t->head = e;
    if (!t->tail)
        t->tail = e;
}

static void hash_remove(struct opd_proctab *t, struct entry *e)
{
    struct entry **pp = &t->buckets[bucket_of(t, e->pub.pid)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    e->hnext = NULL;
}

/* Moves e out of the table into the parking list (freed by the next sweep). When parking
 * fails for lack of memory the entry is freed at once: a dangling risk we avoid by only
 * parking entries that a caller could hold, which is every entry, so reserve first. */
static int park_reserve(struct opd_proctab *t)
{
    return opd_vec_reserve((void **)&t->parked, &t->cap_parked, t->n_parked + 1,
                           sizeof(*t->parked));
}

static void detach_and_park(struct opd_proctab *t, struct entry *e)
{
    hash_remove(t, e);
    lru_unlink(t, e);
    t->count--;
    t->parked[t->n_parked++] = e;
    opd_metric_set(t->m_tracked, (int64_t)t->count);
}

static void insert(struct opd_proctab *t, struct entry *e)
{
    size_t b = bucket_of(t, e->pub.pid);

    e->hnext = t->buckets[b];
    t->buckets[b] = e;
    lru_push_front(t, e);
    t->count++;
    opd_metric_set(t->m_tracked, (int64_t)t->count);
}

/* ---- reading /proc ------------------------------------------------------------------ */

static int read_small(struct opd_proctab *t, int32_t pid, const char *what, size_t max, char **buf,
                      size_t *len)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%d/%s", t->root, pid, what);
    return opd_prof_read_file(path, max, buf, len);
}

/* Parses /proc/PID/stat: comm between the first '(' and the last ')', start time = field 22. */
static int parse_stat(const char *s, size_t n, char comm[17], uint64_t *start_time)
{
    const char *open = memchr(s, '(', n);
    const char *close = NULL, *p;
    size_t clen;
    int field;

    for (p = s + n; p > s; p--) {
        if (p[-1] == ')') {
            close = p - 1;
            break;
        }
    }
    if (!open || !close || close < open)
        return -EINVAL;
    clen = (size_t)(close - open - 1);
    if (clen > 16)
        clen = 16;
    memcpy(comm, open + 1, clen);
    comm[clen] = '\0';
    /* After ") " comes field 3 (state); field 22 is 19 separators further. */
    p = close + 1;
    for (field = 2; field < 22; field++) {
        while (p < s + n && *p == ' ')
            p++;
        if (field == 21)
            break;
        while (p < s + n && *p != ' ')
            p++;
    }
    if (p >= s + n || *p < '0' || *p > '9')
        return -EINVAL;
    *start_time = strtoull(p, NULL, 10);
    return 0;
}

static int read_start_time(struct opd_proctab *t, int32_t pid, uint64_t *start, char comm[17])
{
    char *buf;
    size_t len;
    int err = read_small(t, pid, "stat", MAX_SMALL_BYTES, &buf, &len);

    if (err)
        return err == -ENOENT || err == -ESRCH ? -ESRCH : err;
    err = parse_stat(buf, len, comm, start);
    opd_free(buf);
    return err;
}

/* Last value of the "NSpid:" line of /proc/PID/status, or pid. */
static int32_t read_nspid(struct opd_proctab *t, int32_t pid)
{
    char *buf, *line, *p, *end;
    size_t len;
    int32_t ns = pid;

    if (read_small(t, pid, "status", MAX_SMALL_BYTES, &buf, &len))
        return pid;
    line = strstr(buf, "\nNSpid:");
    if (line) {
        p = line + 7;
        for (;;) {
            long v = strtol(p, &end, 10);

            if (end == p)
                break;
            if (v > 0 && v <= INT32_MAX)
                ns = (int32_t)v;
            p = end;
        }
    }
    opd_free(buf);
    return ns;
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* service.name out of OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values percent-encoded). */
static char *service_from_attrs(const char *attrs)
{
    const char *p = attrs;

    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq;

        while (n && *p == ' ') {
            p++;
            n--;
        }
        eq = memchr(p, '=', n);
        if (eq && (size_t)(eq - p) >= 12 && memcmp(p, "service.name", 12) == 0) {
            const char *k = p + 12;
            const char *v = eq + 1;
            size_t vn = n - (size_t)(v - p), i, o = 0;
            char *out;

            while (k < eq && *k == ' ')
                k++;
            if (k != eq)
                goto next;
            out = opd_malloc(vn + 1);
            if (!out)
                return NULL;
            for (i = 0; i < vn; i++) {
                if (v[i] == '%' && i + 2 < vn && hexdig(v[i + 1]) >= 0 && hexdig(v[i + 2]) >= 0) {
                    out[o++] = (char)(hexdig(v[i + 1]) * 16 + hexdig(v[i + 2]));
                    i += 2;
                } else {
                    out[o++] = v[i];
                }
            }
            while (o && out[o - 1] == ' ')
                o--;
            out[o] = '\0';
            return out;
        }
    next:
        if (!comma)
            break;
        p = comma + 1;
    }
    return opd_strdup("");
}

static int read_env(struct opd_proctab *t, struct entry *e)
{
    char *buf, *p, *end;
    size_t len;
    const char *svc = NULL, *attrs = NULL;
    int err;

    err = read_small(t, e->pub.pid, "environ", MAX_ENVIRON_BYTES, &buf, &len);
    if (err)
        return err == -ENOMEM ? err : 0; /* unreadable env is not fatal */
    for (p = buf, end = buf + len; p < end; p += strlen(p) + 1) {
        if (strncmp(p, "OTEL_SERVICE_NAME=", 18) == 0)
            svc = p + 18;
        else if (strncmp(p, "OTEL_RESOURCE_ATTRIBUTES=", 25) == 0)
            attrs = p + 25;
    }
    err = -ENOMEM;
    e->resource_attributes = opd_strdup(attrs ? attrs : "");
    if (!e->resource_attributes)
        goto out;
    if (svc && *svc)
        e->service_name = opd_strdup(svc);
    else
        e->service_name = service_from_attrs(e->resource_attributes);
    if (!e->service_name)
        goto out;
    err = 0;
out:
    opd_free(buf);
    return err;
}

static int cmp_map(const void *a, const void *b)
{
    const struct opd_proc_mapping *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int read_maps(struct opd_proctab *t, struct entry *e)
{
    char *buf;
    size_t len;
    int n, err;

    err = read_small(t, e->pub.pid, "maps", MAX_MAPS_BYTES, &buf, &len);
    if (err)
        return err == -ENOMEM ? err : 0; /* kernel threads and races: no mappings */
    n = opd_procmaps_parse(buf, len, OPD_MAP_EXEC, &e->maps);
    opd_free(buf);
    if (n < 0)
        return n;
    e->n_maps = (size_t)n;
    if (e->n_maps > 1)
        qsort(e->maps, e->n_maps, sizeof(*e->maps), cmp_map);
    return 0;
}

/* Builds a fresh entry for pid from /proc. NULL with errno ESRCH (gone), ENOMEM. */
static struct entry *read_proc(struct opd_proctab *t, int32_t pid, uint64_t now)
{
    struct entry *e;
    char path[PATH_MAX], link[PATH_MAX], *cg = NULL;
    size_t cglen;
    ssize_t r;
    int err;

    e = opd_calloc(1, sizeof(*e));
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    e->pub.pid = pid;
    err = read_start_time(t, pid, &e->pub.start_time, e->pub.comm);
    if (err)
        goto fail;
    snprintf(path, sizeof(path), "%s/%d/exe", t->root, pid);
    r = readlink(path, link, sizeof(link) - 1);
    link[r > 0 ? r : 0] = '\0';
    err = -ENOMEM;
    e->exe_path = opd_strdup(link);
    if (!e->exe_path)
        goto fail;
    e->pub.nspid = read_nspid(t, pid);
    err = read_small(t, pid, "cgroup", MAX_SMALL_BYTES, &cg, &cglen);
    if (err == -ENOMEM)
        goto fail;
    err = -ENOMEM;
    e->cgroup = opd_malloc(cg ? cglen + 1 : 1);
    if (!e->cgroup)
        goto fail;
    e->cgroup[0] = '\0';
    if (cg)
        opd_cgroup_pick(cg, cglen, e->cgroup, cglen + 1);
    opd_cgroup_parse(e->cgroup, e->pub.container_id, e->pub.pod_uid);
    if (t->read_env) {
        err = read_env(t, e);
        if (err)
            goto fail;
    }
    err = read_maps(t, e);
    if (err)
        goto fail;
    /* The process may have exited while we read: trust nothing from a reused pid. */
    {
        uint64_t st2;
        char comm2[17];

        err = read_start_time(t, pid, &st2, comm2);
        if (err)
            goto fail;
        if (st2 != e->pub.start_time) {
            err = -ESRCH;
            goto fail;
        }
    }
    opd_free(cg);
    e->pub.exe_path = e->exe_path;
    e->pub.cgroup = e->cgroup;
    e->pub.service_name = e->service_name ? e->service_name : "";
    e->pub.resource_attributes = e->resource_attributes ? e->resource_attributes : "";
    e->pub.maps = e->maps;
    e->pub.n_maps = e->n_maps;
    e->pub.seen_at = now;
    return e;
fail:
    opd_free(cg);
    entry_free(e);
    if (err != -ESRCH && err != -ENOMEM)
        opd_metric_add(t->m_read_failed, 1);
    errno = err == -ENOMEM ? ENOMEM : ESRCH;
    return NULL;
}

/* ---- table operations --------------------------------------------------------------- */

struct opd_proctab *opd_proctab_create(const struct opd_proctab_config *cfg,
                                       struct opd_telemetry *tel, const char *who)
{
    struct opd_proctab *t;
    const char *label_who;
    char labels[256];
    int err = ENOMEM;

    if (!cfg) {
        errno = EINVAL;
        return NULL;
    }
    t = opd_calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    t->root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    t->who = opd_strdup(who ? who : "receiver/profiling");
    if (!t->root || !t->who)
        goto fail;
    t->max_procs = cfg->max_procs ? cfg->max_procs : 4096;
    t->grace_ns = cfg->grace_ns;
    t->read_env = cfg->read_env;
    for (t->n_buckets = 64; t->n_buckets < t->max_procs && t->n_buckets < (1u << 20);)
        t->n_buckets <<= 1;
    t->buckets = opd_calloc(t->n_buckets, sizeof(*t->buckets));
    if (!t->buckets)
        goto fail;
    if (tel) {
        label_who = strncmp(t->who, "receiver/", 9) == 0 ? t->who + 9 : t->who;
        snprintf(labels, sizeof(labels), "receiver=\"%s\"", label_who);
        t->m_tracked =
            opd_telemetry_metric(tel, OPD_METRIC_GAUGE, "otelprofd_profiling_processes_tracked",
                                 labels, "Processes in the profiling receiver's table");
        t->m_evictions = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_process_evictions", labels,
            "Processes dropped from the full process table before they exited");
        t->m_read_failed = opd_telemetry_metric(tel, OPD_METRIC_COUNTER,
                                                "otelprofd_profiling_process_reads_failed", labels,
                                                "Failed reads of /proc for a process");
        if (!t->m_tracked || !t->m_evictions || !t->m_read_failed) {
            err = errno ? errno : ENOMEM;
            goto fail;
        }
    }
    return t;
fail:
    opd_proctab_destroy(t);
    errno = err;
    return NULL;
}

static void free_parked(struct opd_proctab *t)
{
    size_t i;

    for (i = 0; i < t->n_parked; i++)
        entry_free(t->parked[i]);
    t->n_parked = 0;
}

void opd_proctab_destroy(struct opd_proctab *t)
{
    struct entry *e, *next;

    if (!t)
        return;
    for (e = t->head; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    free_parked(t);
    opd_free(t->parked);
    opd_free(t->buckets);
    opd_free(t->root);
    opd_free(t->who);
    opd_free(t);
}

/* Puts fresh in old's place (old is parked); keeps the thread-name cache when the process
 * is the same one (same start time). */
static void replace(struct opd_proctab *t, struct entry *old, struct entry *fresh)
{
    if (old->pub.start_time == fresh->pub.start_time) {
        fresh->threads = old->threads;
        fresh->n_threads = old->n_threads;
        fresh->cap_threads = old->cap_threads;
        old->threads = NULL;
        old->n_threads = old->cap_threads = 0;
        fresh->maps_reread = old->maps_reread;
    }
    detach_and_park(t, old);
    insert(t, fresh);
}

static int make_room(struct opd_proctab *t)
{
    while (t->count >= t->max_procs && t->tail) {
        struct entry *victim = t->tail;

        if (park_reserve(t))
            return -ENOMEM;
        if (!victim->pub.exited)
            opd_metric_add(t->m_evictions, 1);
        detach_and_park(t, victim);
    }
    return 0;
}

static struct entry *get_entry(struct opd_proctab *t, int32_t pid, uint64_t now)
{
    struct entry *e, *fresh;

    if (!t || pid <= 0) {
        errno = EINVAL;
        return NULL;
    }
    e = lookup(t, pid);
    if (e && !e->stale && (!e->pub.exited || e->exit_checked)) {
        lru_unlink(t, e);
        lru_push_front(t, e);
        return e;
    }
    if (e) {
        /* Stale (exec) or exited: look once more; a new process under the pid replaces it. */
        e->exit_checked = true;
        if (park_reserve(t)) {
            errno = ENOMEM;
            return NULL;
        }
        fresh = read_proc(t, pid, now);
        if (!fresh) {
            if (errno == ENOMEM)
                return NULL;
            if (!e->pub.exited) {
                e->pub.exited = true;
                e->pub.exited_at = now;
            }
            e->stale = false;
            lru_unlink(t, e);
            lru_push_front(t, e);
            return e;
        }
        fresh->exit_checked = true;
        replace(t, e, fresh);
        return fresh;
    }
    if (make_room(t)) {
        errno = ENOMEM;
        return NULL;
    }
    fresh = read_proc(t, pid, now);
    if (!fresh)
        return NULL;
    insert(t, fresh);
    return fresh;
}

const struct opd_proc *opd_proctab_get(struct opd_proctab *t, int32_t pid, uint64_t now)
{
    struct entry *e = get_entry(t, pid, now);

    return e ? &e->pub : NULL;
}

static const struct opd_proc_mapping *search_maps(const struct entry *e, uint64_t addr)
{
    size_t lo = 0, hi = e->n_maps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct opd_proc_mapping *m = &e->maps[mid];

        if (addr < m->start)
            hi = mid;
        else if (addr >= m->end)
            lo = mid + 1;
        else
            return m;
    }
    return NULL;
}

const struct opd_proc_mapping *opd_proctab_find_mapping(struct opd_proctab *t, int32_t pid,
                                                        uint64_t addr, uint64_t now,
                                                        const struct opd_proc **proc_out)
{
    struct entry *e = get_entry(t, pid, now), *fresh;
    const struct opd_proc_mapping *m;

    if (proc_out)
        *proc_out = e ? &e->pub : NULL;
    if (!e)
        return NULL;
    m = search_maps(e, addr);
    if (m)
        return m;
    if (e->maps_reread || e->pub.exited) {
        errno = ENOENT;
        return NULL;
    }
    /* Unknown address in a live process: code was mapped since we looked (dlopen, JIT). */
    e->maps_reread = true;
    if (park_reserve(t)) {
        errno = ENOMEM;
        return NULL;
    }
    fresh = read_proc(t, pid, now);
    if (!fresh) {
        if (errno == ENOMEM)
            return NULL;
        errno = ENOENT;
        return NULL;
    }
    if (fresh->pub.start_time != e->pub.start_time) {
        /* Pid reuse: the old process's address cannot be in the new one. */
        replace(t, e, fresh);
        errno = ENOENT;
        return NULL;
    }
    replace(t, e, fresh);
    fresh->maps_reread = true;
    if (proc_out)
        *proc_out = &fresh->pub;
    m = search_maps(fresh, addr);
    if (!m)
        errno = ENOENT;
    return m;
}

void opd_proctab_invalidate(struct opd_proctab *t, int32_t pid)
{
    struct entry *e = t ? lookup(t, pid) : NULL;

    if (e)
        e->stale = true;
}

int opd_proctab_thread_name(struct opd_proctab *t, int32_t pid, int32_t tid, char *buf, size_t len,
                            uint64_t now)
{
    struct thread_name *slot = NULL;
    struct entry *e;
    char path[64], *name;
    size_t i, n;
    int err;

    if (!t || !buf || len == 0 || pid <= 0 || tid <= 0)
        return -EINVAL;
    buf[0] = '\0';
    e = get_entry(t, pid, now);
    if (e) {
        for (i = 0; i < e->n_threads && !slot; i++)
            if (e->threads[i].tid == tid)
                slot = &e->threads[i];
        /* Read once per interval so renames show; the cache covers threads that exited. */
        if (slot && (slot->gen == t->gen || e->pub.exited)) {
            snprintf(buf, len, "%s", slot->name);
            return 0;
        }
    }
    snprintf(path, sizeof(path), "task/%d/comm", tid);
    err = read_small(t, pid, path, 4096, &name, &n);
    if (err) {
        if (slot) {
            snprintf(buf, len, "%s", slot->name);
            return 0;
        }
        return err == -ENOMEM ? err : -ESRCH;
    }
    while (n && (name[n - 1] == '\n' || name[n - 1] == '\0'))
        name[--n] = '\0';
    snprintf(buf, len, "%s", name);
    if (!slot && e && e->n_threads < MAX_THREADS_CACHED && !e->pub.exited) {
        slot = OPD_VEC_PUSH_SLOT(e->threads, e->n_threads, e->cap_threads);
        if (slot)
            slot->tid = tid;
    }
    if (slot) {
        snprintf(slot->name, sizeof(slot->name), "%s", name);
        slot->gen = t->gen;
    }
    opd_free(name);
    return 0;
}

void opd_proctab_sweep(struct opd_proctab *t, uint64_t now)
{
    struct entry *e, *next;

    if (!t)
        return;
    free_parked(t);
    t->gen++;
    for (e = t->head; e; e = next) {
        next = e->next;
        e->maps_reread = false;
        e->exit_checked = false;
        if (!e->pub.exited) {
            uint64_t st;
            char comm[17];
            int err = read_start_time(t, e->pub.pid, &st, comm);

            if (err == -ESRCH || (!err && st != e->pub.start_time)) {
                e->pub.exited = true;
                e->pub.exited_at = now;
            }
            continue;
        }
        if (now - e->pub.exited_at >= t->grace_ns) {
            hash_remove(t, e);
            lru_unlink(t, e);
            t->count--;
            entry_free(e);
        }
    }
    opd_metric_set(t->m_tracked, (int64_t)t->count);
}

size_t opd_proctab_count(const struct opd_proctab *t)
{
    return t ? t->count : 0;
}
