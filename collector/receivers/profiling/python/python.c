/* CPython process tracking, BPF map publishing, frame resolution and merging (see
 * python.h); the read-ahead thread is in pyahead.c. */
#include "collector/receivers/profiling/python/python.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bpf/python.bpf.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/python/pyelf.h"
#include "collector/receivers/profiling/python/pyint.h"
#include "collector/telemetry.h"

static uint32_t pid_hash(int32_t pid)
{
    uint32_t h = (uint32_t)pid * 2654435761u;

    return h ^ (h >> 16);
}

struct py_proc *opd_py_proc_find(struct opd_python *py, int32_t pid)
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

struct code_slot *opd_py_cache_slot(struct opd_python *py, int32_t pid, uint64_t addr, bool *hit)
{
    uint64_t h = (addr >> 4) ^ ((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL);
    struct code_slot *set, *victim;

    h ^= h >> 29;
    set = &py->cache[(h & (py->cache_cap / CACHE_WAYS - 1)) * CACHE_WAYS];
    victim = &set[0];
    py->tick++;
    for (int w = 0; w < CACHE_WAYS; w++) {
        struct code_slot *s = &set[w];

        if (s->used && s->pid == pid && s->addr == addr) {
            s->used_at = py->tick;
            *hit = true;
            return s;
        }
        if (!s->used ? victim->used : s->used_at < victim->used_at)
            victim = s;
    }
    *hit = false;
    return victim;
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

struct opd_python *opd_python_create(const struct opd_python_config *cfg, struct opd_telemetry *tel,
                                     const char *who)
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
    if (py->cache_cap < CACHE_WAYS)
        py->cache_cap = CACHE_WAYS;
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
        py->m_processes =
            opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_profiling_python_processes",
                                 labels, "CPython processes whose Python frames are walked");
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
        int err = pthread_create(&py->thread, NULL, opd_py_ahead_thread, py);

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
    bool named = false;

    err = opd_py_attach_locked(py, proc, &named);
    if (err == 0)
        opd_py_watch_add(py, proc->pid, named);
    else if (err == 1 && py->thread_started)
        pthread_cond_signal(&py->wake); /* read ahead now: start-up code objects die young */
    pthread_mutex_unlock(&py->lock);
    return err;
}

/* opd_python_attach() with the lock held. */
int opd_py_attach_locked(struct opd_python *py, const struct opd_proc *proc, bool *named)
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
            /* A python launcher without the interpreter (pyenv's bin/python3.X needs
             * libpython3.X.so): the loader may not have mapped libpython yet. */
            *named = true;
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
        p = opd_py_proc_find(py, proc->pid);
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
            OPD_WARN(py->who, "pid %d: cannot publish CPython data: %s", proc->pid, strerror(-err));
            proc_remove(py, p);
            goto out;
        }
        py->st.processes++;
        opd_metric_add(py->m_processes, 1);
        if (e.exact)
            OPD_DEBUG(py->who, "pid %d: CPython %u.%u.%u (%s)", proc->pid, e.major, e.minor,
                      e.micro, m->path);
        else
            OPD_DEBUG(py->who, "pid %d: CPython %u.%u (%s)", proc->pid, e.major, e.minor, m->path);
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
    p = opd_py_proc_find(py, pid);
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
    r = opd_py_proc_find(py, pid) != NULL;
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
    a.p = opd_py_proc_find(py, pid);
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
    bool hit;
    int err = 0;

    pthread_mutex_lock(&py->lock);
    p = opd_py_proc_find(py, pid);
    if (!p) {
        err = -ESRCH;
        goto out;
    }
    s = opd_py_cache_slot(py, pid, addr, &hit);
    /* A failed read is retried: the batch builder already asks once per distinct word. */
    if (hit && !s->bad && ((uint32_t)s->code.firstline & OPD_PY_CHECK_MASK) == check) {
        py->st.cache_hits++;
    } else if (p->dead) {
        /* Gone, and this object was not read ahead: its pid may name another process. */
        OPD_DEBUG(py->who, "pid %d (exited): code object %#" PRIx64 " not read ahead (%s)", pid,
                  addr, hit ? "cached with other check bits or a failed read" : "not cached");
        py->st.cache_misses++;
        py->st.unresolved++;
        opd_metric_add(py->m_unresolved, 1);
        err = -ENOENT;
        goto out;
    } else {
        py->st.cache_misses++;
        opd_py_code_fini(&s->code);
        s->used = true;
        s->used_at = py->tick;
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
