/* CPython process tracking, BPF map publishing, frame resolution and merging (see
 * python.h). */
#include "collector/receivers/profiling/python/python.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/python.bpf.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/pyelf.h"
#include "collector/receivers/profiling/python/pywalk.h"
#include "collector/telemetry.h"

/* Processes and code objects one prefetch round looks at, at most: bounds the time the
 * round takes whatever the number of CPython processes (the rest wait for later rounds). */
#define PREFETCH_PROCS 32
#define PREFETCH_CODES 256
#define PREFETCH_READS 4096 /* memory reads of one round (about 1 us each) */

/* Processes without CPython are inspected again later, in case they load libpython
 * (embedding): the WATCH_SLOTS most recent ones, each every recheck_ms, at most
 * RECHECK_PROCS of them per round. */
#define WATCH_SLOTS   1024
#define RECHECK_PROCS 4
#define MAPS_MAX      (8u << 20) /* larger /proc/PID/maps files are not reread */

struct py_watch {
    int32_t pid; /* 0: free */
    uint64_t due_ns;
};

/* One tracked CPython process, in an open-addressing table keyed by pid (0 = empty). */
struct py_proc {
    int32_t pid;
    bool dead; /* exited: kept, with its cached code objects, for the samples still to drain */
    uint64_t gen;                  /* attach count when published; dead: when it exited */
    const struct opd_py_layout *layout;
    uint64_t runtime;              /* _PyRuntime in the process */
    uint64_t code_type;            /* &PyCode_Type in the process */
    uint64_t eval_start, eval_end; /* eval loop in the process */
};

struct code_slot {
    int32_t pid;
    bool used;
    bool bad; /* the read failed: remembered so a stale address is not reread per frame */
    uint64_t addr;
    struct opd_py_code code;
};

struct opd_python {
    pthread_mutex_t lock;
    char *who;
    char *procfs_root;
    int map_fd;
    struct py_proc *procs;
    size_t procs_cap, n_procs, max_procs;
    struct code_slot *cache;
    size_t cache_cap;
    struct opd_python_stats st;
    struct opd_metric *m_processes, *m_unsupported, *m_unresolved, *m_prefetched, *m_late;
    uint64_t gen;   /* counts attachments and exits: orders entries by age */
    size_t cursor;  /* next process table slot a prefetch round starts at */
    pthread_t thread;
    pthread_cond_t wake;
    bool thread_started, stop;
    int period_ms;
    struct py_watch *watch; /* ring of WATCH_SLOTS, NULL when rechecks are off */
    size_t watch_head, watch_scan;
    uint64_t recheck_ns;
};

static uint32_t pid_hash(int32_t pid)
{
    uint32_t h = (uint32_t)pid * 2654435761u;

    return h ^ (h >> 16);
}

static struct py_proc *proc_find(struct opd_python *py, int32_t pid)
{
    size_t i = pid_hash(pid) & (py->procs_cap - 1);

    for (;;) {
        struct py_proc *p = &py->procs[i];

        if (p->pid == pid)
            return p;
        if (p->pid == 0)
            return NULL;
        i = (i + 1) & (py->procs_cap - 1);
    }
}

static struct py_proc *proc_slot(struct opd_python *py, int32_t pid)
{
    size_t i = pid_hash(pid) & (py->procs_cap - 1);

    while (py->procs[i].pid != 0 && py->procs[i].pid != pid)
        i = (i + 1) & (py->procs_cap - 1);
    return &py->procs[i];
}

/* Removes the entry at p keeping every probe chain intact (backward shift). */
static void proc_remove(struct opd_python *py, struct py_proc *p)
{
    size_t mask = py->procs_cap - 1, i = (size_t)(p - py->procs), j = i;

    p->pid = 0;
    py->n_procs--;
    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (py->procs[j].pid == 0)
            return;
        home = pid_hash(py->procs[j].pid) & mask;
        /* Move j back to i when i lies cyclically in [home, j). */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            py->procs[i] = py->procs[j];
            py->procs[j].pid = 0;
            i = j;
        }
    }
}

/* Drops the cached code objects of pid: their addresses mean nothing in another image. */
static void cache_purge(struct opd_python *py, int32_t pid)
{
    for (size_t i = 0; i < py->cache_cap; i++) {
        if (py->cache[i].used && py->cache[i].pid == pid) {
            opd_py_code_fini(&py->cache[i].code);
            py->cache[i].used = false;
        }
    }
}

static struct code_slot *cache_slot(struct opd_python *py, int32_t pid, uint64_t addr)
{
    uint64_t h = (addr >> 4) ^ ((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL);

    h ^= h >> 29;
    return &py->cache[h & (py->cache_cap - 1)];
}

/* Makes room for one more process by dropping the exited one that exited first. Returns
 * false when every tracked process still runs. */
static bool evict_dead(struct opd_python *py)
{
    struct py_proc *oldest = NULL;

    for (size_t i = 0; i < py->procs_cap; i++) {
        struct py_proc *p = &py->procs[i];

        if (p->pid && p->dead && (!oldest || p->gen < oldest->gen))
            oldest = p;
    }
    if (!oldest)
        return false;
    cache_purge(py, oldest->pid);
    proc_remove(py, oldest);
    return true;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;

    while (p < n)
        p <<= 1;
    return p;
}

int opd_python_read_mem(int32_t pid, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {.iov_base = buf, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
    ssize_t n;

    if (!len)
        return 0;
    n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EFAULT;
}

static int read_cb(void *arg, uint64_t addr, void *buf, size_t len)
{
    return opd_python_read_mem((int32_t)(intptr_t)arg, addr, buf, len);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int attach_locked(struct opd_python *py, const struct opd_proc *proc);

/* Remembers pid, which runs no CPython yet, for rechecks; the oldest entry gives way. */
static void watch_add(struct opd_python *py, int32_t pid)
{
    if (!py->watch)
        return;
    py->watch[py->watch_head].pid = pid;
    py->watch[py->watch_head].due_ns = now_ns() + py->recheck_ns;
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

/* Inspects pid again: attaches it when it maps a CPython now. Returns true when the pid
 * needs no more rechecks (attached, unsupported, or gone). */
static bool recheck(struct opd_python *py, int32_t pid)
{
    struct opd_proc_mapping *maps = NULL;
    struct opd_proc proc = {0};
    char *text = NULL;
    ssize_t len;
    int n, err;

    len = read_maps(py->procfs_root, pid, &text);
    if (len < 0)
        return len == -ENOENT || len == -ESRCH;
    /* Most processes never map anything named python: skip parsing them. */
    if (!memmem(text, (size_t)len, "python", 6)) {
        opd_free(text);
        return false;
    }
    n = opd_procmaps_parse(text, (size_t)len, OPD_MAP_EXEC, &maps);
    opd_free(text);
    if (n < 0)
        return false;
    proc.pid = pid;
    proc.maps = maps;
    proc.n_maps = (size_t)n;
    pthread_mutex_lock(&py->lock);
    err = attach_locked(py, &proc);
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
        if (proc_find(py, w->pid)) { /* attached meanwhile (a new process on this pid) */
            w->pid = 0;
            continue;
        }
        w->due_ns = now + py->recheck_ns;
        due[n] = w->pid;
        idx[n++] = i;
    }
    pthread_mutex_unlock(&py->lock);
    for (size_t i = 0; i < n; i++) {
        bool done = recheck(py, due[i]);

        pthread_mutex_lock(&py->lock);
        py->st.rechecks++;
        if (done && py->watch[idx[i]].pid == due[i])
            py->watch[idx[i]].pid = 0;
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
    p = proc_find(py, job->pid);
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
        bool cached;

        pthread_mutex_lock(&py->lock);
        s = cache_slot(py, job->pid, codes[i]);
        cached = s->used && !s->bad && s->pid == job->pid && s->addr == codes[i];
        pthread_mutex_unlock(&py->lock);
        if (cached)
            continue;
        done++;
        if (opd_py_code_read(job->layout, budget_read, arg, codes[i], job->code_type, &c))
            continue; /* freed meanwhile; the drain reads it again if it was sampled */
        pthread_mutex_lock(&py->lock);
        /* Only for the same image: the process may have exec'd or exited meanwhile. */
        {
            struct py_proc *p = proc_find(py, job->pid);

            if (p && !p->dead && p->gen == job->gen) {
                opd_py_code_fini(&s->code);
                s->code = c;
                memset(&c, 0, sizeof(c));
                s->used = true;
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

static void *prefetch_thread(void *arg)
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

struct opd_python *opd_python_create(const struct opd_python_config *cfg,
                                     struct opd_telemetry *tel, const char *who)
{
    struct opd_python *py = opd_calloc(1, sizeof(*py));
    char labels[160];

    if (!py)
        goto fail;
    pthread_mutex_init(&py->lock, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&py->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    py->period_ms = cfg->prefetch_ms ? cfg->prefetch_ms : 200;
    py->recheck_ns = (uint64_t)(cfg->recheck_ms ? cfg->recheck_ms : 5000) * 1000000ULL;
    py->map_fd = cfg->map_fd;
    py->max_procs = cfg->max_procs ? cfg->max_procs : 4096;
    py->procs_cap = pow2_at_least(py->max_procs * 2);
    py->cache_cap = pow2_at_least(cfg->cache_slots ? cfg->cache_slots : 2048);
    py->who = opd_strdup(who ? who : "receiver/profiling");
    py->procfs_root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    py->procs = opd_calloc(py->procs_cap, sizeof(*py->procs));
    py->cache = opd_calloc(py->cache_cap, sizeof(*py->cache));
    if (cfg->recheck_ms >= 0)
        py->watch = opd_calloc(WATCH_SLOTS, sizeof(*py->watch));
    if (!py->who || !py->procfs_root || !py->procs || !py->cache ||
        (cfg->recheck_ms >= 0 && !py->watch))
        goto fail;
    if (tel) {
        /* The component id, as the receiver's other metrics label it. */
        snprintf(labels, sizeof(labels), "receiver=\"%s\"",
                 strncmp(py->who, "receiver/", 9) == 0 ? py->who + 9 : py->who);
        py->m_processes = opd_telemetry_metric(tel, OPD_METRIC_COUNTER,
                                               "otelprofd_profiling_python_processes", labels,
                                               "CPython processes whose Python frames are walked");
        py->m_unsupported = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_python_unsupported", labels,
            "CPython processes of an unknown version, profiled with native frames only");
        py->m_unresolved = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_python_frames_unresolved", labels,
            "Python frames whose code object could not be read");
        py->m_prefetched = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_python_code_prefetched", labels,
            "Code objects read from running CPython processes ahead of the drain");
        py->m_late = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_python_processes_late", labels,
            "Processes found running CPython when inspected again (libpython loaded late)");
    }
    if (py->period_ms > 0) {
        int err = pthread_create(&py->thread, NULL, prefetch_thread, py);

        if (err) {
            opd_python_destroy(py);
            errno = err;
            return NULL;
        }
        py->thread_started = true;
    }
    return py;
fail:
    opd_python_destroy(py);
    errno = ENOMEM;
    return NULL;
}

void opd_python_destroy(struct opd_python *py)
{
    if (!py)
        return;
    if (py->thread_started) {
        pthread_mutex_lock(&py->lock);
        py->stop = true;
        pthread_cond_signal(&py->wake);
        pthread_mutex_unlock(&py->lock);
        pthread_join(py->thread, NULL);
    }
    if (py->procs) {
        for (size_t i = 0; i < py->procs_cap; i++) {
            if (py->procs[i].pid && py->map_fd >= 0) {
                uint32_t key = (uint32_t)py->procs[i].pid;

                bpf_map_delete_elem(py->map_fd, &key);
            }
        }
    }
    if (py->cache) {
        for (size_t i = 0; i < py->cache_cap; i++)
            opd_py_code_fini(&py->cache[i].code);
    }
    opd_free(py->procs);
    opd_free(py->cache);
    opd_free(py->watch);
    opd_free(py->who);
    opd_free(py->procfs_root);
    pthread_cond_destroy(&py->wake);
    pthread_mutex_destroy(&py->lock);
    opd_free(py);
}

/* Load bias of the file mapped at m: where the mapping starts minus the link-time address
 * of its file offset. */
static int mapping_bias(const char *path, const struct opd_proc_mapping *m, uint64_t *bias)
{
    struct opd_elf_info info = {0};
    struct Elf *elf = NULL;
    uint64_t vaddr;
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    elf = opd_elf_open_fd(fd);
    err = elf ? opd_elf_read(elf, OPD_ELF_HEADERS, &info, NULL, NULL) : -EINVAL;
    if (!err)
        err = opd_elf_offset_to_vaddr(&info, m->offset, &vaddr);
    if (!err)
        *bias = m->start - vaddr;
    opd_elf_info_fini(&info);
    opd_elf_close(elf);
    close(fd);
    return err;
}

static bool python_name(const char *path)
{
    const char *b = strrchr(path, '/');

    b = b ? b + 1 : path;
    return strstr(b, "python") != NULL;
}

/* Bytes from a frame's start that hold every field the BPF walk reads. */
static uint16_t frame_size(const struct opd_py_layout *l)
{
    uint16_t end = l->frame_back + 8;

    if (l->frame_code + 8 > end)
        end = l->frame_code + 8;
    if (l->frame_instr + (l->instr_kind == OPD_PY_LASTI ? 4 : 8) > end)
        end = l->frame_instr + (l->instr_kind == OPD_PY_LASTI ? 4 : 8);
    if (l->frame_is_entry != OPD_PYL_NONE && l->frame_is_entry + 1 > end)
        end = l->frame_is_entry + 1;
    if (l->frame_owner != OPD_PYL_NONE && l->frame_owner + 1 > end)
        end = l->frame_owner + 1;
    return end;
}

static int publish(struct opd_python *py, int32_t pid, const struct opd_py_layout *l,
                   const struct opd_py_elf *e, uint64_t bias)
{
    struct opd_py_proc v = {0};
    uint32_t key = (uint32_t)pid;

    if (py->map_fd < 0)
        return 0;
    v.tss_key_addr = e->runtime + bias + l->runtime_tss + 4;
    v.code_type_addr = e->code_type + bias;
    v.version = (uint32_t)(l->major << 8 | l->minor);
    v.tstate_frame = l->tstate_frame;
    v.cframe_current = l->cframe_current;
    v.frame_back = l->frame_back;
    v.frame_code = l->frame_code;
    v.frame_instr = l->frame_instr;
    v.frame_is_entry = l->frame_is_entry;
    v.frame_owner = l->frame_owner;
    v.code_bytecode = l->code_bytecode;
    v.instr_kind = l->instr_kind;
    v.code_firstlineno = l->code_firstlineno;
    v.frame_size = frame_size(l);
    v.code_size = (uint16_t)(l->code_firstlineno + 4 > 16 ? l->code_firstlineno + 4 : 16);
    if (bpf_map_update_elem(py->map_fd, &key, &v, BPF_ANY))
        return -errno;
    return 0;
}

int opd_python_attach(struct opd_python *py, const struct opd_proc *proc)
{
    int err;

    pthread_mutex_lock(&py->lock);
    err = attach_locked(py, proc);
    if (err == 0)
        watch_add(py, proc->pid);
    else if (err == 1 && py->thread_started)
        pthread_cond_signal(&py->wake); /* read ahead now: start-up code objects die young */
    pthread_mutex_unlock(&py->lock);
    return err;
}

/* opd_python_attach() with the lock held. */
static int attach_locked(struct opd_python *py, const struct opd_proc *proc)
{
    char path[4096];
    int err = 0;

    for (size_t i = 0; i < proc->n_maps; i++) {
        const struct opd_proc_mapping *m = &proc->maps[i];
        const struct opd_py_layout *l;
        struct opd_py_elf e;
        struct py_proc *p;
        uint64_t bias = 0;

        if (!m->path || m->path[0] != '/' || !python_name(m->path))
            continue;
        /* Through the process's root, so processes in containers are read too. */
        if ((size_t)snprintf(path, sizeof(path), "%s/%d/root%s", py->procfs_root, proc->pid,
                             m->path) >= sizeof(path))
            continue;
        err = opd_py_elf_inspect(path, &e);
        if (err == -ENOENT || (err && err != -EINVAL)) {
            err = 0;
            continue;
        }
        l = err ? NULL : opd_py_layout_find(e.major, e.minor);
        if (!l || !e.code_type) {
            py->st.unsupported++;
            opd_metric_add(py->m_unsupported, 1);
            OPD_WARN(py->who, "pid %d: CPython %u.%u in %s is not supported: native frames only",
                     proc->pid, e.major, e.minor, m->path);
            err = -ENOTSUP;
            goto out;
        }
        err = mapping_bias(path, m, &bias);
        if (err)
            continue;
        p = proc_find(py, proc->pid);
        if (p && p->dead) {
            /* The pid names a new process now. */
            cache_purge(py, proc->pid);
            proc_remove(py, p);
            p = NULL;
        }
        if (!p) {
            if (py->n_procs >= py->max_procs && !evict_dead(py)) {
                err = -ENOSPC;
                goto out;
            }
            p = proc_slot(py, proc->pid);
            p->pid = proc->pid;
            py->n_procs++;
        }
        p->dead = false;
        p->gen = ++py->gen;
        p->layout = l;
        p->runtime = e.runtime + bias;
        p->code_type = e.code_type + bias;
        p->eval_start = e.eval_start ? e.eval_start + bias : 0;
        p->eval_end = e.eval_start ? e.eval_end + bias : 0;
        err = publish(py, proc->pid, l, &e, bias);
        if (err) {
            OPD_WARN(py->who, "pid %d: cannot publish CPython data: %s", proc->pid,
                     strerror(-err));
            proc_remove(py, p);
            goto out;
        }
        py->st.processes++;
        opd_metric_add(py->m_processes, 1);
        OPD_DEBUG(py->who, "pid %d: CPython %u.%u.%u (%s)", proc->pid, e.major, e.minor, e.micro,
                  m->path);
        err = 1;
        goto out;
    }
out:
    return err;
}

void opd_python_forget(struct opd_python *py, int32_t pid)
{
    struct py_proc *p;

    pthread_mutex_lock(&py->lock);
    p = proc_find(py, pid);
    if (p) {
        uint32_t key = (uint32_t)pid;

        if (py->map_fd >= 0)
            bpf_map_delete_elem(py->map_fd, &key);
        proc_remove(py, p);
        cache_purge(py, pid); /* its code objects' addresses mean nothing in a new image */
    }
    pthread_mutex_unlock(&py->lock);
}

bool opd_python_tracked(struct opd_python *py, int32_t pid)
{
    bool r;

    pthread_mutex_lock(&py->lock);
    r = proc_find(py, pid) != NULL;
    pthread_mutex_unlock(&py->lock);
    return r;
}

size_t opd_python_merge_with(const uint64_t *ip, size_t len, bool (*is_eval)(void *, uint64_t),
                             void *arg, uint64_t *out, size_t cap)
{
    size_t n_native = len, py, o = 0;

    /* The Python words are the tagged suffix; a tagged word among the native frames is
     * garbage from the native walk (never a user address) and is dropped. */
    while (n_native > 0 && (ip[n_native - 1] & OPD_PY_TAG))
        n_native--;
    py = n_native;
    for (size_t i = 0; i < n_native; i++) {
        if (ip[i] & OPD_PY_TAG)
            continue;
        if (py < len && is_eval(arg, ip[i])) {
            /* This eval call's frames: up to and including the next entry frame. */
            while (py < len && o < cap) {
                uint64_t w = ip[py++];

                out[o++] = w;
                if (w & OPD_PY_ENTRY)
                    break;
            }
        }
        if (o < cap)
            out[o++] = ip[i];
    }
    while (py < len && o < cap)
        out[o++] = ip[py++];
    return o;
}

struct eval_arg {
    const struct py_proc *p;
};

static bool in_eval(void *arg, uint64_t pc)
{
    const struct py_proc *p = ((struct eval_arg *)arg)->p;

    /* pc is a return address (or the interrupted pc): both lie inside the function. */
    return p && pc >= p->eval_start && pc < p->eval_end;
}

size_t opd_python_merge(struct opd_python *py, int32_t pid, const uint64_t *ip, size_t len,
                        uint64_t *out, size_t cap)
{
    struct eval_arg a;
    size_t n;

    pthread_mutex_lock(&py->lock);
    a.p = proc_find(py, pid);
    n = opd_python_merge_with(ip, len, in_eval, &a, out, cap);
    pthread_mutex_unlock(&py->lock);
    return n;
}

int opd_python_frame(struct opd_python *py, int32_t pid, uint64_t word,
                     struct opd_python_frame *out)
{
    uint64_t addr = word & OPD_PY_ADDR_MASK;
    uint32_t check = (uint32_t)(word & OPD_PY_CHECK_MASK);
    uint32_t idx = (uint32_t)((word >> OPD_PY_IDX_SHIFT) & OPD_PY_IDX_MAX);
    struct code_slot *s;
    struct py_proc *p;
    int err = 0;

    pthread_mutex_lock(&py->lock);
    p = proc_find(py, pid);
    if (!p) {
        err = -ESRCH;
        goto out;
    }
    s = cache_slot(py, pid, addr);
    /* A failed read is retried: the batch builder already asks once per distinct word. */
    if (s->used && s->pid == pid && s->addr == addr && !s->bad &&
        ((uint32_t)s->code.firstline & OPD_PY_CHECK_MASK) == check) {
        py->st.cache_hits++;
    } else if (p->dead) {
        /* Gone, and this object was not read ahead: its pid may name another process. */
        py->st.cache_misses++;
        py->st.unresolved++;
        opd_metric_add(py->m_unresolved, 1);
        err = -ENOENT;
        goto out;
    } else {
        py->st.cache_misses++;
        opd_py_code_fini(&s->code);
        s->used = true;
        s->pid = pid;
        s->addr = addr;
        err = opd_py_code_read(p->layout, read_cb, (void *)(intptr_t)pid, addr, p->code_type,
                               &s->code);
        /* Another code object than the one sampled now lives there: unresolved. */
        s->bad = err != 0 || ((uint32_t)s->code.firstline & OPD_PY_CHECK_MASK) != check;
        if (err == -ENOMEM) {
            s->used = false;
            goto out;
        }
    }
    if (s->bad) {
        py->st.unresolved++;
        opd_metric_add(py->m_unresolved, 1);
        err = -ENOENT;
        goto out;
    }
    py->st.frames++;
    out->function = s->code.qualname;
    out->name = s->code.name;
    out->file = s->code.file;
    out->line = opd_py_code_line(p->layout, &s->code, idx);
    err = 0;
out:
    pthread_mutex_unlock(&py->lock);
    return err;
}

void opd_python_stats(struct opd_python *py, struct opd_python_stats *out)
{
    pthread_mutex_lock(&py->lock);
    *out = py->st;
    pthread_mutex_unlock(&py->lock);
}
