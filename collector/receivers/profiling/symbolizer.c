/* The symbolizer: maps a (pid, pc) to a cached symbol object of the file (or perf map) behind
 * the pc, and a kernel ip to kallsyms.
 *
 * Cache: symbol objects ("objs") hold one file's symbols, build ids and load segments, or one
 * process's perf map. An index maps keys to objs: (dev, inode) of a mapping, the GNU build id
 * (so copies of one binary share an obj), and (pid, start time) for perf maps. Objs sit on an
 * LRU list; when their accounted bytes exceed the budget, the least recently used are
 * evicted and parked until the next flush, so strings handed out stay valid for the interval.
 * A failed load is cached as an empty obj for the current interval only. */
#include "collector/receivers/profiling/symbolizer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/debuginfo.h"
#include "collector/receivers/profiling/dwarflines.h"
#include "collector/receivers/profiling/elfread.h"
#include "collector/receivers/profiling/fileutil.h"
#include "collector/receivers/profiling/gopclntab.h"
#include "collector/receivers/profiling/ksyms.h"
#include "collector/receivers/profiling/perfmap.h"
#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/symtab.h"
#include "collector/telemetry.h"

#define DEFAULT_CACHE_SIZE (64u << 20)
#define KERNEL_MAX_GAP     (1u << 20)
#define USER_MAX_GAP       (64u << 10)
#define OBJ_OVERHEAD       512
#define OPD_SYM_MAX_INLINE 16

enum obj_kind { OBJ_ELF, OBJ_PERFMAP };
enum idx_kind { IDX_DEVINO = 1, IDX_BUILDID, IDX_PERFMAP };

struct obj {
    enum obj_kind kind;
    struct obj *prev, *next; /* LRU, most recent first */
    bool failed;             /* nothing could be read: retried after the next flush */
    uint64_t gen;            /* flush generation it was loaded in */
    size_t bytes;
    struct opd_elf_info info;
    char build_id_hex[2 * OPD_BUILD_ID_MAX + 1];
    char file_id[33]; /* htlhash; "" when the file could not be read */
    struct opd_symtab syms, go_syms;
    /* DWARF lines (only with dwarf_lines): the file that has .debug_info, kept open. */
    int dw_fd;
    struct Elf *dw_elf;
    struct opd_dwarflines *dw;
    bool dw_tried;
    /* perf map: identity of the file when it was read */
    struct timespec pm_mtime;
    off_t pm_size;
    uint64_t pm_checked_gen;
};

struct idx {
    uint8_t kind;
    uint64_t a, b;
    struct obj *obj;
    struct idx *next;
    /* IDX_DEVINO: the file's size and mtime when indexed, rechecked once per interval, so an
     * inode reused by another file (or a library rewritten in place) is not misnamed. */
    off_t size;
    struct timespec mtime;
    uint64_t checked_gen;
};

struct opd_symbolizer {
    char *root;
    char *who;
    char **debug_dirs;
    size_t n_debug_dirs;
    size_t cache_size;
    bool dwarf_lines;
    bool ids_only;
    char *kallsyms_path;
    struct opd_proctab *tab;

    struct idx **buckets;
    size_t n_buckets, n_idx;
    struct obj *head, *tail;
    size_t bytes;
    uint64_t gen;
    uint64_t loads; /* ELF files read (cache misses), for prefetch's count */
    struct obj **parked;
    size_t n_parked, cap_parked;

    struct opd_symtab ksyms;
    bool ksyms_loaded, ksyms_failed;
    struct opd_symtab *ksyms_parked;
    size_t n_ksyms_parked, cap_ksyms_parked;

    /* [vdso]: the kernel maps the same image into every process, so ours names theirs. */
    struct obj *vdso;
    uint64_t vdso_size;
    bool vdso_tried;

    struct opd_sym_inline inl[OPD_SYM_MAX_INLINE]; /* scratch for the last frame */

    struct opd_metric *m_hits, *m_misses, *m_evictions, *m_bytes;
    struct opd_metric *m_rejected[3]; /* by the reasons of rejections[] */
};

/* Why a file's symbols were rejected: the label of otelprofd_profiling_symbolizer_files_rejected
 * for each OPD_ELF_BAD_* flag. */
static const struct {
    unsigned flag;
    const char *reason;
} rejections[3] = {
    {OPD_ELF_BAD_HEADERS, "malformed_headers"},
    {OPD_ELF_BAD_SYMTAB, "malformed_symtab"},
    {OPD_ELF_BAD_GOPCLNTAB, "malformed_gopclntab"},
};

/* ---- index --------------------------------------------------------------------------- */

static size_t idx_bucket(const struct opd_symbolizer *s, uint8_t kind, uint64_t a, uint64_t b)
{
    uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b + 0x632be59bd9b4e019ull + kind);

    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (size_t)h & (s->n_buckets - 1);
}

static struct idx *idx_find(struct opd_symbolizer *s, uint8_t kind, uint64_t a, uint64_t b)
{
    struct idx *x;

    for (x = s->buckets[idx_bucket(s, kind, a, b)]; x; x = x->next)
        if (x->kind == kind && x->a == a && x->b == b)
            return x;
    return NULL;
}

static struct idx *idx_add(struct opd_symbolizer *s, uint8_t kind, uint64_t a, uint64_t b,
                           struct obj *o)
{
    struct idx *x = idx_find(s, kind, a, b);
    size_t bk;

    if (x) {
        x->obj = o;
        return x;
    }
    x = opd_calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->kind = kind;
    x->a = a;
    x->b = b;
    x->obj = o;
    bk = idx_bucket(s, kind, a, b);
    x->next = s->buckets[bk];
    s->buckets[bk] = x;
    s->n_idx++;
    return x;
}

static void idx_set_identity(struct opd_symbolizer *s, struct idx *x, const struct stat *st)
{
    if (!x || !st)
        return;
    x->size = st->st_size;
    x->mtime = st->st_mtim;
    x->checked_gen = s->gen;
}

/* Removes every index entry that points at o. */
static void idx_drop_obj(struct opd_symbolizer *s, const struct obj *o)
{
    size_t i;

    for (i = 0; i < s->n_buckets; i++) {
        struct idx **pp = &s->buckets[i];

        while (*pp) {
            if ((*pp)->obj == o) {
                struct idx *dead = *pp;

                *pp = dead->next;
                opd_free(dead);
                s->n_idx--;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
}

static void build_id_key(const struct opd_elf_info *info, uint64_t *a, uint64_t *b)
{
    uint8_t k[16] = {0};

    memcpy(k, info->build_id, info->build_id_len < 16 ? info->build_id_len : 16);
    memcpy(a, k, 8);
    memcpy(b, k + 8, 8);
    /* Short ids (e.g. 8-byte xxhash ids) keep their length in the key. */
    *b ^= (uint64_t)info->build_id_len << 56;
}

/* ---- objs ---------------------------------------------------------------------------- */

static void obj_free(struct obj *o)
{
    if (!o)
        return;
    opd_symtab_fini(&o->syms);
    opd_symtab_fini(&o->go_syms);
    opd_elf_info_fini(&o->info);
    opd_dwarflines_close(o->dw);
    opd_elf_close(o->dw_elf);
    if (o->dw_fd >= 0)
        close(o->dw_fd);
    opd_free(o);
}

static size_t file_limit(const struct opd_symbolizer *s)
{
    return s->cache_size / 2 < (1u << 20) ? (1u << 20) : s->cache_size / 2;
}

static struct obj *obj_new(const struct opd_symbolizer *s, enum obj_kind kind)
{
    struct obj *o = opd_calloc(1, sizeof(*o));

    if (!o)
        return NULL;
    o->kind = kind;
    o->gen = s->gen;
    o->dw_fd = -1;
    opd_symtab_init(&o->syms);
    opd_symtab_init(&o->go_syms);
    /* One file may use at most half the budget (but 1 MiB even with a tiny budget), so a
     * huge or hostile file cannot flush everything else. */
    o->syms.limit = file_limit(s);
    o->go_syms.limit = file_limit(s);
    return o;
}

static size_t obj_bytes(const struct obj *o)
{
    return OBJ_OVERHEAD + opd_symtab_bytes(&o->syms) + opd_symtab_bytes(&o->go_syms) +
           o->info.n_loads * sizeof(*o->info.loads) + o->info.go_pcln_len +
           (size_t)opd_dwarflines_bytes(o->dw);
}

static void lru_unlink(struct opd_symbolizer *s, struct obj *o)
{
    if (o->prev)
        o->prev->next = o->next;
    else
        s->head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        s->tail = o->prev;
    o->prev = o->next = NULL;
}

static void lru_front(struct opd_symbolizer *s, struct obj *o)
{
    o->prev = NULL;
    o->next = s->head;
    if (s->head)
        s->head->prev = o;
    s->head = o;
    if (!s->tail)
        s->tail = o;
}

static void touch(struct opd_symbolizer *s, struct obj *o)
{
    lru_unlink(s, o);
    lru_front(s, o);
}

/* Takes o out of the cache; it is freed at the next flush (strings may be held). When the
 * parking list cannot grow, o is still reachable from nowhere, so we keep it on the LRU:
 * the budget is exceeded a little rather than risking a dangling string. */
static int evict(struct opd_symbolizer *s, struct obj *o)
{
    if (opd_vec_reserve((void **)&s->parked, &s->cap_parked, s->n_parked + 1, sizeof(*s->parked)))
        return -ENOMEM;
    idx_drop_obj(s, o);
    lru_unlink(s, o);
    s->bytes -= o->bytes;
    s->parked[s->n_parked++] = o;
    opd_metric_set(s->m_bytes, (int64_t)s->bytes);
    return 0;
}

static void account(struct opd_symbolizer *s, struct obj *o)
{
    size_t nb = obj_bytes(o);

    s->bytes = s->bytes - o->bytes + nb;
    o->bytes = nb;
    /* Evict from the tail, sparing o itself (the caller is about to use it). */
    while (s->bytes > s->cache_size && s->tail && s->tail != o) {
        if (evict(s, s->tail))
            break;
        opd_metric_add(s->m_evictions, 1);
    }
    opd_metric_set(s->m_bytes, (int64_t)s->bytes);
}

static void insert_obj(struct opd_symbolizer *s, struct obj *o)
{
    lru_front(s, o);
    o->bytes = 0;
    account(s, o);
}

/* ---- opening the file behind a mapping ----------------------------------------------- */

/* Strips the " (deleted)" the kernel appends to unlinked files. Returns 1 if it was there. */
static int strip_deleted(char *path)
{
    size_t n = strlen(path);

    if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0) {
        path[n - 10] = '\0';
        return 1;
    }
    return 0;
}

/* Opens the file of mapping m as process pid sees it: /proc/PID/map_files/<range> (exactly the
 * mapped file, even if deleted or shadowed), else /proc/PID/root/<path> (its mount namespace),
 * else the host path only when its device and inode equal the mapping's. Never the host
 * file of the same name otherwise: in a container that would be another binary. */
static int open_mapped(struct opd_symbolizer *s, int32_t pid, const struct opd_proc_mapping *m)
{
    char path[PATH_MAX + 64], clean[PATH_MAX];
    struct stat st;
    int fd, deleted;

    snprintf(path, sizeof(path), "%s/%d/map_files/%llx-%llx", s->root, pid,
             (unsigned long long)m->start, (unsigned long long)m->end);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (m->path[0] != '/')
        return -ENOENT;
    snprintf(clean, sizeof(clean), "%s", m->path);
    deleted = strip_deleted(clean);
    if (!deleted) {
        snprintf(path, sizeof(path), "%s/%d/root%s", s->root, pid, clean);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            /* Same inode, or another filesystem view of it (overlayfs reports the upper
             * device): the process's own namespace is authoritative either way. */
            return fd;
        }
    }
    fd = open(clean, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    if (fstat(fd, &st) || st.st_ino != m->inode || (uint64_t)st.st_dev != m->dev) {
        close(fd);
        return -ENOENT;
    }
    return fd;
}

/* Loads symbols for obj o from the opened ELF, pulling a separate debug file in when the
 * binary lacks .symtab (or DWARF lines are wanted and it lacks .debug_info). */
static int load_elf_symbols(struct opd_symbolizer *s, struct obj *o, struct Elf *elf, int *fd,
                            int32_t pid, const char *bin_path)
{
    struct opd_debugfile dbg = {.fd = -1};
    char root[64], clean[PATH_MAX];
    bool want_debug;
    int err;

    err = opd_elf_read(elf, OPD_ELF_SYMBOLS | OPD_ELF_GO | (s->dwarf_lines ? OPD_ELF_GO_LINES : 0),
                       &o->info, &o->syms, &o->go_syms);
    if (err == -ENOMEM || err == -E2BIG)
        return err;
    want_debug = !o->info.has_symtab || (s->dwarf_lines && !o->info.has_debug_info);
    if (want_debug && (o->info.build_id_len || o->info.debuglink[0])) {
        snprintf(root, sizeof(root), "%s/%d/root", s->root, pid);
        snprintf(clean, sizeof(clean), "%s", bin_path ? bin_path : "");
        strip_deleted(clean);
        err = opd_debugfile_find((const char *const *)s->debug_dirs, s->n_debug_dirs, root,
                                 clean[0] == '/' ? clean : NULL, &o->info, &dbg);
        if (err == -ENOMEM)
            return err;
        if (!err) {
            struct opd_elf_info dinfo = {0};
            struct opd_symtab dsyms;

            opd_symtab_init(&dsyms);
            dsyms.limit = file_limit(s);
            err = opd_elf_read(dbg.elf, OPD_ELF_HEADERS | OPD_ELF_SYMBOLS, &dinfo, &dsyms, NULL);
            if (!err && dinfo.has_symtab && dsyms.n > o->syms.n) {
                opd_symtab_fini(&o->syms);
                o->syms = dsyms;
            } else {
                opd_symtab_fini(&dsyms);
            }
            if (s->dwarf_lines && dinfo.has_debug_info && !o->info.has_debug_info) {
                o->dw_elf = dbg.elf;
                o->dw_fd = dbg.fd;
                dbg.elf = NULL;
                dbg.fd = -1;
            }
            opd_elf_info_fini(&dinfo);
            opd_debugfile_close(&dbg);
            if (err == -ENOMEM)
                return err;
        }
    }
    if (s->dwarf_lines && o->info.has_debug_info && !o->dw_elf) {
        o->dw_elf = elf;
        o->dw_fd = *fd;
        *fd = -1; /* the caller no longer owns them */
        return 1;
    }
    return 0;
}

/* Counts (and logs at debug) each table of a file that was rejected as malformed. */
static void note_rejected(struct opd_symbolizer *s, int32_t pid, const char *path, unsigned bad)
{
    size_t i;

    for (i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
        if (!(bad & rejections[i].flag))
            continue;
        opd_metric_add(s->m_rejected[i], 1);
        OPD_DEBUG(s->who, "pid %d: %s: %s, its frames keep file offsets", (int)pid, path,
                  rejections[i].reason);
    }
}

/* Whether the file behind mapping m is no longer the one x was indexed from (size or mtime
 * differ). A file that cannot be opened now (process gone) is trusted. */
static bool file_changed(struct opd_symbolizer *s, int32_t pid, const struct opd_proc_mapping *m,
                         const struct idx *x)
{
    struct stat st;
    int fd = open_mapped(s, pid, m);
    bool changed;

    if (fd < 0)
        return false;
    changed = !fstat(fd, &st) && (st.st_size != x->size || st.st_mtim.tv_sec != x->mtime.tv_sec ||
                                  st.st_mtim.tv_nsec != x->mtime.tv_nsec);
    close(fd);
    return changed;
}

/* Returns the obj for mapping m of proc (never NULL unless out of memory: a file that cannot
 * be read yields a failed obj that still carries what is known). */
static struct obj *get_elf_obj(struct opd_symbolizer *s, const struct opd_proc *proc,
                               const struct opd_proc_mapping *m)
{
    struct idx *x = idx_find(s, IDX_DEVINO, m->dev, m->inode);
    struct obj *o = NULL;
    struct Elf *elf = NULL;
    struct stat st, *stp = NULL;
    uint64_t ba, bb;
    int fd = -1, err;

    if (x && !x->obj->failed && x->checked_gen != s->gen) {
        x->checked_gen = s->gen;
        if (file_changed(s, proc->pid, m, x)) {
            OPD_DEBUG(s->who, "%s changed under the same inode: reloading its symbols", m->path);
            if (evict(s, x->obj))
                return NULL;
            x = NULL;
        }
    }
    if (x && !(x->obj->failed && x->obj->gen != s->gen)) {
        opd_metric_add(s->m_hits, 1);
        touch(s, x->obj);
        return x->obj;
    }
    if (x) {
        /* A failure from an earlier interval: try again. */
        if (evict(s, x->obj))
            return NULL;
    }
    opd_metric_add(s->m_misses, 1);
    s->loads++;
    o = obj_new(s, OBJ_ELF);
    if (!o)
        return NULL;
    fd = open_mapped(s, proc->pid, m);
    if (fd >= 0) {
        if (!fstat(fd, &st))
            stp = &st;
        elf = opd_elf_open_fd(fd);
    }
    if (!elf || opd_elf_read(elf, OPD_ELF_HEADERS, &o->info, NULL, NULL) == -ENOMEM) {
        /* Unreadable for now (vanished, not ELF, no memory): retried next interval. */
        OPD_DEBUG(s->who, "pid %d: cannot read %s as ELF (%s): frames keep file offsets",
                  (int)proc->pid, m->path, fd < 0 ? "not reachable" : "not ELF");
        o->failed = true;
        goto done;
    }
    opd_elf_build_id_hex(&o->info, o->build_id_hex, sizeof(o->build_id_hex));
    if (opd_elf_file_id(fd, o->file_id) == -ENOMEM)
        goto nomem;
    if (o->info.malformed & OPD_ELF_BAD_HEADERS) {
        /* Program headers that cannot be right: nothing else in the file is trusted. It
         * stays cached without symbols (not retried: the file will not get better). */
        note_rejected(s, proc->pid, m->path, o->info.malformed);
        goto done;
    }
    if (o->info.build_id_len && !s->ids_only) {
        build_id_key(&o->info, &ba, &bb);
        x = idx_find(s, IDX_BUILDID, ba, bb);
        if (x && !x->obj->failed) {
            /* Same binary under another inode: share its symbols. */
            struct obj *shared = x->obj;

            opd_elf_close(elf);
            close(fd);
            obj_free(o);
            x = idx_add(s, IDX_DEVINO, m->dev, m->inode, shared);
            if (!x)
                return NULL;
            idx_set_identity(s, x, stp);
            touch(s, shared);
            return shared;
        }
    }
    err = s->ids_only ? 0 : load_elf_symbols(s, o, elf, &fd, proc->pid, m->path);
    if (err == -ENOMEM || err == -E2BIG)
        goto nomem;
    note_rejected(s, proc->pid, m->path, o->info.malformed);
    if (err == 1)
        elf = NULL; /* kept for DWARF */
done:
    opd_elf_close(elf);
    if (fd >= 0)
        close(fd);
    insert_obj(s, o);
    x = idx_add(s, IDX_DEVINO, m->dev, m->inode, o);
    if (!x)
        return o; /* usable now, just not findable later; the LRU frees it */
    idx_set_identity(s, x, stp);
    /* A file with rejected tables never stands in for others with the same build id. */
    if (!o->failed && !o->info.malformed && o->info.build_id_len && !s->ids_only) {
        build_id_key(&o->info, &ba, &bb);
        idx_add(s, IDX_BUILDID, ba, bb, o);
    }
    return o;
nomem:
    opd_elf_close(elf);
    if (fd >= 0)
        close(fd);
    obj_free(o);
    return NULL;
}

/* perf-<nspid>.map inside the process's root. Reread when the file changed, checked at most
 * once per interval; an exited process keeps the map it had. */
static struct obj *get_perfmap_obj(struct opd_symbolizer *s, const struct opd_proc *proc)
{
    struct idx *x = idx_find(s, IDX_PERFMAP, (uint64_t)proc->pid, proc->start_time);
    char path[PATH_MAX];
    struct obj *o;
    struct stat st;
    int n;

    if (x && (x->obj->pm_checked_gen == s->gen || proc->exited)) {
        opd_metric_add(s->m_hits, 1);
        touch(s, x->obj);
        return x->obj;
    }
    snprintf(path, sizeof(path), "%s/%d/root/tmp/perf-%d.map", s->root, proc->pid,
             proc->nspid > 0 ? proc->nspid : proc->pid);
    if (stat(path, &st)) {
        st.st_size = -1;
        st.st_mtim.tv_sec = st.st_mtim.tv_nsec = 0;
    }
    if (x && (st.st_size < 0 ||
              (st.st_size == x->obj->pm_size && st.st_mtim.tv_sec == x->obj->pm_mtime.tv_sec &&
               st.st_mtim.tv_nsec == x->obj->pm_mtime.tv_nsec))) {
        x->obj->pm_checked_gen = s->gen;
        opd_metric_add(s->m_hits, 1);
        touch(s, x->obj);
        return x->obj;
    }
    opd_metric_add(s->m_misses, 1);
    if (x && evict(s, x->obj))
        return NULL;
    o = obj_new(s, OBJ_PERFMAP);
    if (!o)
        return NULL;
    o->pm_checked_gen = s->gen;
    o->pm_size = st.st_size;
    o->pm_mtime = st.st_mtim;
    if (st.st_size >= 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        n = fd >= 0 ? opd_perfmap_load_fd(fd, &o->syms) : -ENOENT;
        if (fd >= 0)
            close(fd);
        if (n == -ENOMEM) {
            obj_free(o);
            return NULL;
        }
    }
    o->failed = o->syms.n == 0;
    insert_obj(s, o);
    idx_add(s, IDX_PERFMAP, (uint64_t)proc->pid, proc->start_time, o);
    return o;
}

/* Our own [vdso] image, read from memory once. NULL when unavailable. */
static struct obj *get_vdso_obj(struct opd_symbolizer *s)
{
    struct opd_proc_mapping *maps = NULL;
    struct Elf *elf = NULL;
    char *text = NULL;
    uint8_t *copy = NULL;
    size_t len;
    int n = 0, i;
    struct obj *o = NULL;

    if (s->vdso_tried)
        return s->vdso;
    s->vdso_tried = true;
    if (opd_prof_read_file("/proc/self/maps", 16u << 20, &text, &len))
        return NULL;
    n = opd_procmaps_parse(text, len, OPD_MAP_READ, &maps);
    for (i = 0; i < n; i++)
        if (strcmp(maps[i].path, "[vdso]") == 0)
            break;
    if (n <= 0 || i == n || maps[i].end - maps[i].start > (1u << 20))
        goto out;
    s->vdso_size = maps[i].end - maps[i].start;
    copy = opd_malloc(s->vdso_size);
    o = obj_new(s, OBJ_ELF);
    if (!copy || !o)
        goto out;
    memcpy(copy, (const void *)(uintptr_t)maps[i].start, s->vdso_size);
    elf = opd_elf_open_mem(copy, s->vdso_size);
    if (!elf || opd_elf_read(elf, OPD_ELF_HEADERS | OPD_ELF_SYMBOLS, &o->info, &o->syms, NULL))
        goto out;
    opd_elf_build_id_hex(&o->info, o->build_id_hex, sizeof(o->build_id_hex));
    o->bytes = obj_bytes(o);
    s->vdso = o;
    o = NULL;
out:
    opd_elf_close(elf);
    opd_free(copy);
    obj_free(o);
    opd_procmaps_free(maps, n > 0 ? (size_t)n : 0);
    opd_free(text);
    return s->vdso;
}

/* ---- public API ---------------------------------------------------------------------- */

struct opd_symbolizer *opd_symbolizer_create(const struct opd_symbolizer_config *cfg,
                                             struct opd_proctab *tab, struct opd_telemetry *tel,
                                             const char *who)
{
    static const char *const default_dirs[] = {"/usr/lib/debug"};
    const char *const *dirs;
    struct opd_symbolizer *s;
    char labels[256], path[PATH_MAX];
    const char *lw;
    size_t i;
    int err = ENOMEM;

    if (!cfg || !tab) {
        errno = EINVAL;
        return NULL;
    }
    if (opd_elf_lib_init()) {
        errno = ENOTSUP;
        return NULL;
    }
    s = opd_calloc(1, sizeof(*s));
    if (!s)
        goto fail;
    s->tab = tab;
    s->root = opd_strdup(cfg->procfs_root ? cfg->procfs_root : "/proc");
    s->who = opd_strdup(who ? who : "receiver/profiling");
    if (!s->root || !s->who)
        goto fail;
    snprintf(path, sizeof(path), "%s/kallsyms", s->root);
    s->kallsyms_path = opd_strdup(cfg->kallsyms_path ? cfg->kallsyms_path : path);
    if (!s->kallsyms_path)
        goto fail;
    dirs = cfg->debug_dirs ? cfg->debug_dirs : default_dirs;
    s->n_debug_dirs = cfg->debug_dirs ? cfg->n_debug_dirs : 1;
    s->debug_dirs = opd_calloc(s->n_debug_dirs, sizeof(*s->debug_dirs));
    if (!s->debug_dirs)
        goto fail;
    for (i = 0; i < s->n_debug_dirs; i++) {
        if (!dirs[i]) {
            err = EINVAL;
            goto fail;
        }
        s->debug_dirs[i] = opd_strdup(dirs[i]);
        if (!s->debug_dirs[i])
            goto fail;
    }
    s->cache_size = cfg->cache_size ? cfg->cache_size : DEFAULT_CACHE_SIZE;
    s->dwarf_lines = cfg->dwarf_lines && !cfg->ids_only;
    s->ids_only = cfg->ids_only;
    s->n_buckets = 1024;
    s->buckets = opd_calloc(s->n_buckets, sizeof(*s->buckets));
    if (!s->buckets)
        goto fail;
    opd_symtab_init(&s->ksyms);
    if (tel) {
        lw = strncmp(s->who, "receiver/", 9) == 0 ? s->who + 9 : s->who;
        snprintf(labels, sizeof(labels), "receiver=\"%s\"", lw);
        s->m_hits = opd_telemetry_metric(tel, OPD_METRIC_COUNTER,
                                         "otelprofd_profiling_symbolizer_cache_hits", labels,
                                         "Symbol cache lookups answered from the cache");
        s->m_misses = opd_telemetry_metric(tel, OPD_METRIC_COUNTER,
                                           "otelprofd_profiling_symbolizer_cache_misses", labels,
                                           "Symbol cache lookups that loaded a file");
        s->m_evictions = opd_telemetry_metric(
            tel, OPD_METRIC_COUNTER, "otelprofd_profiling_symbolizer_cache_evictions", labels,
            "Symbol tables evicted to stay within symbolization.cache_size");
        s->m_bytes = opd_telemetry_metric(tel, OPD_METRIC_GAUGE,
                                          "otelprofd_profiling_symbolizer_cache_bytes", labels,
                                          "Bytes held by the symbol cache");
        if (!s->m_hits || !s->m_misses || !s->m_evictions || !s->m_bytes) {
            err = errno ? errno : ENOMEM;
            goto fail;
        }
        for (size_t i = 0; i < sizeof(rejections) / sizeof(rejections[0]); i++) {
            char rl[320];

            snprintf(rl, sizeof(rl), "%s,reason=\"%s\"", labels, rejections[i].reason);
            s->m_rejected[i] = opd_telemetry_metric(
                tel, OPD_METRIC_COUNTER, "otelprofd_profiling_symbolizer_files_rejected", rl,
                "ELF files whose symbol tables were rejected as malformed, by reason");
            if (!s->m_rejected[i]) {
                err = errno ? errno : ENOMEM;
                goto fail;
            }
        }
    }
    return s;
fail:
    opd_symbolizer_destroy(s);
    errno = err;
    return NULL;
}

void opd_symbolizer_flush(struct opd_symbolizer *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n_parked; i++)
        obj_free(s->parked[i]);
    s->n_parked = 0;
    for (i = 0; i < s->n_ksyms_parked; i++)
        opd_symtab_fini(&s->ksyms_parked[i]);
    s->n_ksyms_parked = 0;
    s->gen++;
    s->ksyms_failed = false;
}

void opd_symbolizer_destroy(struct opd_symbolizer *s)
{
    struct obj *o, *next;
    size_t i;

    if (!s)
        return;
    opd_symbolizer_flush(s);
    for (o = s->head; o; o = next) {
        next = o->next;
        obj_free(o);
    }
    if (s->buckets) {
        for (i = 0; i < s->n_buckets; i++) {
            struct idx *x = s->buckets[i], *nx;

            for (; x; x = nx) {
                nx = x->next;
                opd_free(x);
            }
        }
    }
    obj_free(s->vdso);
    opd_free(s->buckets);
    opd_free(s->parked);
    opd_symtab_fini(&s->ksyms);
    opd_free(s->ksyms_parked);
    if (s->debug_dirs)
        for (i = 0; i < s->n_debug_dirs; i++)
            opd_free(s->debug_dirs[i]);
    opd_free(s->debug_dirs);
    opd_free(s->kallsyms_path);
    opd_free(s->root);
    opd_free(s->who);
    opd_free(s);
}

size_t opd_symbolizer_cache_bytes(const struct opd_symbolizer *s)
{
    return s ? s->bytes : 0;
}

static const char *jit_type_name(const struct opd_proc *proc)
{
    const char *exe = strrchr(proc->exe_path, '/');

    exe = exe ? exe + 1 : proc->exe_path;
    if (strncmp(exe, "node", 4) == 0 || strcmp(proc->comm, "node") == 0)
        return "v8js";
    if (strcmp(exe, "java") == 0 || strcmp(proc->comm, "java") == 0)
        return "jvm";
    if (strncmp(exe, "python", 6) == 0 || strncmp(proc->comm, "python", 6) == 0)
        return "cpython";
    return "native";
}

static void frame_reset(struct opd_sym_frame *out, uint64_t pc)
{
    memset(out, 0, sizeof(*out));
    out->type = OPD_FRAME_NATIVE;
    out->type_name = "native";
    out->pc = pc;
    out->address = pc;
    out->mapping.path = "";
    out->mapping.build_id_gnu = "";
    out->mapping.build_id_go = "";
    out->mapping.build_id_htlhash = "";
}

/* A page the kernel maps into processes ("[uprobes]", "[vsyscall]", "[vdso]"): no file, no
 * build id, so no backend can name a frame in it. Names the frame after the page. */
static int from_kernel_page(const struct opd_proc_mapping *m, struct opd_sym_frame *out)
{
    size_t n = strlen(m->path);

    if (n < 3 || m->path[0] != '[' || m->path[n - 1] != ']')
        return -ENOENT;
    out->function = m->path;
    out->system_name = m->path;
    out->symbol_offset = out->pc - m->start;
    return 0;
}

static int from_perfmap(struct opd_symbolizer *s, const struct opd_proc *proc, uint64_t lookup,
                        struct opd_sym_frame *out)
{
    struct obj *o;
    const struct opd_symtab_entry *e;

    if (s->ids_only)
        return -ENOENT;
    o = get_perfmap_obj(s, proc);
    if (!o)
        return -ENOMEM;
    e = opd_symtab_lookup(&o->syms, lookup, 1);
    if (!e)
        return -ENOENT;
    out->type = OPD_FRAME_JIT;
    out->type_name = jit_type_name(proc);
    out->function = opd_symtab_name(&o->syms, e);
    out->system_name = out->function;
    out->symbol_offset = lookup - e->start;
    return 0;
}

/* Rearranges DWARF's inlined calls at vaddr into OTLP line order (see symbolizer.h). */
static void add_inlines(struct opd_symbolizer *s, struct obj *o, uint64_t vaddr,
                        struct opd_sym_frame *out)
{
    struct opd_dwarf_inline in[OPD_SYM_MAX_INLINE];
    int n = opd_dwarflines_inlines(o->dw, vaddr, in, OPD_SYM_MAX_INLINE), k;

    if (n <= 0)
        return;
    for (k = 0; k < n; k++) {
        s->inl[k].function = in[k].function;
        s->inl[k].file = k == 0 ? out->file : in[k - 1].call_file;
        s->inl[k].line = k == 0 ? out->line : in[k - 1].call_line;
    }
    out->file = in[n - 1].call_file;
    out->line = in[n - 1].call_line;
    out->inlined = s->inl;
    out->n_inlined = (size_t)n;
}

int opd_symbolizer_user(struct opd_symbolizer *s, int32_t pid, uint64_t pc, unsigned flags,
                        uint64_t now, struct opd_sym_frame *out)
{
    const struct opd_proc_mapping *m;
    const struct opd_proc *proc = NULL;
    const struct opd_symtab_entry *e = NULL;
    uint64_t lookup, delta, vaddr;
    struct opd_symtab *tab = NULL;
    struct obj *o;

    if (!out)
        return -EINVAL;
    frame_reset(out, pc);
    if (!s || pid <= 0)
        return -EINVAL;
    delta = (flags & OPD_SYM_RETURN_ADDRESS) && pc ? 1 : 0;
    lookup = pc - delta;
    m = opd_proctab_find_mapping(s->tab, pid, lookup, now, &proc);
    if (!m) {
        if (!proc)
            return errno == ENOMEM ? -ENOMEM : -ESRCH;
        if (errno == ENOMEM)
            return -ENOMEM;
        /* JIT code can live outside any file mapping we saw; perf maps know it. */
        return from_perfmap(s, proc, lookup, out);
    }
    out->has_mapping = true;
    out->mapping.memory_start = m->start;
    out->mapping.memory_limit = m->end;
    out->mapping.file_offset = m->offset;
    out->mapping.dev = m->dev;
    out->mapping.inode = m->inode;
    out->mapping.path = m->path;
    out->file_offset = pc - m->start + m->offset;
    if (strcmp(m->path, "[vdso]") == 0) {
        o = s->ids_only ? NULL : get_vdso_obj(s);
        if (!o || m->end - m->start != s->vdso_size)
            return from_kernel_page(m, out); /* a compat (32-bit) process has another image */
    } else if (m->inode == 0 || m->path[0] != '/') {
        int err = from_perfmap(s, proc, lookup, out);

        return err == -ENOENT ? from_kernel_page(m, out) : err;
    } else {
        o = get_elf_obj(s, proc, m);
        if (!o)
            return -ENOMEM;
    }
    out->mapping.build_id_gnu = o->build_id_hex;
    out->mapping.build_id_go = o->info.go_build_id;
    out->mapping.build_id_htlhash = o->file_id;
    if (o->failed) {
        /* Not an ELF file: JIT code in a memfd ("/memfd:jit (deleted)") is in the perf map. */
        return from_perfmap(s, proc, lookup, out);
    }
    if (opd_elf_offset_to_vaddr(&o->info, lookup - m->start + m->offset, &vaddr))
        return -ENOENT;
    out->address = vaddr + delta;
    if (s->ids_only)
        return -ENOENT;
    if (o->go_syms.n) {
        e = opd_symtab_lookup(&o->go_syms, vaddr, USER_MAX_GAP);
        tab = &o->go_syms;
    }
    if (e) {
        out->type = OPD_FRAME_GO;
        out->type_name = "go";
    } else {
        e = opd_symtab_lookup(&o->syms, vaddr, USER_MAX_GAP);
        tab = &o->syms;
    }
    if (!e)
        return -ENOENT;
    out->system_name = opd_symtab_name(tab, e);
    out->function = tab == &o->go_syms ? out->system_name : opd_symtab_demangled(tab, e);
    out->symbol_offset = vaddr - e->start;
    if (s->dwarf_lines && tab == &o->go_syms && o->info.go_pcln) {
        const char *file;
        int64_t line;

        if (!opd_gopclntab_line(o->info.go_pcln, o->info.go_pcln_len, e->aux, vaddr - e->start,
                                &file, &line)) {
            out->file = file;
            out->line = line;
        }
    } else if (s->dwarf_lines && o->dw_elf) {
        if (!o->dw && !o->dw_tried) {
            o->dw_tried = true;
            o->dw = opd_dwarflines_open(o->dw_elf);
            account(s, o);
        }
        if (o->dw) {
            const char *file;
            int64_t line;

            if (!opd_dwarflines_lookup(o->dw, vaddr, &file, &line)) {
                out->file = file;
                out->line = line;
            }
            add_inlines(s, o, vaddr, out);
        }
    }
    /* Demangling grows the table: keep the accounting honest. */
    if (tab == &o->syms && o->bytes != obj_bytes(o))
        account(s, o);
    return 0;
}

int opd_symbolizer_prefetch(struct opd_symbolizer *s, int32_t pid, uint64_t now)
{
    const struct opd_proc *proc;
    uint64_t misses;
    size_t i;

    if (!s || pid <= 0)
        return -EINVAL;
    proc = opd_proctab_get(s->tab, pid, now);
    if (!proc)
        return errno == ENOMEM ? -ENOMEM : -ESRCH;
    misses = s->loads;
    for (i = 0; i < proc->n_maps; i++) {
        const struct opd_proc_mapping *m = &proc->maps[i];

        if (m->inode == 0 || m->path[0] != '/')
            continue;
        if (!get_elf_obj(s, proc, m))
            return -ENOMEM;
    }
    return (int)(s->loads - misses);
}

static int load_ksyms(struct opd_symbolizer *s)
{
    struct opd_symtab fresh;
    int n;

    opd_symtab_init(&fresh);
    n = opd_ksyms_load(s->kallsyms_path, &fresh);
    if (n < 0) {
        opd_symtab_fini(&fresh);
        if (!s->ksyms_failed)
            OPD_WARN(s->who, "cannot read kernel symbols from %s: %s%s", s->kallsyms_path,
                     strerror(-n),
                     n == -EPERM ? " (addresses hidden: kptr_restrict; run "
                                   "as root or grant CAP_SYSLOG)"
                                 : "");
        s->ksyms_failed = true;
        return n;
    }
    if (s->ksyms_loaded) {
        /* Strings of the old table may be held until the next flush. */
        struct opd_symtab *slot;

        slot = OPD_VEC_PUSH_SLOT(s->ksyms_parked, s->n_ksyms_parked, s->cap_ksyms_parked);
        if (!slot) {
            opd_symtab_fini(&fresh);
            return -ENOMEM;
        }
        *slot = s->ksyms;
    }
    s->ksyms = fresh;
    s->ksyms_loaded = true;
    return 0;
}

int opd_symbolizer_reload_kernel(struct opd_symbolizer *s)
{
    if (!s)
        return -EINVAL;
    return load_ksyms(s);
}

int opd_symbolizer_kernel(struct opd_symbolizer *s, uint64_t ip, unsigned flags,
                          struct opd_sym_frame *out)
{
    const struct opd_symtab_entry *e;
    uint64_t lookup;
    int err;

    if (!out)
        return -EINVAL;
    frame_reset(out, ip);
    out->type = OPD_FRAME_KERNEL;
    out->type_name = "kernel";
    out->mapping.path = "[kernel.kallsyms]";
    if (!s)
        return -EINVAL;
    if (!s->ksyms_loaded) {
        if (s->ksyms_failed || s->ids_only)
            return -ENOENT;
        err = load_ksyms(s);
        if (err == -ENOMEM)
            return err;
        if (err)
            return -ENOENT;
    }
    lookup = (flags & OPD_SYM_RETURN_ADDRESS) && ip ? ip - 1 : ip;
    e = opd_symtab_lookup(&s->ksyms, lookup, KERNEL_MAX_GAP);
    if (!e)
        return -ENOENT;
    out->function = opd_symtab_name(&s->ksyms, e);
    out->system_name = out->function;
    out->symbol_offset = lookup - e->start;
    if (e->aux)
        out->mapping.path = opd_ksyms_module(&s->ksyms, e);
    return 0;
}
