/* Table cache (LRU arena of rows, file slots) and the per-process range publisher. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/telemetry.h"
#include "collector/receivers/profiling/unwind/cache.h"
#include "collector/receivers/profiling/unwind/procs.h"

/* ---- a memory sink standing in for the BPF maps ---- */

#define CAP   100
#define FILES 4

struct mem_sink {
    struct opd_unwind_row rows[CAP];
    struct opd_unwind_file files[FILES];
    int fail_rows;
};

static int m_write_rows(void *arg, uint32_t start, const struct opd_unwind_row *rows, uint32_t n)
{
    struct mem_sink *s = arg;

    if (s->fail_rows)
        return -EIO;
    assert_true(start + n <= CAP);
    memcpy(&s->rows[start], rows, n * sizeof(*rows));
    return 0;
}

static int m_write_file(void *arg, uint32_t id, const struct opd_unwind_file *f)
{
    struct mem_sink *s = arg;

    assert_true(id < FILES);
    s->files[id] = *f;
    return 0;
}

/* Builds a synthetic table of n rows whose rows carry a tag in cfa_off. */
struct fake {
    uint32_t n;
    int32_t tag;
    int calls;
    int fail;
};

static int fake_build(void *arg, struct opd_unwind_table *out)
{
    struct fake *f = arg;

    f->calls++;
    if (f->fail)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->rows = opd_calloc(f->n, sizeof(*out->rows));
    if (!out->rows)
        return -ENOMEM;
    for (uint32_t i = 0; i < f->n; i++) {
        out->rows[i].pc = i * 4;
        out->rows[i].cfa_type = OPD_CFA_REG;
        out->rows[i].cfa_off = f->tag;
    }
    out->nrows = f->n;
    out->pc_base = 0x1000u * (uint32_t)f->tag;
    out->pc_end = out->pc_base + f->n * 4;
    return 0;
}

static struct opd_unwind_key key_of(int i)
{
    struct opd_unwind_key k;
    uint8_t id[4] = {(uint8_t)i, 1, 2, 3};

    opd_unwind_key_build_id(&k, id, sizeof(id));
    return k;
}

/* Checks that the slot's extent holds that file's rows. */
static void assert_loaded(const struct mem_sink *s, const struct opd_unwind_cache_ref *r,
                          int32_t tag, uint32_t n)
{
    const struct opd_unwind_file *f = &s->files[r->file_id];

    assert_int_equal(f->count, n);
    assert_int_equal(f->gen, r->gen);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(s->rows[f->start + i].cfa_off, tag);
}

static void test_lru_eviction(void **state)
{
    struct mem_sink s;
    struct opd_unwind_sink sink = {m_write_rows, m_write_file, &s};
    struct opd_unwind_cache_config cfg = {.capacity_rows = CAP, .max_files = FILES};
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_unwind_cache *c;
    struct opd_unwind_cache_ref r1, r2, r3, r4;
    struct opd_unwind_cache_stats st;
    struct fake f1 = {40, 1, 0, 0}, f2 = {40, 2, 0, 0}, f3 = {40, 3, 0, 0};
    struct opd_unwind_key k1 = key_of(1), k2 = key_of(2), k3 = key_of(3);

    (void)state;
    memset(&s, 0, sizeof(s));
    c = opd_unwind_cache_create(&cfg, &sink, tel, "receiver/profiling");
    assert_non_null(c);
    assert_int_equal(opd_unwind_cache_get(c, &k1, fake_build, &f1, &r1), 0);
    assert_int_equal(opd_unwind_cache_get(c, &k2, fake_build, &f2, &r2), 0);
    assert_int_equal(r1.nrows, 40);
    assert_int_equal(r1.pc_base, 0x1000);
    assert_loaded(&s, &r1, 1, 40);
    assert_loaded(&s, &r2, 2, 40);
    /* A hit does not rebuild and makes file 1 the most recently used. */
    assert_int_equal(opd_unwind_cache_get(c, &k1, fake_build, &f1, &r4), 0);
    assert_int_equal(f1.calls, 1);
    assert_int_equal(r4.file_id, r1.file_id);
    /* File 3 does not fit: file 2 (least recently used) is evicted. */
    assert_int_equal(opd_unwind_cache_get(c, &k3, fake_build, &f3, &r3), 0);
    assert_loaded(&s, &r3, 3, 40);
    assert_loaded(&s, &r1, 1, 40);
    /* The evicted file's slot (reused by file 3 here) no longer matches its generation,
     * so ranges still naming it fall back to the frame pointer. */
    assert_int_not_equal(s.files[r2.file_id].gen, r2.gen);
    opd_unwind_cache_get_stats(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.files_loaded, 2);
    assert_int_equal(st.rows_used, 80);
    assert_int_equal(opd_metric_get(opd_telemetry_find(tel, "otelprofd_unwind_table_evictions",
                                                       "receiver=\"receiver/profiling\"")),
                     1);
    assert_int_equal(opd_metric_get(opd_telemetry_find(tel, "otelprofd_unwind_table_bytes",
                                                       "receiver=\"receiver/profiling\"")),
                     80 * 16);
    /* File 2 comes back in a new generation. */
    assert_int_equal(opd_unwind_cache_get(c, &k2, fake_build, &f2, &r4), 0);
    assert_int_equal(f2.calls, 2);
    assert_loaded(&s, &r4, 2, 40);
    assert_loaded(&s, &r3, 3, 40);
    opd_unwind_cache_destroy(c);
    opd_telemetry_destroy(tel);
}

static void test_failures_and_limits(void **state)
{
    struct mem_sink s;
    struct opd_unwind_sink sink = {m_write_rows, m_write_file, &s};
    struct opd_unwind_cache_config cfg = {.capacity_rows = CAP, .max_files = FILES};
    struct opd_unwind_cache *c;
    struct opd_unwind_cache_ref r;
    struct opd_unwind_cache_stats st;
    struct fake none = {10, 1, 0, 1}, huge = {CAP + 1, 2, 0, 0}, ok = {CAP, 3, 0, 0};
    struct opd_unwind_key k;

    (void)state;
    memset(&s, 0, sizeof(s));
    c = opd_unwind_cache_create(&cfg, &sink, NULL, NULL);
    assert_non_null(c);
    /* No CFI: remembered with zero rows, never rebuilt. */
    k = key_of(1);
    assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &none, &r), 0);
    assert_int_equal(r.nrows, 0);
    assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &none, &r), 0);
    assert_int_equal(none.calls, 1);
    /* Larger than the arena. */
    k = key_of(2);
    assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &huge, &r), 0);
    assert_int_equal(r.nrows, 0);
    /* Exactly the arena. */
    k = key_of(3);
    assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &ok, &r), 0);
    assert_int_equal(r.nrows, CAP);
    /* A sink error leaves nothing behind. */
    s.fail_rows = 1;
    k = key_of(4);
    ok.tag = 4;
    assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &ok, &r), -EIO);
    s.fail_rows = 0;
    opd_unwind_cache_get_stats(c, &st);
    assert_int_equal(st.builds_failed, 2);
    assert_int_equal(st.too_big, 1);
    assert_int_equal(st.sink_errors, 1);
    /* The failed load evicted the full-arena file to make room, nothing else. */
    assert_int_equal(st.rows_used, 0);
    /* Five distinct files through four slots: the oldest slot is recycled. */
    for (int i = 10; i < 15; i++) {
        struct fake f = {5, i, 0, 0};
        k = key_of(i);
        assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &f, &r), 0);
        assert_loaded(&s, &r, i, 5);
    }
    opd_unwind_cache_get_stats(c, &st);
    assert_int_equal(st.files_loaded, 4);
    assert_int_equal(opd_unwind_cache_touch(c, &k), 0);
    k = key_of(10);
    assert_int_equal(opd_unwind_cache_touch(c, &k), -ENOENT);
    opd_unwind_cache_destroy(c);

    /* Bad configuration and allocation failures. */
    cfg.capacity_rows = 0;
    assert_null(opd_unwind_cache_create(&cfg, &sink, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    cfg.capacity_rows = CAP;
    for (long n = 0; n < 8; n++) {
        opd_mem_fail_countdown = n;
        c = opd_unwind_cache_create(&cfg, &sink, NULL, NULL);
        opd_mem_fail_countdown = -1;
        if (c) {
            opd_unwind_cache_destroy(c);
            break;
        }
        assert_int_equal(errno, ENOMEM);
    }
}

/* Random loads and reuse: every loaded slot always points at its own rows, and the
 * extents of loaded files never overlap. */
static void test_random_churn(void **state)
{
    struct mem_sink s;
    struct opd_unwind_sink sink = {m_write_rows, m_write_file, &s};
    struct opd_unwind_cache_config cfg = {.capacity_rows = CAP, .max_files = FILES};
    struct opd_unwind_cache *c;
    unsigned seed = 7;

    (void)state;
    memset(&s, 0, sizeof(s));
    c = opd_unwind_cache_create(&cfg, &sink, NULL, NULL);
    for (int it = 0; it < 2000; it++) {
        struct opd_unwind_cache_ref r;
        int id = (int)(rand_r(&seed) % 12);
        struct fake f = {1 + (uint32_t)(id * 7) % 45, id + 1, 0, 0};
        struct opd_unwind_key k = key_of(id);
        uint8_t used[CAP] = {0};

        assert_int_equal(opd_unwind_cache_get(c, &k, fake_build, &f, &r), 0);
        assert_loaded(&s, &r, id + 1, f.n);
        for (int i = 0; i < FILES; i++) {
            for (uint32_t j = 0; j < s.files[i].count; j++) {
                assert_false(used[s.files[i].start + j]);
                used[s.files[i].start + j] = 1;
            }
        }
    }
    opd_unwind_cache_destroy(c);
}

/* ---- ranges ---- */

static void test_range_keys(void **state)
{
    struct opd_unwind_range_key k[130];
    unsigned seed = 3;
    int n;

    (void)state;
    n = opd_unwind_range_keys(42, 0x1000, 0x3000, k, 130);
    assert_int_equal(n, 2);
    assert_int_equal(k[0].prefixlen, 32 + 52);
    assert_int_equal(be32toh(k[0].pid_be), 42);
    assert_int_equal(be64toh(k[0].addr_be), 0x1000);
    assert_int_equal(be64toh(k[1].addr_be), 0x2000);
    assert_int_equal(opd_unwind_range_keys(1, 5, 5, k, 130), -EINVAL);
    assert_int_equal(opd_unwind_range_keys(1, 0x1000, 0x7000, k, 1), -E2BIG);
    /* Random ranges: blocks are aligned, contiguous and cover exactly [s, e). */
    for (int it = 0; it < 10000; it++) {
        uint64_t s = ((uint64_t)rand_r(&seed) << 20) ^ (uint64_t)rand_r(&seed);
        uint64_t e = s + 1 + ((uint64_t)rand_r(&seed) << (rand_r(&seed) % 20));
        uint64_t at = s;

        n = opd_unwind_range_keys(7, s, e, k, 130);
        assert_true(n > 0 && n <= 128);
        for (int i = 0; i < n; i++) {
            unsigned bits = k[i].prefixlen - 32;
            uint64_t size = 1ull << (64 - bits);
            uint64_t a = be64toh(k[i].addr_be);

            assert_int_equal(a, at);
            assert_int_equal(a & (size - 1), 0);
            at += size;
        }
        assert_int_equal(at, e);
    }
}

/* A range sink that keeps keys in a list, and a lookup that does what the LPM trie does. */
struct kv {
    struct opd_unwind_range_key k;
    struct opd_unwind_range v;
};

struct range_mem {
    struct kv *v;
    size_t n, cap;
};

static int r_update(void *arg, const struct opd_unwind_range_key *k,
                    const struct opd_unwind_range *v)
{
    struct range_mem *m = arg;
    struct kv *slot;

    for (size_t i = 0; i < m->n; i++) {
        if (!memcmp(&m->v[i].k, k, sizeof(*k))) {
            m->v[i].v = *v;
            return 0;
        }
    }
    slot = OPD_VEC_PUSH_SLOT(m->v, m->n, m->cap);
    if (!slot)
        return -ENOMEM;
    slot->k = *k;
    slot->v = *v;
    return 0;
}

static int r_remove(void *arg, const struct opd_unwind_range_key *k)
{
    struct range_mem *m = arg;

    for (size_t i = 0; i < m->n; i++) {
        if (!memcmp(&m->v[i].k, k, sizeof(*k))) {
            m->v[i] = m->v[--m->n];
            return 0;
        }
    }
    return -ENOENT;
}

static const struct opd_unwind_range *r_lookup(const struct range_mem *m, uint32_t pid,
                                               uint64_t addr)
{
    const struct opd_unwind_range *best = NULL;
    uint32_t best_len = 0;

    for (size_t i = 0; i < m->n; i++) {
        const struct opd_unwind_range_key *k = &m->v[i].k;
        unsigned bits = k->prefixlen - 32;
        uint64_t mask = bits >= 64 ? ~0ull : ~((1ull << (64 - bits)) - 1);

        if (be32toh(k->pid_be) == pid && (addr & mask) == be64toh(k->addr_be) &&
            k->prefixlen > best_len) {
            best = &m->v[i].v;
            best_len = k->prefixlen;
        }
    }
    return best;
}

/* Big enough for every table this process maps (libc, cmocka, libelf, ...). */
#define BIG_CAP (1u << 20)

struct big_sink {
    struct opd_unwind_row *rows;
    struct opd_unwind_file files[64];
};

static int b_write_rows(void *arg, uint32_t start, const struct opd_unwind_row *rows, uint32_t n)
{
    struct big_sink *s = arg;

    memcpy(&s->rows[start], rows, n * sizeof(*rows));
    return 0;
}

static int b_write_file(void *arg, uint32_t id, const struct opd_unwind_file *f)
{
    struct big_sink *s = arg;

    s->files[id] = *f;
    return 0;
}

/* What the BPF unwinder does for one pc: range -> file -> binary search. */
static const struct opd_unwind_row *unwind_lookup(const struct range_mem *m,
                                                  const struct big_sink *s, uint32_t pid,
                                                  uint64_t pc)
{
    const struct opd_unwind_range *r = r_lookup(m, pid, pc);
    const struct opd_unwind_file *f;
    uint32_t lo = 0, hi, rel;

    if (!r || (r->flags & OPD_RANGE_FP_ONLY))
        return NULL;
    f = &s->files[r->file_id];
    if (f->gen != r->gen || !f->count)
        return NULL;
    rel = (uint32_t)(pc - r->bias);
    hi = f->count;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->rows[f->start + mid].pc <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &s->rows[f->start + lo - 1] : NULL;
}

__attribute__((noinline)) static uint64_t here(void)
{
    return (uint64_t)__builtin_return_address(0);
}

static void test_procs_self(void **state)
{
    struct big_sink s;
    struct opd_unwind_sink sink = {b_write_rows, b_write_file, &s};
    struct opd_unwind_cache_config cfg = {.capacity_rows = BIG_CAP, .max_files = 64};
    struct range_mem m = {0};
    struct opd_unwind_range_sink rs = {r_update, r_remove, &m};
    struct opd_unwind_cache *c;
    struct opd_unwind_procs *p;
    const struct opd_unwind_row *row;
    uint32_t pid = (uint32_t)getpid();
    size_t keys;

    (void)state;
    s.rows = opd_calloc(BIG_CAP, sizeof(*s.rows));
    assert_non_null(s.rows);
    memset(s.files, 0, sizeof(s.files));
    c = opd_unwind_cache_create(&cfg, &sink, NULL, NULL);
    p = opd_unwind_procs_create(c, &rs, NULL);
    assert_non_null(p);
    assert_int_equal(opd_unwind_procs_sync_proc(p, pid), 0);
    keys = opd_unwind_procs_keys(p);
    assert_int_equal(keys, m.n);
    assert_true(keys > 3);

    /* A pc in this test binary, one in libc (qsort) and one in the vDSO resolve to rows
     * that describe ordinary frames. */
    row = unwind_lookup(&m, &s, pid, here());
    assert_non_null(row);
    assert_int_equal(row->cfa_type, OPD_CFA_REG);
    row = unwind_lookup(&m, &s, pid, (uint64_t)(uintptr_t)qsort + 1);
    assert_non_null(row);
    assert_int_equal(row->cfa_type, OPD_CFA_REG);
    assert_int_equal(row->cfa_reg, 7);
    {
        const unsigned char *vdso = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
        void *sym = NULL;
        /* clock_gettime resolves into the vDSO; any covered pc in it will do. */
        for (uint64_t off = 0; off < 8192 && !sym; off += 16) {
            row = unwind_lookup(&m, &s, pid, (uint64_t)(uintptr_t)vdso + off);
            if (row && row->cfa_type == OPD_CFA_REG)
                sym = (void *)(vdso + off);
        }
        assert_non_null(sym);
    }
    /* Unchanged maps: nothing rewritten. */
    assert_int_equal(opd_unwind_procs_sync_proc(p, pid), 0);
    assert_int_equal(opd_unwind_procs_keys(p), keys);
    /* Fewer mappings: the dropped ones' keys go. */
    {
        struct opd_unwind_mapping one = {.start = 0x400000, .end = 0x401000, .path = ""};
        assert_int_equal(opd_unwind_procs_sync(p, pid, &one, 1), 0);
        assert_int_equal(opd_unwind_procs_keys(p), 1);
        assert_true(r_lookup(&m, pid, 0x400800)->flags & OPD_RANGE_FP_ONLY);
    }
    assert_int_equal(opd_unwind_procs_remove(p, pid), 0);
    assert_int_equal(m.n, 0);
    assert_int_equal(opd_unwind_procs_remove(p, pid), -ENOENT);
    assert_int_equal(opd_unwind_procs_sync_proc(p, 0x7ffffff0), -ESRCH);
    opd_unwind_procs_destroy(p);
    opd_unwind_cache_destroy(c);
    opd_free(s.rows);
    opd_free(m.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lru_eviction),     cmocka_unit_test(test_failures_and_limits),
        cmocka_unit_test(test_random_churn),     cmocka_unit_test(test_range_keys),
        cmocka_unit_test(test_procs_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
