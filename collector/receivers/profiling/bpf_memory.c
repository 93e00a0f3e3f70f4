/* Kernel memory of the receiver's BPF maps (see bpf_memory.h). */
#include "collector/receivers/profiling/bpf_memory.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/profile.h"
#include "bpf/unwind_table.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"
#include "collector/telemetry.h"
#include "profile.skel.h"

/* Per-type overhead of the kernel's allocations, 64-bit kernels (v5.15 .. v6.x): */
#define MAP_HEADER     512u /* struct bpf_map plus the type's own (bpf_htab, bpf_array ...) */
#define HTAB_ELEM      48u  /* struct htab_elem before its key */
#define HTAB_BUCKET    16u  /* struct bucket: hlist_nulls_head and its lock */
#define HTAB_LOCKS     32u  /* per CPU: HASHTAB_MAP_LOCK_COUNT ints */
#define LPM_NODE       24u  /* struct lpm_trie_node before its data (v6.x) */
#define STACK_BUCKET   24u  /* struct stack_map_bucket before its ips */
#define RINGBUF_PAGES  3u   /* consumer, producer and header pages */
#define PAGE           4096u

#define MIN_TABLE_ENTRIES 1024u
#define MIN_UNWIND_BYTES  (1ull << 20)

static uint64_t round8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t p = 1;

    while (p < n && p < (1ull << 62))
        p <<= 1;
    return p;
}

/* Whether the map allocates its entries on insert: its size follows what it holds. */
static bool grows_on_insert(const struct opd_bpf_map_shape *m)
{
    switch (m->type) {
    case BPF_MAP_TYPE_LPM_TRIE:
        return true;
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
        return (m->map_flags & BPF_F_NO_PREALLOC) != 0;
    default:
        return false;
    }
}

uint64_t opd_bpf_map_estimate(const struct opd_bpf_map_shape *m, int ncpus, uint64_t entries)
{
    uint64_t cpus = ncpus > 0 ? (uint64_t)ncpus : 1, n = m->max_entries;
    uint64_t key = round8(m->key_size), val = round8(m->value_size), elem, bytes;

    switch (m->type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH: {
        bool percpu = m->type == BPF_MAP_TYPE_PERCPU_HASH ||
                      m->type == BPF_MAP_TYPE_LRU_PERCPU_HASH;

        elem = HTAB_ELEM + key + (percpu ? 8 + val * cpus : val);
        if (grows_on_insert(m)) {
            n = entries < n ? entries : n;
        } else if (m->type == BPF_MAP_TYPE_HASH || m->type == BPF_MAP_TYPE_PERCPU_HASH) {
            n += cpus; /* preallocated hash maps keep one spare element per CPU */
        }
        bytes = elem * n + HTAB_BUCKET * pow2_at_least(m->max_entries) + HTAB_LOCKS * cpus;
        break;
    }
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_CGROUP_ARRAY:
        bytes = val * n;
        break;
    case BPF_MAP_TYPE_PERCPU_ARRAY:
        bytes = (8 + val * cpus) * n;
        break;
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
        bytes = 8 * n + (m->type == BPF_MAP_TYPE_HASH_OF_MAPS
                             ? (HTAB_ELEM + key + 8) * n + HTAB_BUCKET * pow2_at_least(n)
                             : 0);
        break;
    case BPF_MAP_TYPE_LPM_TRIE:
        /* data is the key without its 4-byte prefix length. */
        elem = LPM_NODE + (m->key_size > 4 ? m->key_size - 4 : 0) + m->value_size;
        bytes = elem * (entries < n ? entries : n);
        break;
    case BPF_MAP_TYPE_STACK_TRACE:
        bytes = (STACK_BUCKET + val) * n + 8 * pow2_at_least(n);
        break;
    case BPF_MAP_TYPE_RINGBUF:
    case BPF_MAP_TYPE_USER_RINGBUF:
        bytes = n + RINGBUF_PAGES * PAGE;
        break;
    default:
        bytes = (key + val) * n;
        break;
    }
    return bytes + MAP_HEADER;
}

/* ---- sizing before load ---------------------------------------------------------------- */

static uint64_t counts_bytes(const struct opd_bpf_sizing *s)
{
    struct opd_bpf_map_shape m = {BPF_MAP_TYPE_HASH, s->count_key_size, 8, s->count_entries, 0};

    return 2 * opd_bpf_map_estimate(&m, s->ncpus, 0);
}

static uint64_t stacks_bytes(const struct opd_bpf_sizing *s)
{
    struct opd_bpf_map_shape m = {BPF_MAP_TYPE_HASH, 8, s->stack_value_size, s->stack_entries, 0};

    return 2 * opd_bpf_map_estimate(&m, s->ncpus, 0);
}

static uint64_t unwind_bytes(const struct opd_bpf_sizing *s)
{
    struct opd_bpf_map_shape m = {BPF_MAP_TYPE_ARRAY, 4, s->unwind_row_size, 0, 0};

    if (!s->unwind_bytes || !s->unwind_row_size)
        return 0;
    m.max_entries = (uint32_t)(s->unwind_bytes / s->unwind_row_size);
    return opd_bpf_map_estimate(&m, s->ncpus, 0);
}

uint64_t opd_bpf_sizing_bytes(const struct opd_bpf_sizing *s)
{
    return s->fixed + counts_bytes(s) + stacks_bytes(s) + unwind_bytes(s);
}

int opd_bpf_sizing_fit(struct opd_bpf_sizing *s, char *err, size_t errlen)
{
    while (s->limit && opd_bpf_sizing_bytes(s) > s->limit) {
        uint64_t c = s->count_entries > MIN_TABLE_ENTRIES ? counts_bytes(s) : 0;
        uint64_t k = s->stack_entries > MIN_TABLE_ENTRIES ? stacks_bytes(s) : 0;
        uint64_t u = s->unwind_bytes > MIN_UNWIND_BYTES ? unwind_bytes(s) : 0;

        if (!c && !k && !u) {
            struct opd_bpf_sizing least = *s;

            snprintf(err, errlen,
                     "bpf_memory_limit_mib %" PRIu64 " MiB cannot hold the BPF maps: even at "
                     "their smallest (counts and stacks maps 2 x %u entries, unwind tables "
                     "%" PRIu64 " MiB) they take %.1f MiB, of which %.1f MiB for the maps of "
                     "fixed size",
                     s->limit >> 20, MIN_TABLE_ENTRIES, least.unwind_bytes >> 20,
                     opd_bpf_sizing_bytes(&least) / 1048576.0, s->fixed / 1048576.0);
            return -E2BIG;
        }
        if (u >= c && u >= k) {
            s->unwind_bytes -= s->unwind_bytes / 10;
            if (s->unwind_bytes < MIN_UNWIND_BYTES)
                s->unwind_bytes = MIN_UNWIND_BYTES;
        } else if (k >= c) {
            s->stack_entries -= s->stack_entries / 10;
            if (s->stack_entries < MIN_TABLE_ENTRIES)
                s->stack_entries = MIN_TABLE_ENTRIES;
        } else {
            s->count_entries -= s->count_entries / 10;
            if (s->count_entries < MIN_TABLE_ENTRIES)
                s->count_entries = MIN_TABLE_ENTRIES;
        }
    }
    return 0;
}

/* ---- measurement after load -------------------------------------------------------------- */

struct map_mem {
    const struct bpf_map *map; /* borrowed from the object */
    struct opd_bpf_map_shape shape;
    uint64_t bytes;
    bool estimated; /* our estimate, not the kernel's figure */
    struct opd_metric *gauge;
};

struct opd_bpf_memory {
    struct map_mem *maps;
    size_t n;
    int ncpus;
    bool kernel_figures; /* fdinfo's memlock is the map's real usage (kernel >= 6.4) */
    uint64_t total, limit;
    bool over;     /* the total exceeded limit at the last refresh (warned once) */
    char who[96];  /* log name, receiver/<id> */
    struct opd_metric *m_total, *m_limit;
};

/* Kernels from 6.4 report each map's real memory use as fdinfo's memlock. */
static bool kernel_reports_usage(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return false;
    return major > 6 || (major == 6 && minor >= 4);
}

/* The memlock line of the map fd's fdinfo, or -1. */
static int64_t fdinfo_memlock(int fd)
{
    char path[64], line[256];
    int64_t v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        long long n;

        if (sscanf(line, "memlock: %lld", &n) == 1) {
            v = n;
            break;
        }
    }
    fclose(f);
    return v;
}

/* Entries a map holds, by walking its keys (at most max_entries + 1 steps). */
static uint64_t count_entries(int fd, const struct opd_bpf_map_shape *m)
{
    uint8_t *key, *next;
    uint64_t n = 0;

    key = opd_calloc(1, m->key_size ? m->key_size : 1);
    next = opd_calloc(1, m->key_size ? m->key_size : 1);
    if (key && next && !bpf_map_get_next_key(fd, NULL, next)) {
        do {
            n++;
            memcpy(key, next, m->key_size);
        } while (n <= m->max_entries && !bpf_map_get_next_key(fd, key, next));
    }
    opd_free(key);
    opd_free(next);
    return n;
}

static void measure(struct opd_bpf_memory *bm, struct map_mem *mm)
{
    int fd = bpf_map__fd(mm->map);
    int64_t k = bm->kernel_figures && fd >= 0 ? fdinfo_memlock(fd) : -1;

    if (k >= 0) {
        mm->bytes = (uint64_t)k;
        mm->estimated = false;
        return;
    }
    mm->bytes = opd_bpf_map_estimate(&mm->shape, bm->ncpus,
                                     grows_on_insert(&mm->shape) && fd >= 0
                                         ? count_entries(fd, &mm->shape)
                                         : 0);
    mm->estimated = true;
}

uint64_t opd_bpf_memory_refresh(struct opd_bpf_memory *m)
{
    uint64_t total = 0;

    if (!m)
        return 0;
    for (size_t i = 0; i < m->n; i++) {
        /* Fixed-size maps keep their size: only the kernel's figure or growth can change. */
        if (m->kernel_figures || grows_on_insert(&m->maps[i].shape) || !m->maps[i].bytes)
            measure(m, &m->maps[i]);
        opd_metric_set(m->maps[i].gauge, (int64_t)m->maps[i].bytes);
        total += m->maps[i].bytes;
    }
    m->total = total;
    opd_metric_set(m->m_total, (int64_t)total);
    /* Maps that allocate on insert can grow past what was planned: say so once. */
    if (m->limit && total > m->limit && !m->over)
        OPD_WARN(m->who, "the BPF maps grew to %.1f MiB, over bpf_memory_limit_mib %" PRIu64,
                 total / 1048576.0, m->limit >> 20);
    m->over = m->limit && total > m->limit;
    return total;
}

struct opd_bpf_memory *opd_bpf_memory_create(struct bpf_object *obj, uint64_t limit,
                                             struct opd_telemetry *tel, const char *id)
{
    struct opd_bpf_memory *m = opd_calloc(1, sizeof(*m));
    struct bpf_map *map;
    size_t cap = 0;
    char labels[320];
    int err = ENOMEM;

    if (!m)
        goto fail;
    m->ncpus = libbpf_num_possible_cpus();
    m->kernel_figures = kernel_reports_usage();
    m->limit = limit;
    m->over = true; /* opd_bpf_memory_report tells the first time */
    snprintf(m->who, sizeof(m->who), "receiver/%s", id);
    bpf_object__for_each_map(map, obj)
    {
        struct map_mem *mm = OPD_VEC_PUSH_SLOT(m->maps, m->n, cap);
        struct bpf_map_info info;
        uint32_t len = sizeof(info);

        if (!mm)
            goto fail;
        memset(mm, 0, sizeof(*mm));
        mm->map = map;
        memset(&info, 0, sizeof(info));
        if (bpf_map__fd(map) >= 0 && !bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len)) {
            mm->shape = (struct opd_bpf_map_shape){info.type, info.key_size, info.value_size,
                                                   info.max_entries, info.map_flags};
        } else {
            mm->shape = (struct opd_bpf_map_shape){bpf_map__type(map), bpf_map__key_size(map),
                                                   bpf_map__value_size(map),
                                                   bpf_map__max_entries(map),
                                                   bpf_map__map_flags(map)};
        }
        if (tel) {
            snprintf(labels, sizeof(labels), "receiver=\"%s\",map=\"%s\"", id, bpf_map__name(map));
            mm->gauge = opd_telemetry_metric(tel, OPD_METRIC_GAUGE,
                                             "otelprofd_profiling_bpf_map_bytes", labels,
                                             "Kernel memory of one BPF map of the receiver");
            if (!mm->gauge) {
                err = errno ? errno : ENOMEM;
                goto fail;
            }
        }
    }
    if (tel) {
        snprintf(labels, sizeof(labels), "receiver=\"%s\"", id);
        m->m_total = opd_telemetry_metric(tel, OPD_METRIC_GAUGE,
                                          "otelprofd_profiling_bpf_memory_bytes", labels,
                                          "Kernel memory of all the receiver's BPF maps");
        m->m_limit = opd_telemetry_metric(tel, OPD_METRIC_GAUGE,
                                          "otelprofd_profiling_bpf_memory_limit_bytes", labels,
                                          "bpf_memory_limit_mib in bytes (0: none)");
        if (!m->m_total || !m->m_limit) {
            err = errno ? errno : ENOMEM;
            goto fail;
        }
        opd_metric_set(m->m_limit, (int64_t)limit);
    }
    opd_bpf_memory_refresh(m);
    return m;
fail:
    opd_bpf_memory_destroy(m);
    errno = err;
    return NULL;
}

struct opd_bpf_memory *opd_bpf_memory_of_sampler(struct opd_sampler *s, uint64_t limit,
                                                 struct opd_telemetry *tel, const char *id)
{
    return opd_bpf_memory_create(opd_sampler_skel(s)->obj, limit, tel, id);
}

uint64_t opd_bpf_memory_total(const struct opd_bpf_memory *m)
{
    return m ? m->total : 0;
}

void opd_bpf_memory_counts(const struct opd_bpf_memory *m, size_t *maps, size_t *estimated)
{
    *maps = m ? m->n : 0;
    *estimated = 0;
    for (size_t i = 0; m && i < m->n; i++)
        *estimated += m->maps[i].estimated;
}

void opd_bpf_memory_destroy(struct opd_bpf_memory *m)
{
    if (!m)
        return;
    opd_free(m->maps);
    opd_free(m);
}

/* ---- the receiver's use ------------------------------------------------------------------ */

/* The sizing of the receiver's sizeable maps. */
static struct opd_bpf_sizing sizing_of(uint64_t limit, uint32_t frames, uint32_t count_entries,
                                       uint32_t stack_entries, uint64_t unwind_bytes)
{
    int ncpus = libbpf_num_possible_cpus();

    return (struct opd_bpf_sizing){
        .limit = limit,
        .fixed = OPD_BPF_FIXED_ALLOWANCE(ncpus > 0 ? ncpus : 1),
        .ncpus = ncpus,
        .count_entries = count_entries,
        .count_key_size = sizeof(struct opd_sample_key),
        .stack_entries = stack_entries,
        .stack_value_size = OPD_STACK_BYTES(frames),
        .unwind_bytes = unwind_bytes,
        .unwind_row_size = sizeof(struct opd_unwind_row),
    };
}

int opd_bpf_memory_check_config(uint64_t limit, uint32_t frames, uint32_t count_entries,
                                uint32_t stack_entries, uint64_t unwind_bytes, char *err,
                                size_t errlen)
{
    struct opd_bpf_sizing s = sizing_of(limit, frames, count_entries, stack_entries, unwind_bytes);

    return opd_bpf_sizing_fit(&s, err, errlen);
}

int opd_bpf_memory_plan(struct opd_sampler_opts *so, uint64_t limit, const char *who)
{
    uint32_t frames = so->max_frames ? so->max_frames : OPD_DEFAULT_FRAMES;
    uint64_t unwind = (uint64_t)so->unwind_rows * sizeof(struct opd_unwind_row);
    struct opd_bpf_sizing s = sizing_of(limit, frames, so->count_entries, so->stack_entries, unwind);
    uint64_t before = opd_bpf_sizing_bytes(&s);
    char err[512];

    if (opd_bpf_sizing_fit(&s, err, sizeof(err))) {
        OPD_ERR(who, "%s", err);
        return -E2BIG;
    }
    if (s.count_entries != so->count_entries || s.stack_entries != so->stack_entries ||
        s.unwind_bytes != unwind) {
        OPD_WARN(who,
                 "bpf_memory_limit_mib %" PRIu64 ": BPF maps planned at %.1f MiB, sized down "
                 "to %.1f MiB: counts maps 2 x %u -> %u entries, stacks maps 2 x %u -> %u "
                 "entries, unwind tables %.1f -> %.1f MiB",
                 limit >> 20, before / 1048576.0, opd_bpf_sizing_bytes(&s) / 1048576.0,
                 so->count_entries, s.count_entries, so->stack_entries, s.stack_entries,
                 unwind / 1048576.0, s.unwind_bytes / 1048576.0);
        so->count_entries = s.count_entries;
        so->stack_entries = s.stack_entries;
        so->unwind_rows = (uint32_t)(s.unwind_bytes / sizeof(struct opd_unwind_row));
    }
    return 0;
}

/* VmRSS of this process in bytes, 0 when unknown. */
static uint64_t own_rss(void)
{
    char line[256];
    uint64_t kib = 0;
    FILE *f = fopen("/proc/self/status", "re");

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
            break;
    fclose(f);
    return kib << 10;
}

int opd_bpf_memory_report(struct opd_bpf_memory *m, uint64_t limit, const char *who)
{
    size_t maps, estimated;
    uint64_t total = opd_bpf_memory_refresh(m);

    opd_bpf_memory_counts(m, &maps, &estimated);
    OPD_INFO(who,
             "memory: BPF maps %.1f MiB in %zu maps (%zu estimated, the rest as the kernel "
             "counts them), RSS %.1f MiB; bpf_memory_limit_mib %" PRIu64,
             total / 1048576.0, maps, estimated, own_rss() / 1048576.0, limit >> 20);
    if (limit && total > limit) {
        OPD_ERR(who,
                "the BPF maps take %.1f MiB, over bpf_memory_limit_mib %" PRIu64
                " (the maps of fixed size exceed their allowance of %.1f MiB): raise the limit",
                total / 1048576.0, limit >> 20,
                OPD_BPF_FIXED_ALLOWANCE(m->ncpus > 0 ? m->ncpus : 1) / 1048576.0);
        return -E2BIG;
    }
    return 0;
}
