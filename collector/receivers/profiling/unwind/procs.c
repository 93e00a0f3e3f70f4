/* Per-process range publication: mappings -> (file slot, bias) -> LPM keys. */
#include "procs.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"

#define WHO "unwind/procs"

/* One published range. */
struct pub {
    uint64_t start, end;
    struct opd_unwind_range v;
};

struct pstate {
    uint32_t pid;
    struct pub *pubs;
    size_t n;
};

struct opd_unwind_procs {
    struct opd_unwind_cache *cache;
    struct opd_unwind_range_sink sink;
    char *procfs;
    struct pstate *ps; /* sorted by pid */
    size_t nps, cap_ps;
    size_t nkeys;
};

int opd_unwind_range_keys(uint32_t pid, uint64_t start, uint64_t end,
                          struct opd_unwind_range_key *keys, size_t cap)
{
    uint64_t addr = start;
    size_t n = 0;

    if (start >= end)
        return -EINVAL;
    while (addr < end) {
        unsigned k = addr ? (unsigned)__builtin_ctzll(addr) : 63;

        /* The largest aligned block starting at addr that fits in [addr, end). */
        while (k > 0 && (k >= 64 || end - addr < (1ull << k)))
            k--;
        if (n == cap)
            return -E2BIG;
        keys[n].prefixlen = 32 + (64 - k);
        keys[n].pid_be = htobe32(pid);
        keys[n].addr_be = htobe64(addr);
        n++;
        addr += 1ull << k;
        if (addr == 0)
            break; /* wrapped past the top of the address space */
    }
    return (int)n;
}

struct opd_unwind_procs *opd_unwind_procs_create(struct opd_unwind_cache *cache,
                                                 const struct opd_unwind_range_sink *sink,
                                                 const char *procfs_root)
{
    struct opd_unwind_procs *p;

    if (!cache || !sink || !sink->update || !sink->remove) {
        errno = EINVAL;
        return NULL;
    }
    p = opd_calloc(1, sizeof(*p));
    if (!p)
        goto nomem;
    p->cache = cache;
    p->sink = *sink;
    p->procfs = opd_strdup(procfs_root ? procfs_root : "/proc");
    if (!p->procfs)
        goto nomem;
    return p;
nomem:
    opd_unwind_procs_destroy(p);
    errno = ENOMEM;
    return NULL;
}

void opd_unwind_procs_destroy(struct opd_unwind_procs *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nps; i++)
        opd_free(p->ps[i].pubs);
    opd_free(p->ps);
    opd_free(p->procfs);
    opd_free(p);
}

static size_t ps_find(const struct opd_unwind_procs *p, uint32_t pid, int *found)
{
    size_t lo = 0, hi = p->nps;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ps[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->nps && p->ps[lo].pid == pid;
    return lo;
}

/* Writes (add) or removes the keys of one range; count is 0 when an update overwrites
 * keys that are already published. */
static int publish(struct opd_unwind_procs *p, uint32_t pid, const struct pub *x, int add,
                   int count)
{
    struct opd_unwind_range_key keys[130];
    int n, err = 0;

    n = opd_unwind_range_keys(pid, x->start, x->end, keys, 130);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        int e = add ? p->sink.update(p->sink.arg, &keys[i], &x->v)
                    : p->sink.remove(p->sink.arg, &keys[i]);
        if (e && !err)
            err = e;
        else if (!e && count)
            p->nkeys += add ? 1 : (size_t)-1;
    }
    return err;
}

struct build_arg {
    int fd;
    const uint8_t *image; /* in-memory ELF (the vDSO) */
    size_t image_len;
};

static int build_from_fd(void *arg, struct opd_unwind_table *out)
{
    const struct build_arg *a = arg;

    return opd_elf_cfi_build_fd(a->fd, -1, out, NULL);
}

/* The vDSO is the same image in every process of this kernel and ABI, so our own copy
 * (from the auxiliary vector) describes every process's [vdso]. */
static int vdso_image(const uint8_t **img, size_t *len, uint64_t *first_vaddr)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    const Elf64_Phdr *ph;
    uint64_t end = 0, first = UINT64_MAX;

    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
        return -ENOENT;
    ph = (const Elf64_Phdr *)((const uint8_t *)eh + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD)
            continue;
        if (ph[i].p_offset + ph[i].p_filesz > end)
            end = ph[i].p_offset + ph[i].p_filesz;
        if (ph[i].p_offset == 0 && ph[i].p_vaddr < first)
            first = ph[i].p_vaddr;
    }
    if (!end || first == UINT64_MAX)
        return -ENOENT;
    *img = (const uint8_t *)eh;
    *len = (size_t)end;
    *first_vaddr = first;
    return 0;
}

static int build_vdso(void *arg, struct opd_unwind_table *out)
{
    const struct build_arg *a = arg;
    int fd, err;

    /* libelf reads from descriptors; a memfd keeps one code path for files and memory. */
    fd = memfd_create("opd-vdso", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, a->image, a->image_len) != (ssize_t)a->image_len) {
        close(fd);
        return -EIO;
    }
    err = opd_elf_cfi_build_fd(fd, -1, out, NULL);
    close(fd);
    return err;
}

/* Resolves one mapping to its range value. Failures to open or parse a file make the
 * range FP_ONLY rather than failing the sync. */
static int resolve(struct opd_unwind_procs *p, uint32_t pid, const struct opd_unwind_mapping *m,
                   struct pub *out)
{
    struct opd_unwind_cache_ref ref;
    struct opd_unwind_key key;
    struct build_arg ba = {.fd = -1};
    uint8_t bid[64];
    uint64_t bias = 0;
    struct stat st;
    char path[4200];
    int err = 0, n;

    memset(out, 0, sizeof(*out));
    out->start = m->start;
    out->end = m->end;
    out->v.start = m->start;
    out->v.end = m->end;
    out->v.flags = OPD_RANGE_FP_ONLY;
    if (m->path && !strcmp(m->path, "[vdso]")) {
        uint64_t first;
        static const uint8_t vdso_key[] = "vdso";

        if (vdso_image(&ba.image, &ba.image_len, &first))
            return 0;
        opd_unwind_key_build_id(&key, vdso_key, sizeof(vdso_key));
        err = opd_unwind_cache_get(p->cache, &key, build_vdso, &ba, &ref);
        bias = m->start - first;
        goto have_ref;
    }
    if (m->inode == 0 || !m->path || m->path[0] != '/')
        return 0;
    snprintf(path, sizeof(path), "%s/%u/map_files/%" PRIx64 "-%" PRIx64, p->procfs, pid,
             m->start, m->end);
    ba.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ba.fd < 0) {
        snprintf(path, sizeof(path), "%s/%u/root%s", p->procfs, pid, m->path);
        ba.fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (ba.fd < 0 || fstat(ba.fd, &st)) {
        OPD_DEBUG(WHO, "pid %u: cannot open %s: %s", pid, m->path, strerror(errno));
        goto out;
    }
    if (opd_elf_load_bias(ba.fd, m->start, m->offset, &bias))
        goto out;
    n = opd_elf_build_id(ba.fd, bid, sizeof(bid));
    if (n > 0)
        opd_unwind_key_build_id(&key, bid, (size_t)n);
    else
        opd_unwind_key_inode(&key, (uint64_t)st.st_dev, (uint64_t)st.st_ino,
                             (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    err = opd_unwind_cache_get(p->cache, &key, build_from_fd, &ba, &ref);
have_ref:
    if (err)
        goto out;
    if (ref.nrows) {
        out->v.bias = bias + ref.pc_base;
        out->v.file_id = ref.file_id;
        out->v.gen = ref.gen;
        out->v.flags = 0;
    }
out:
    if (ba.fd >= 0)
        close(ba.fd);
    return err == -ENOMEM ? err : 0;
}

static int cmp_pub(const void *a, const void *b)
{
    const struct pub *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static int same_range(const struct pub *a, const struct pub *b)
{
    return a->start == b->start && a->end == b->end;
}

static int same_pub(const struct pub *a, const struct pub *b)
{
    return same_range(a, b) && !memcmp(&a->v, &b->v, sizeof(a->v));
}

static const struct pub *find_pub(const struct pub *v, size_t n, const struct pub *x)
{
    const struct pub *r = n ? bsearch(x, v, n, sizeof(*v), cmp_pub) : NULL;

    return r && same_range(r, x) ? r : NULL;
}

int opd_unwind_procs_sync(struct opd_unwind_procs *p, uint32_t pid,
                          const struct opd_unwind_mapping *maps, size_t n)
{
    struct pub *nv = NULL;
    struct pstate *ps;
    size_t i, k = 0, idx;
    int found, err = 0, e;

    nv = opd_calloc(n ? n : 1, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        if (maps[i].start >= maps[i].end)
            continue;
        if ((err = resolve(p, pid, &maps[i], &nv[k])))
            goto out;
        k++;
    }
    qsort(nv, k, sizeof(*nv), cmp_pub);
    /* Overlapping input (a bad maps read) would publish ambiguous keys; keep the first. */
    for (i = 1; i < k; i++) {
        if (nv[i].start < nv[i - 1].end) {
            memmove(&nv[i], &nv[i + 1], (k - i - 1) * sizeof(*nv));
            k--;
            i--;
        }
    }
    idx = ps_find(p, pid, &found);
    if (!found) {
        struct pstate *slot = OPD_VEC_PUSH_SLOT(p->ps, p->nps, p->cap_ps);

        if (!slot) {
            err = -ENOMEM;
            goto out;
        }
        memmove(&p->ps[idx + 1], &p->ps[idx], (p->nps - 1 - idx) * sizeof(*p->ps));
        memset(&p->ps[idx], 0, sizeof(p->ps[idx]));
        p->ps[idx].pid = pid;
    }
    ps = &p->ps[idx];
    /* Remove ranges that are gone (a range kept with a new value is overwritten). */
    for (i = 0; i < ps->n; i++) {
        if (!find_pub(nv, k, &ps->pubs[i]) && (e = publish(p, pid, &ps->pubs[i], 0, 1)) && !err)
            err = e;
    }
    for (i = 0; i < k; i++) {
        const struct pub *old = find_pub(ps->pubs, ps->n, &nv[i]);

        if ((!old || !same_pub(old, &nv[i])) && (e = publish(p, pid, &nv[i], 1, !old)) && !err)
            err = e;
    }
    opd_free(ps->pubs);
    ps->pubs = nv;
    ps->n = k;
    nv = NULL;
out:
    opd_free(nv);
    return err;
}

int opd_unwind_procs_sync_proc(struct opd_unwind_procs *p, uint32_t pid)
{
    struct opd_unwind_mapping *maps = NULL;
    size_t n = 0, cap = 0;
    char path[4200], line[4400], *paths = NULL;
    size_t paths_len = 0, paths_cap = 0;
    FILE *f;
    int err;

    snprintf(path, sizeof(path), "%s/%u/maps", p->procfs, pid);
    f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? -ESRCH : -errno;
    /* Paths are collected into one buffer (offsets first, pointers after growth). */
    while (fgets(line, sizeof(line), f)) {
        struct opd_unwind_mapping *m;
        unsigned long long s, e, off, ino;
        unsigned maj, min;
        char perms[8];
        int pos = 0;
        size_t plen;
        char *nl;

        if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &s, &e, perms, &off, &maj, &min,
                   &ino, &pos) < 7 ||
            perms[2] != 'x')
            continue;
        if ((nl = strchr(line + pos, '\n')))
            *nl = '\0';
        plen = strlen(line + pos) + 1;
        if (opd_vec_reserve((void **)&paths, &paths_cap, paths_len + plen, 1) ||
            !(m = OPD_VEC_PUSH_SLOT(maps, n, cap))) {
            err = -ENOMEM;
            goto out;
        }
        memcpy(paths + paths_len, line + pos, plen);
        m->start = s;
        m->end = e;
        m->offset = off;
        m->dev = ((uint64_t)maj << 8) | min;
        m->inode = ino;
        m->path = (const char *)(uintptr_t)paths_len;
        paths_len += plen;
    }
    for (size_t i = 0; i < n; i++)
        maps[i].path = paths + (uintptr_t)maps[i].path;
    err = opd_unwind_procs_sync(p, pid, maps, n);
out:
    fclose(f);
    opd_free(maps);
    opd_free(paths);
    return err;
}

int opd_unwind_procs_remove(struct opd_unwind_procs *p, uint32_t pid)
{
    int found, err = 0, e;
    size_t idx = ps_find(p, pid, &found);
    struct pstate *ps;

    if (!found)
        return -ENOENT;
    ps = &p->ps[idx];
    for (size_t i = 0; i < ps->n; i++)
        if ((e = publish(p, pid, &ps->pubs[i], 0, 1)) && !err)
            err = e;
    opd_free(ps->pubs);
    memmove(&p->ps[idx], &p->ps[idx + 1], (p->nps - idx - 1) * sizeof(*p->ps));
    p->nps--;
    return err;
}

size_t opd_unwind_procs_keys(const struct opd_unwind_procs *p)
{
    return p->nkeys;
}
