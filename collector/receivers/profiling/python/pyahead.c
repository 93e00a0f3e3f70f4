/* Reading ahead of the drain (see python.h, opd_python_create): code objects on the stacks
 * of running CPython processes go into the cache while they can still be read, exited
 * processes are noticed, and processes without CPython are inspected again in case they
 * load libpython later. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/python/pyint.h"
#include "collector/receivers/profiling/python/pywalk.h"
#include "collector/telemetry.h"

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Remembers pid, which runs no CPython yet, for rechecks; the oldest entry gives way. */
void opd_py_watch_add(struct opd_python *py, int32_t pid, bool soon)
{
    uint64_t first = soon && py->recheck_ns > RECHECK_SOON_NS ? RECHECK_SOON_NS : py->recheck_ns;

    if (!py->watch)
        return;
    py->watch[py->watch_head].pid = pid;
    py->watch[py->watch_head].due_ns = now_ns() + first;
    py->watch[py->watch_head].every_ns = first;
    py->watch[py->watch_head].sig = 0;
    py->watch_head = (py->watch_head + 1) % WATCH_SLOTS;
}

/* Reads procfs_root/PID/maps into *text (heap). Returns its length or -errno. */
static ssize_t read_maps(const char *procfs_root, int32_t pid, char **text)
{
    char path[256];
    size_t len = 0, cap = 16384;
    ssize_t r = 0;
    char *buf = NULL;
    int fd;

    snprintf(path, sizeof(path), "%s/%d/maps", procfs_root, pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    buf = opd_malloc(cap);
    for (;;) {
        if (!buf) {
            r = -ENOMEM;
            goto out;
        }
        if (len == cap) {
            char *nb;

            if (cap >= MAPS_MAX) {
                r = -EFBIG;
                goto out;
            }
            nb = opd_realloc(buf, cap * 2);
            if (!nb) {
                r = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0) {
            r = -errno;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    r = (ssize_t)len;
out:
    close(fd);
    if (r < 0) {
        opd_free(buf);
        buf = NULL;
    }
    *text = buf;
    return r;
}

/* Hash of the lines of a maps text that name python (FNV-1a; never 0), 1 when none do. */
static uint64_t python_lines_sig(const char *text, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *p = text, *end = text + len;
    bool any = false;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        if (memmem(p, (size_t)(eol - p), "python", 6)) {
            any = true;
            for (const char *c = p; c < eol; c++)
                h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
        }
        p = eol + 1;
    }
    return !any ? 1 : h ? h : 2;
}

/* Inspects pid again: attaches it when it maps a CPython now. *sig is the signature of its
 * python lines at the last check; the files are only inspected when it changed. Returns
 * true when the pid needs no more rechecks (attached, unsupported, or gone). */
static bool recheck(struct opd_python *py, int32_t pid, uint64_t *sig)
{
    struct opd_proc_mapping *maps = NULL;
    struct opd_proc proc = {0};
    char *text = NULL;
    uint64_t new_sig;
    bool named = false;
    ssize_t len;
    int n, err;

    len = read_maps(py->procfs_root, pid, &text);
    if (len < 0)
        return len == -ENOENT || len == -ESRCH;
    /* Most processes never map anything named python, and a process whose python
     * mappings did not change (a python2, a tool named python-something) was looked at. */
    new_sig = python_lines_sig(text, (size_t)len);
    if (new_sig == 1 || new_sig == *sig) {
        *sig = new_sig;
        opd_free(text);
        return false;
    }
    *sig = new_sig;
    n = opd_procmaps_parse(text, (size_t)len, OPD_MAP_EXEC, &maps);
    opd_free(text);
    if (n < 0)
        return false;
    proc.pid = pid;
    proc.maps = maps;
    proc.n_maps = (size_t)n;
    pthread_mutex_lock(&py->lock);
    py->st.reinspections++;
    err = opd_py_attach_locked(py, &proc, &named);
    if (err == 1) {
        py->st.late++;
        opd_metric_add(py->m_late, 1);
    }
    pthread_mutex_unlock(&py->lock);
    opd_procmaps_free(maps, (size_t)n);
    return err == 1 || err == -ENOTSUP;
}

/* Rechecks up to RECHECK_PROCS watched processes that are due; the scan goes on from
 * where the last round stopped, so every entry gets its turn. */
static void recheck_round(struct opd_python *py)
{
    int32_t due[RECHECK_PROCS];
    uint64_t sig[RECHECK_PROCS];
    size_t idx[RECHECK_PROCS], n = 0;
    uint64_t now = now_ns();

    if (!py->watch)
        return;
    pthread_mutex_lock(&py->lock);
    for (size_t k = 0; k < WATCH_SLOTS && n < RECHECK_PROCS; k++) {
        struct py_watch *w = &py->watch[py->watch_scan];
        size_t i = py->watch_scan;

        py->watch_scan = (py->watch_scan + 1) % WATCH_SLOTS;
        if (!w->pid || w->due_ns > now)
            continue;
        if (opd_py_proc_find(py, w->pid)) { /* attached meanwhile (a new process on this pid) */
            w->pid = 0;
            continue;
        }
        if (w->every_ns < RECHECK_MAX_NS / 2)
            w->every_ns *= 2;
        else
            w->every_ns = RECHECK_MAX_NS;
        w->due_ns = now + w->every_ns;
        due[n] = w->pid;
        sig[n] = w->sig;
        idx[n++] = i;
    }
    pthread_mutex_unlock(&py->lock);
    for (size_t i = 0; i < n; i++) {
        bool done = recheck(py, due[i], &sig[i]);

        pthread_mutex_lock(&py->lock);
        py->st.rechecks++;
        if (py->watch[idx[i]].pid == due[i]) {
            py->watch[idx[i]].sig = sig[i];
            if (done)
                py->watch[idx[i]].pid = 0;
        }
        pthread_mutex_unlock(&py->lock);
    }
}

/* One process a prefetch round walks, copied out of the table so that the reads run
 * without the lock. */
struct prefetch_job {
    int32_t pid;
    size_t slot; /* its index in the table */
    uint64_t gen;
    const struct opd_py_layout *layout;
    uint64_t runtime, code_type;
};

/* The memory of one process, read within what is left of the round's read budget. */
struct prefetch_reader {
    int32_t pid;
    size_t *left;
};

static int budget_read(void *arg, uint64_t addr, void *buf, size_t len)
{
    struct prefetch_reader *r = arg;

    if (*r->left == 0)
        return -EAGAIN;
    (*r->left)--;
    return opd_python_read_mem(r->pid, addr, buf, len);
}

/* Marks the process of job exited, unless it was re-attached meanwhile; its entry stays
 * (the drain still resolves its samples from the cache) until room is needed. */
static void mark_dead(struct opd_python *py, const struct prefetch_job *job)
{
    struct py_proc *p;

    pthread_mutex_lock(&py->lock);
    p = opd_py_proc_find(py, job->pid);
    if (p && !p->dead && p->gen == job->gen) {
        uint32_t key = (uint32_t)job->pid;

        p->dead = true;
        p->gen = ++py->gen;
        py->st.exited++;
        if (py->map_fd >= 0)
            bpf_map_delete_elem(py->map_fd, &key);
    }
    pthread_mutex_unlock(&py->lock);
}

/* Reads the code objects on job's stacks that are not cached yet into the cache, taking
 * every memory read out of *reads. Returns the number of code objects read (at most
 * budget). */
static size_t prefetch_proc(struct opd_python *py, const struct prefetch_job *job, size_t budget,
                            size_t *reads)
{
    uint64_t codes[PREFETCH_CODES];
    struct prefetch_reader r = {.pid = job->pid, .left = reads};
    void *arg = &r;
    size_t done = 0;
    int n;

    n = opd_py_walk_codes(job->layout, budget_read, arg, job->runtime, job->code_type, codes,
                          budget < PREFETCH_CODES ? budget : PREFETCH_CODES);
    if (n == -ESRCH) {
        mark_dead(py, job);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        struct opd_py_code c = {0};
        struct code_slot *s;
        bool cached, hit;

        pthread_mutex_lock(&py->lock);
        s = opd_py_cache_slot(py, job->pid, codes[i], &hit);
        cached = hit && !s->bad;
        pthread_mutex_unlock(&py->lock);
        if (cached)
            continue;
        done++;
        if (opd_py_code_read(job->layout, budget_read, arg, codes[i], job->code_type, &c))
            continue; /* freed meanwhile; the drain reads it again if it was sampled */
        pthread_mutex_lock(&py->lock);
        /* Only for the same image: the process may have exec'd or exited meanwhile. */
        {
            struct py_proc *p = opd_py_proc_find(py, job->pid);

            /* Looked up again: the set may have changed while the lock was released. */
            s = opd_py_cache_slot(py, job->pid, codes[i], &hit);
            if (p && !p->dead && p->gen == job->gen) {
                opd_py_code_fini(&s->code);
                s->code = c;
                memset(&c, 0, sizeof(c));
                s->used = true;
                s->used_at = py->tick;
                s->bad = false;
                s->pid = job->pid;
                s->addr = codes[i];
                py->st.prefetched++;
                opd_metric_add(py->m_prefetched, 1);
            }
        }
        pthread_mutex_unlock(&py->lock);
        opd_py_code_fini(&c);
    }
    return done;
}

/* One round: walks up to PREFETCH_PROCS running processes, round robin over the table,
 * reading at most PREFETCH_CODES code objects with at most PREFETCH_READS reads in all. */
static void prefetch_round(struct opd_python *py)
{
    struct prefetch_job jobs[PREFETCH_PROCS];
    size_t n = 0, budget = PREFETCH_CODES, reads = PREFETCH_READS;

    pthread_mutex_lock(&py->lock);
    for (size_t k = 0; k < py->procs_cap && n < PREFETCH_PROCS; k++) {
        struct py_proc *p = &py->procs[py->cursor];

        py->cursor = (py->cursor + 1) & (py->procs_cap - 1);
        if (!p->pid || p->dead)
            continue;
        jobs[n].pid = p->pid;
        jobs[n].slot = (size_t)(p - py->procs);
        jobs[n].gen = p->gen;
        jobs[n].layout = p->layout;
        jobs[n].runtime = p->runtime;
        jobs[n].code_type = p->code_type;
        n++;
    }
    py->st.prefetch_rounds++;
    pthread_mutex_unlock(&py->lock);
    for (size_t i = 0; i < n; i++) {
        if (budget == 0 || reads == 0) {
            /* Out of budget: the next round starts with the first process not walked. */
            pthread_mutex_lock(&py->lock);
            py->cursor = jobs[i].slot;
            pthread_mutex_unlock(&py->lock);
            break;
        }
        budget -= prefetch_proc(py, &jobs[i], budget, &reads);
    }
}

void *opd_py_ahead_thread(void *arg)
{
    struct opd_python *py = arg;

    pthread_setname_np(pthread_self(), "opd-pyprefetch"); /* its CPU time shows in top -H */
    pthread_mutex_lock(&py->lock);
    while (!py->stop) {
        struct timespec until;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)py->period_ms % 1000 * 1000000L;
        until.tv_sec += py->period_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&py->wake, &py->lock, &until);
        if (py->stop)
            break;
        pthread_mutex_unlock(&py->lock);
        prefetch_round(py);
        recheck_round(py);
        pthread_mutex_lock(&py->lock);
    }
    pthread_mutex_unlock(&py->lock);
    return NULL;
}

int opd_python_prefetch(struct opd_python *py)
{
    prefetch_round(py);
    recheck_round(py);
    return 0;
}
