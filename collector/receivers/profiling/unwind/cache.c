/* Table cache: file slots, an LRU list, and a first-fit extent allocator over the arena. */
#include "cache.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

#define NIL UINT32_MAX

struct entry {
    struct opd_unwind_key key;
    uint64_t pc_base;
    uint32_t start, count;
    uint32_t lru_prev, lru_next;
    uint32_t hnext;
    uint8_t used;
};

struct extent {
    uint32_t start, len;
};

struct opd_unwind_cache {
    struct opd_unwind_cache_config cfg;
    struct opd_unwind_sink sink;
    struct entry *e;     /* max_files slots */
    uint32_t *gen;       /* per slot, survives reuse */
    uint32_t *free_slots;
    uint32_t nfree_slots;
    uint32_t *buckets;
    uint32_t nbuckets;   /* power of two */
    uint32_t lru_head, lru_tail;
    struct extent *ext;  /* free extents sorted by start */
    uint32_t next_cnt, ext_cap;
    struct opd_unwind_cache_stats st;
    char *who;
    struct opd_metric *m_bytes, *m_files, *m_evict, *m_fail;
};

void opd_unwind_key_build_id(struct opd_unwind_key *k, const uint8_t *id, size_t len)
{
    memset(k, 0, sizeof(*k));
    if (len > OPD_UNWIND_KEY_MAX - 1)
        len = OPD_UNWIND_KEY_MAX - 1;
    k->bytes[0] = 'B'; /* namespaces keep a build id from equalling an inode key */
    memcpy(k->bytes + 1, id, len);
    k->len = (uint8_t)(len + 1);
}

void opd_unwind_key_inode(struct opd_unwind_key *k, uint64_t dev, uint64_t ino,
                          int64_t mtime_ns)
{
    memset(k, 0, sizeof(*k));
    k->bytes[0] = 'I';
    memcpy(k->bytes + 1, &dev, 8);
    memcpy(k->bytes + 9, &ino, 8);
    memcpy(k->bytes + 17, &mtime_ns, 8);
    k->len = 25;
}

static uint32_t key_hash(const struct opd_unwind_key *k)
{
    uint32_t h = 2166136261u;

    for (unsigned i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 16777619u;
    return h;
}

static int key_eq(const struct opd_unwind_key *a, const struct opd_unwind_key *b)
{
    return a->len == b->len && !memcmp(a->bytes, b->bytes, a->len);
}

static void update_metrics(struct opd_unwind_cache *c)
{
    opd_metric_set(c->m_bytes, (int64_t)c->st.rows_used * (int64_t)sizeof(struct opd_unwind_row));
    opd_metric_set(c->m_files, c->st.files_loaded);
}

static void lru_unlink(struct opd_unwind_cache *c, uint32_t i)
{
    struct entry *x = &c->e[i];

    if (x->lru_prev != NIL)
        c->e[x->lru_prev].lru_next = x->lru_next;
    else
        c->lru_head = x->lru_next;
    if (x->lru_next != NIL)
        c->e[x->lru_next].lru_prev = x->lru_prev;
    else
        c->lru_tail = x->lru_prev;
    x->lru_prev = x->lru_next = NIL;
}

static void lru_push_front(struct opd_unwind_cache *c, uint32_t i)
{
    struct entry *x = &c->e[i];

    x->lru_prev = NIL;
    x->lru_next = c->lru_head;
    if (c->lru_head != NIL)
        c->e[c->lru_head].lru_prev = i;
    c->lru_head = i;
    if (c->lru_tail == NIL)
        c->lru_tail = i;
}

static uint32_t find(const struct opd_unwind_cache *c, const struct opd_unwind_key *k)
{
    uint32_t i = c->buckets[key_hash(k) & (c->nbuckets - 1)];

    while (i != NIL && !key_eq(&c->e[i].key, k))
        i = c->e[i].hnext;
    return i;
}

static void hash_remove(struct opd_unwind_cache *c, uint32_t i)
{
    uint32_t *p = &c->buckets[key_hash(&c->e[i].key) & (c->nbuckets - 1)];

    while (*p != NIL && *p != i)
        p = &c->e[*p].hnext;
    if (*p == i)
        *p = c->e[i].hnext;
}

/* First fit. Returns 0 and the start, or -ENOSPC. */
static int ext_alloc(struct opd_unwind_cache *c, uint32_t n, uint32_t *start)
{
    for (uint32_t i = 0; i < c->next_cnt; i++) {
        if (c->ext[i].len >= n) {
            *start = c->ext[i].start;
            c->ext[i].start += n;
            c->ext[i].len -= n;
            if (c->ext[i].len == 0) {
                memmove(&c->ext[i], &c->ext[i + 1], (c->next_cnt - i - 1) * sizeof(*c->ext));
                c->next_cnt--;
            }
            return 0;
        }
    }
    return -ENOSPC;
}

/* Returns an extent, merging it with its neighbours. There are at most max_files + 1
 * free extents (one more than the allocated ones), so the array never overflows. */
static void ext_free(struct opd_unwind_cache *c, uint32_t start, uint32_t n)
{
    uint32_t i = 0;

    if (n == 0)
        return;
    while (i < c->next_cnt && c->ext[i].start < start)
        i++;
    if (i > 0 && c->ext[i - 1].start + c->ext[i - 1].len == start) {
        c->ext[i - 1].len += n;
        if (i < c->next_cnt && start + n == c->ext[i].start) {
            c->ext[i - 1].len += c->ext[i].len;
            memmove(&c->ext[i], &c->ext[i + 1], (c->next_cnt - i - 1) * sizeof(*c->ext));
            c->next_cnt--;
        }
        return;
    }
    if (i < c->next_cnt && start + n == c->ext[i].start) {
        c->ext[i].start = start;
        c->ext[i].len += n;
        return;
    }
    memmove(&c->ext[i + 1], &c->ext[i], (c->next_cnt - i) * sizeof(*c->ext));
    c->ext[i].start = start;
    c->ext[i].len = n;
    c->next_cnt++;
}

static void evict(struct opd_unwind_cache *c, uint32_t i, int counted)
{
    struct entry *x = &c->e[i];
    struct opd_unwind_file f;

    /* Invalidate the slot before its rows can be reused. */
    c->gen[i]++;
    memset(&f, 0, sizeof(f));
    f.gen = c->gen[i];
    if (c->sink.write_file(c->sink.arg, i, &f))
        c->st.sink_errors++;
    if (x->count) {
        ext_free(c, x->start, x->count);
        c->st.rows_used -= x->count;
        c->st.files_loaded--;
    }
    hash_remove(c, i);
    lru_unlink(c, i);
    memset(x, 0, sizeof(*x));
    x->lru_prev = x->lru_next = x->hnext = NIL;
    c->free_slots[c->nfree_slots++] = i;
    if (counted) {
        c->st.evictions++;
        opd_metric_add(c->m_evict, 1);
    }
}

struct opd_unwind_cache *opd_unwind_cache_create(const struct opd_unwind_cache_config *cfg,
                                                 const struct opd_unwind_sink *sink,
                                                 struct opd_telemetry *tel, const char *who)
{
    struct opd_unwind_cache *c = NULL;
    char labels[256];
    uint32_t i;
    int err = ENOMEM;

    if (!cfg || !sink || !sink->write_rows || !sink->write_file || cfg->capacity_rows == 0 ||
        cfg->max_files == 0 || cfg->max_files > (1u << 24)) {
        err = EINVAL;
        goto fail;
    }
    c = opd_calloc(1, sizeof(*c));
    if (!c)
        goto fail;
    c->cfg = *cfg;
    c->sink = *sink;
    c->who = opd_strdup(who ? who : "unwind");
    c->e = opd_calloc(cfg->max_files, sizeof(*c->e));
    c->gen = opd_calloc(cfg->max_files, sizeof(*c->gen));
    c->free_slots = opd_calloc(cfg->max_files, sizeof(*c->free_slots));
    c->nbuckets = 16;
    while (c->nbuckets < cfg->max_files * 2)
        c->nbuckets *= 2;
    c->buckets = opd_malloc(c->nbuckets * sizeof(*c->buckets));
    c->ext_cap = cfg->max_files + 1;
    c->ext = opd_calloc(c->ext_cap, sizeof(*c->ext));
    if (!c->who || !c->e || !c->gen || !c->free_slots || !c->buckets || !c->ext)
        goto fail;
    memset(c->buckets, 0xff, c->nbuckets * sizeof(*c->buckets));
    for (i = 0; i < cfg->max_files; i++) {
        c->e[i].lru_prev = c->e[i].lru_next = c->e[i].hnext = NIL;
        /* Hand out low slot numbers first. */
        c->free_slots[i] = cfg->max_files - 1 - i;
    }
    c->nfree_slots = cfg->max_files;
    c->lru_head = c->lru_tail = NIL;
    c->ext[0].start = 0;
    c->ext[0].len = cfg->capacity_rows;
    c->next_cnt = 1;
    if (tel) {
        snprintf(labels, sizeof(labels), "receiver=\"%s\"", c->who);
        c->m_bytes = opd_telemetry_metric(tel, OPD_METRIC_GAUGE, "otelprofd_unwind_table_bytes",
                                          labels, "Bytes of unwind table rows loaded");
        c->m_files = opd_telemetry_metric(tel, OPD_METRIC_GAUGE, "otelprofd_unwind_files_loaded",
                                          labels, "Files whose unwind table is loaded");
        c->m_evict =
            opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_table_evictions",
                                 labels, "Unwind tables evicted to make room");
        c->m_fail =
            opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelprofd_unwind_table_build_failures",
                                 labels, "Files without a usable unwind table");
        if (!c->m_bytes || !c->m_files || !c->m_evict || !c->m_fail)
            goto fail;
    }
    return c;
fail:
    opd_unwind_cache_destroy(c);
    errno = err;
    return NULL;
}

void opd_unwind_cache_destroy(struct opd_unwind_cache *c)
{
    if (!c)
        return;
    opd_free(c->e);
    opd_free(c->gen);
    opd_free(c->free_slots);
    opd_free(c->buckets);
    opd_free(c->ext);
    opd_free(c->who);
    opd_free(c);
}

static void fill_ref(const struct opd_unwind_cache *c, uint32_t i, struct opd_unwind_cache_ref *r)
{
    r->file_id = i;
    r->gen = c->gen[i];
    r->pc_base = c->e[i].pc_base;
    r->nrows = c->e[i].count;
}

/* Evicts the least recently used file that holds rows. */
static int evict_rows(struct opd_unwind_cache *c)
{
    for (uint32_t i = c->lru_tail; i != NIL; i = c->e[i].lru_prev) {
        if (c->e[i].count) {
            evict(c, i, 1);
            return 0;
        }
    }
    return -ENOSPC;
}

int opd_unwind_cache_get(struct opd_unwind_cache *c, const struct opd_unwind_key *key,
                         opd_unwind_build_fn build, void *arg, struct opd_unwind_cache_ref *ref)
{
    struct opd_unwind_table t;
    struct opd_unwind_file f;
    struct entry *x;
    uint32_t i, start = 0, n = 0;
    int err;

    i = find(c, key);
    if (i != NIL) {
        c->st.hits++;
        lru_unlink(c, i);
        lru_push_front(c, i);
        fill_ref(c, i, ref);
        return 0;
    }
    c->st.misses++;
    memset(&t, 0, sizeof(t));
    err = build(arg, &t);
    if (err == -ENOMEM)
        return err;
    if (!err && t.nrows > c->cfg.capacity_rows) {
        c->st.too_big++;
        OPD_WARN(c->who, "unwind table of %zu rows exceeds the arena (%u rows): not loaded",
                 t.nrows, c->cfg.capacity_rows);
        err = -E2BIG;
    }
    if (err) {
        c->st.builds_failed++;
        opd_metric_add(c->m_fail, 1);
        opd_unwind_table_fini(&t);
    }
    n = (uint32_t)t.nrows;
    if (c->nfree_slots == 0) {
        if (c->lru_tail == NIL) {
            err = -ENOSPC;
            goto out;
        }
        evict(c, c->lru_tail, 1);
    }
    while (n && ext_alloc(c, n, &start)) {
        if ((err = evict_rows(c)))
            goto out;
    }
    i = c->free_slots[--c->nfree_slots];
    if (n && (err = c->sink.write_rows(c->sink.arg, start, t.rows, n))) {
        c->st.sink_errors++;
        goto undo;
    }
    memset(&f, 0, sizeof(f));
    f.start = start;
    f.count = n;
    f.gen = c->gen[i];
    if ((err = c->sink.write_file(c->sink.arg, i, &f))) {
        c->st.sink_errors++;
        goto undo;
    }
    x = &c->e[i];
    x->key = *key;
    x->pc_base = t.pc_base;
    x->start = start;
    x->count = n;
    x->used = 1;
    x->hnext = c->buckets[key_hash(key) & (c->nbuckets - 1)];
    c->buckets[key_hash(key) & (c->nbuckets - 1)] = i;
    lru_push_front(c, i);
    if (n) {
        c->st.rows_used += n;
        c->st.files_loaded++;
    }
    update_metrics(c);
    fill_ref(c, i, ref);
    err = 0;
    goto out;
undo:
    ext_free(c, start, n);
    c->free_slots[c->nfree_slots++] = i;
out:
    update_metrics(c);
    opd_unwind_table_fini(&t);
    return err;
}

int opd_unwind_cache_touch(struct opd_unwind_cache *c, const struct opd_unwind_key *key)
{
    uint32_t i = find(c, key);

    if (i == NIL)
        return -ENOENT;
    lru_unlink(c, i);
    lru_push_front(c, i);
    return 0;
}

void opd_unwind_cache_get_stats(const struct opd_unwind_cache *c,
                                struct opd_unwind_cache_stats *out)
{
    *out = c->st;
}
