/* Privileged: loads bpf/unwind_probe.bpf.c with libbpf (so the verifier of the running
 * kernel checks the table unwinder), publishes the unwind tables of fixture processes
 * built with -O2 -fomit-frame-pointer, samples them with perf events and checks that the
 * stacks are complete:
 *   - chain: >= 95% of samples in chain_leaf carry chain_d, chain_c, chain_b, chain_a,
 *     main as their callers, in order;
 *   - qsort_cb: >= 95% of samples in slow_compare pass through libc back to sort_once and
 *     main.
 * It also measures the per-sample cost of the table walk against a frame-pointer walk
 * (kernel bpf stats) and prints it. Exits 77 without root or BPF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/unwind/bpf_sink.h"
#include "collector/receivers/profiling/unwind/cache.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"
#include "collector/receivers/profiling/unwind/procs.h"
#include "unwind_probe.skel.h"
#include "walk.h"

#define PROBE_FRAMES 512

/* Must match struct opd_probe_record in bpf/unwind_probe.bpf.c. */
struct probe_record {
    uint32_t n;
    uint32_t stop;
    uint64_t frames[PROBE_FRAMES];
};

static const char *fixture(const char *name)
{
    static char buf[4][4096];
    static int k;
    const char *bin = getenv("OPD_BINARY_DIR");

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/tests/data/unwind/unwind_fx_%s", bin ? bin : ".",
             name);
    return buf[k];
}

/* ---- tiny symbolizer for the fixture's own functions ---- */

struct sym {
    char name[32];
    uint64_t lo, hi; /* runtime addresses */
};

struct syms {
    struct sym s[64];
    int n;
    uint64_t libc_lo, libc_hi; /* libc's executable mapping */
};

/* Waits (at most 10 s: a busy host) until pid has exec'd the fixture and the dynamic
 * loader has mapped libc. */
static void wait_mapped(pid_t pid)
{
    char maps[64], line[4400];

    snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(maps, "r");
        int fx = 0, libc = 0;

        while (f && fgets(line, sizeof(line), f)) {
            fx |= strstr(line, "unwind_fx_") != NULL;
            libc |= strstr(line, "/libc.so") != NULL;
        }
        if (f)
            fclose(f);
        if (fx && libc)
            return;
        usleep(10000);
    }
}

static void load_syms(pid_t pid, const char *path, struct syms *out)
{
    char maps[64], line[4400];
    uint64_t bias = 0;
    int have_bias = 0, fd;
    FILE *f;
    Elf *e;
    Elf_Scn *scn = NULL;

    memset(out, 0, sizeof(*out));
    snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
    f = fopen(maps, "r");
    assert_non_null(f);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    while (fgets(line, sizeof(line), f)) {
        unsigned long long s, en, off;
        char perms[8];
        int pos = 0;

        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &s, &en, perms, &off, &pos) < 4 ||
            perms[2] != 'x')
            continue;
        if (strstr(line, "/libc.so")) {
            out->libc_lo = s;
            out->libc_hi = en;
        } else if (strstr(line, "unwind_fx_") && !have_bias) {
            assert_int_equal(opd_elf_load_bias(fd, s, off, &bias), 0);
            have_bias = 1;
        }
    }
    fclose(f);
    assert_true(have_bias);
    assert_true(elf_version(EV_CURRENT) != EV_NONE);
    e = elf_begin(fd, ELF_C_READ, NULL);
    assert_non_null(e);
    while ((scn = elf_nextscn(e, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;

        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
            continue;
        d = elf_getdata(scn, NULL);
        for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize && out->n < 64; i++) {
            GElf_Sym sy;
            const char *nm;

            if (!gelf_getsym(d, (int)i, &sy) || GELF_ST_TYPE(sy.st_info) != STT_FUNC ||
                !sy.st_value)
                continue;
            nm = elf_strptr(e, sh.sh_link, sy.st_name);
            if (!nm)
                continue;
            snprintf(out->s[out->n].name, sizeof(out->s[0].name), "%s", nm);
            out->s[out->n].lo = sy.st_value + bias;
            out->s[out->n].hi = sy.st_value + sy.st_size + bias;
            out->n++;
        }
    }
    elf_end(e);
    close(fd);
}

/* Name of the function holding addr ("?" when none, "libc" inside libc). Return
 * addresses are looked up at addr - 1. */
static const char *sym_of(const struct syms *s, uint64_t addr, int is_ret)
{
    uint64_t a = (addr & ~OPD_FRAME_VIA_MASK) - (is_ret ? 1 : 0);

    for (int i = 0; i < s->n; i++)
        if (a >= s->s[i].lo && a < s->s[i].hi)
            return s->s[i].name;
    if (a >= s->libc_lo && a < s->libc_hi)
        return "libc";
    return "?";
}

/* ---- sampling harness ---- */

/* Loaded once (verification takes seconds) and shared by every test. */
static struct unwind_probe_bpf *g_skel;

struct run {
    struct unwind_probe_bpf *skel;
    struct opd_unwind_bpf_maps maps;
    struct opd_unwind_cache *cache;
    struct opd_unwind_procs *procs;
    struct probe_record *recs;
    size_t nrecs, cap;
    uint64_t run_ns, run_cnt; /* kernel bpf stats of the program during the run */
    int lazy;              /* publish ranges only when the unwinder asks (unknown pid) */
    size_t before_drain;   /* records dropped because they came before the drain */
    int drained;           /* pids synced by the drain */
};

static void prog_stats(struct bpf_program *prog, uint64_t *ns, uint64_t *cnt)
{
    struct bpf_prog_info info;
    uint32_t len = sizeof(info);

    memset(&info, 0, sizeof(info));
    *ns = *cnt = 0;
    if (!bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
        *ns = info.run_time_ns;
        *cnt = info.run_cnt;
    }
}

static int on_record(void *ctx, void *data, size_t len)
{
    struct run *r = ctx;
    struct probe_record *slot;

    if (len < sizeof(struct probe_record))
        return 0;
    slot = OPD_VEC_PUSH_SLOT(r->recs, r->nrecs, r->cap);
    if (slot)
        memcpy(slot, data, sizeof(*slot));
    return 0;
}

static int perf_open(pid_t pid, unsigned freq)
{
    struct perf_event_attr a;

    memset(&a, 0, sizeof(a));
    a.size = sizeof(a);
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.freq = 1;
    a.sample_freq = freq;
    return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static pid_t spawn(const char *path, const char *seconds)
{
    pid_t pid = fork();

    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execl(path, path, seconds, (char *)NULL);
        _exit(127);
    }
    return pid;
}

enum which { PROBE_CFI, PROBE_SEAM, PROBE_FP };

/* Runs fixture fx for `seconds` while the chosen program samples it; fills r->recs. */
static void sample(struct run *r, const char *fx, enum which which, double seconds,
                   struct syms *syms)
{
    struct bpf_program *prog;
    struct opd_unwind_sink tsink;
    struct opd_unwind_range_sink rsink;
    struct opd_unwind_cache_config cfg = {.capacity_rows = 1u << 20, .max_files = 256};
    struct ring_buffer *rb;
    struct bpf_link *link;
    char secs[32];
    struct timespec t0, t;
    uint64_t ns0, cnt0, ns1, cnt1;
    pid_t pid;
    int pfd, status, stats_fd;

    snprintf(secs, sizeof(secs), "%.1f", seconds + 60); /* killed when done */
    pid = spawn(fixture(fx), secs);
    assert_true(pid > 0);
    wait_mapped(pid); /* let exec and the dynamic loader finish mapping */
    load_syms(pid, fixture(fx), syms);

    r->skel = g_skel;
    r->skel->bss->opd_target = (uint32_t)pid;
    /* Stats are per fixture run. */
    {
        uint64_t zeros[1024] = {0};
        for (uint32_t i = 0; i < OPD_UNW__MAX; i++)
            bpf_map_update_elem(bpf_map__fd(r->skel->maps.opd_unwind_stats), &i, zeros, 0);
    }
    r->maps.rows_fd = bpf_map__fd(r->skel->maps.opd_unwind_rows);
    r->maps.files_fd = bpf_map__fd(r->skel->maps.opd_unwind_files);
    r->maps.ranges_fd = bpf_map__fd(r->skel->maps.opd_unwind_ranges);
    opd_unwind_bpf_sinks(&r->maps, &tsink, &rsink);
    r->cache = opd_unwind_cache_create(&cfg, &tsink, NULL, "test");
    assert_non_null(r->cache);
    r->procs = opd_unwind_procs_create(r->cache, &rsink, NULL);
    assert_non_null(r->procs);
    if (!r->lazy)
        assert_int_equal(opd_unwind_procs_sync_proc(r->procs, (uint32_t)pid), 0);

    /* PROBE_SEAM: the table walk at the sampler's default budget. */
    r->skel->data->opd_probe_max = which == PROBE_SEAM ? 127 : PROBE_FRAMES;
    prog = which == PROBE_FP ? r->skel->progs.opd_probe_fp : r->skel->progs.opd_probe_cfi;
    pfd = perf_open(pid, 997);
    if (pfd < 0)
        fprintf(stderr, "perf_event_open(pid %d): %s\n", pid, strerror(errno));
    assert_true(pfd >= 0);
    stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    prog_stats(prog, &ns0, &cnt0);
    link = bpf_program__attach_perf_event(prog, pfd);
    assert_non_null(link);
    rb = ring_buffer__new(bpf_map__fd(r->skel->maps.opd_probe_out), on_record, r, NULL);
    assert_non_null(rb);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        ring_buffer__poll(rb, 100);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (r->lazy && !r->drained &&
            (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > 0.5) {
            /* What the receiver does each interval: sync the pids BPF asked about. */
            r->drained = opd_unwind_bpf_drain_unknown(
                bpf_map__fd(r->skel->maps.opd_unwind_unknown), r->procs, 64);
            ring_buffer__consume(rb);
            r->before_drain = r->nrecs;
            r->nrecs = 0;
        }
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    ring_buffer__consume(rb);
    bpf_link__destroy(link);
    prog_stats(prog, &ns1, &cnt1);
    r->run_ns = ns1 - ns0;
    r->run_cnt = cnt1 - cnt0;
    if (stats_fd >= 0)
        close(stats_fd);
    close(pfd);
    ring_buffer__free(rb);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static void run_fini(struct run *r)
{
    opd_unwind_procs_destroy(r->procs);
    opd_unwind_cache_destroy(r->cache);
    opd_free(r->recs);
    memset(r, 0, sizeof(*r));
}

static uint64_t stat_sum(struct run *r, uint32_t idx)
{
    uint64_t v[OPD_UNW__MAX];

    if (opd_unwind_bpf_read_stats(bpf_map__fd(r->skel->maps.opd_unwind_stats), v) ||
        idx >= OPD_UNW__MAX)
        return 0;
    return v[idx];
}

/* Prints an incomplete stack ("incomplete <what>stack"): its stop reason and up to max
 * symbolized frames. */
static void print_incomplete(const char *what, const struct probe_record *rec,
                             const struct syms *s, uint32_t max)
{
    fprintf(stderr, "incomplete %sstack (stop %u):", what, rec->stop);
    for (uint32_t k = 0; k < rec->n && k < max; k++)
        fprintf(stderr, " %s", sym_of(s, rec->frames[k], k > 0));
    fprintf(stderr, "\n");
}

/* Fraction of records whose frames 0..n-1 symbolize to want[0..n) (frame 0 exact). */
static double chain_ratio(const struct run *r, const struct syms *s, const char **want, int n,
                          size_t *base_out)
{
    size_t base = 0, good = 0;

    for (size_t i = 0; i < r->nrecs; i++) {
        const struct probe_record *rec = &r->recs[i];
        int ok = 1;

        if (rec->n == 0 || strcmp(sym_of(s, rec->frames[0], 0), want[0]))
            continue;
        base++;
        for (int k = 1; k < n && ok; k++)
            ok = (int)rec->n > k && !strcmp(sym_of(s, rec->frames[k], 1), want[k]);
        good += ok;
        if (!ok && base - good <= 3) {
            print_incomplete("", rec, s, 10);
        }
    }
    *base_out = base;
    return base ? (double)good / (double)base : 0;
}

/* Fraction of the records starting in leaf whose first n frames say how the walk found
 * them: frame 0 (the interrupted pc) no tag, every later one a table row. */
static double via_table_ratio(const struct run *r, const struct syms *s, const char *leaf, int n)
{
    size_t base = 0, good = 0;

    for (size_t i = 0; i < r->nrecs; i++) {
        const struct probe_record *rec = &r->recs[i];
        int ok;

        if ((int)rec->n < n || strcmp(sym_of(s, rec->frames[0], 0), leaf))
            continue;
        base++;
        ok = (rec->frames[0] & OPD_FRAME_VIA_MASK) == 0;
        for (int k = 1; k < n && ok; k++)
            ok = (rec->frames[k] & OPD_FRAME_VIA_MASK) == OPD_FRAME_VIA_TABLE;
        good += ok;
    }
    return base ? (double)good / (double)base : 0;
}

static void test_chain_complete(void **state)
{
    static const char *want[] = {"chain_leaf", "chain_d", "chain_c", "chain_b", "chain_a",
                                 "main"};
    struct run r;
    struct syms s;
    size_t base;
    double ratio;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "chain", PROBE_CFI, 2.0, &s);
    ratio = chain_ratio(&r, &s, want, 6, &base);
    fprintf(stderr,
            "chain (tables): %zu samples, %zu in chain_leaf, %.1f%% complete; frames cfi %lu "
            "fp %lu; outermost %lu fp_end %lu truncated %lu read_err %lu no_progress %lu "
            "rule_err %lu no_range %lu; %.0f ns/sample\n",
            r.nrecs, base, ratio * 100, (unsigned long)stat_sum(&r, OPD_UNW_FRAMES_CFI),
            (unsigned long)stat_sum(&r, OPD_UNW_FRAMES_FP),
            (unsigned long)stat_sum(&r, OPD_UNW_STOP_OUTERMOST),
            (unsigned long)stat_sum(&r, OPD_UNW_STOP_FP_END),
            (unsigned long)stat_sum(&r, OPD_UNW_STOP_TRUNCATED),
            (unsigned long)stat_sum(&r, OPD_UNW_ERR_READ),
            (unsigned long)stat_sum(&r, OPD_UNW_ERR_NO_PROGRESS),
            (unsigned long)stat_sum(&r, OPD_UNW_ERR_RULE),
            (unsigned long)stat_sum(&r, OPD_UNW_NO_RANGE),
            r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0);
    assert_true(base >= 200);
    assert_true(ratio >= 0.95);
    /* Each frame records how it was found: the chain's callers through table rows. */
    ratio = via_table_ratio(&r, &s, "chain_leaf", 6);
    fprintf(stderr, "chain (tables): %.1f%% of the chains tagged as found through tables\n",
            ratio * 100);
    assert_true(ratio >= 0.95);
    /* The walk reaches _start, whose return address is undefined: a clean stop. */
    assert_true(stat_sum(&r, OPD_UNW_STOP_OUTERMOST) >= r.nrecs * 9 / 10);
    run_fini(&r);

    /* The same fixture through the seam adapter (127-frame caller buffer). */
    memset(&r, 0, sizeof(r));
    sample(&r, "chain", PROBE_SEAM, 1.0, &s);
    ratio = chain_ratio(&r, &s, want, 6, &base);
    fprintf(stderr, "chain (seam): %zu in chain_leaf, %.1f%% complete, %.0f ns/sample\n", base,
            ratio * 100, r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0);
    assert_true(base >= 100);
    assert_true(ratio >= 0.95);
    run_fini(&r);

    /* A frame-pointer walk cannot recover this chain: shown, not required. */
    memset(&r, 0, sizeof(r));
    sample(&r, "chain", PROBE_FP, 1.0, &s);
    ratio = chain_ratio(&r, &s, want, 6, &base);
    fprintf(stderr, "chain (frame pointers): %zu in chain_leaf, %.1f%% complete, %.0f ns/sample\n",
            base, ratio * 100, r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0);
    run_fini(&r);
}

static void test_through_libc(void **state)
{
    struct run r;
    struct syms s;
    size_t base = 0, good = 0;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "qsort_cb", PROBE_CFI, 2.0, &s);
    for (size_t i = 0; i < r.nrecs; i++) {
        const struct probe_record *rec = &r.recs[i];
        int libc = 0, sort = 0, main_ = 0;

        if (!rec->n || strcmp(sym_of(&s, rec->frames[0], 0), "slow_compare"))
            continue;
        base++;
        for (uint32_t k = 1; k < rec->n && k < PROBE_FRAMES; k++) {
            const char *f = sym_of(&s, rec->frames[k], 1);
            if (!strcmp(f, "libc") && !sort)
                libc = 1;
            else if (strstr(f, "sort_once") && libc) /* may be a .constprop clone */
                sort = 1;
            else if (!strcmp(f, "main") && sort)
                main_ = 1;
        }
        good += libc && sort && main_;
        if (!(libc && sort && main_) && base - good <= 3) {
            print_incomplete("", rec, &s, 16);
        }
    }
    fprintf(stderr,
            "qsort_cb: %zu samples, %zu in slow_compare, %.1f%% through libc to main, "
            "%.0f ns/sample\n",
            r.nrecs, base, base ? 100.0 * (double)good / (double)base : 0,
            r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0);
    assert_true(base >= 200);
    assert_true(good >= base * 95 / 100);
    run_fini(&r);
}

/* 300 recursive frames: the walk goes far beyond 127 frames and still reaches main. */
static void test_deep_budget(void **state)
{
    struct run r;
    struct syms s;
    size_t base = 0, good = 0;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "deep", PROBE_CFI, 1.5, &s);
    for (size_t i = 0; i < r.nrecs; i++) {
        const struct probe_record *rec = &r.recs[i];
        uint32_t rec_frames = 0, k;

        if (!rec->n || strcmp(sym_of(&s, rec->frames[0], 0), "deep_spin"))
            continue;
        base++;
        for (k = 1; k < rec->n && k < PROBE_FRAMES; k++) {
            if (!strcmp(sym_of(&s, rec->frames[k], 1), "deep_recurse"))
                rec_frames++;
            else
                break;
        }
        good += rec_frames == 301 && k < rec->n && !strcmp(sym_of(&s, rec->frames[k], 1), "main");
    }
    fprintf(stderr, "deep: %zu samples in deep_spin, %.1f%% with all 301 recursion frames and "
                    "main; %.0f ns/sample\n",
            base, base ? 100.0 * (double)good / (double)base : 0,
            r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0);
    assert_true(base >= 100);
    assert_true(good >= base * 95 / 100);
    run_fini(&r);
}

/* Samples inside a signal handler unwind through the signal frame into the interrupted
 * loop and main. */
static void test_signal_frame(void **state)
{
    struct run r;
    struct syms s;
    size_t base = 0, good = 0;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "sigspin", PROBE_CFI, 2.5, &s);
    for (size_t i = 0; i < r.nrecs; i++) {
        const struct probe_record *rec = &r.recs[i];
        int step = 0;

        if (!rec->n || strcmp(sym_of(&s, rec->frames[0], 0), "handler_work"))
            continue;
        base++;
        /* handler_work <- on_prof <- libc (__restore_rt) <- busy_loop <- main */
        for (uint32_t k = 1; k < rec->n && k < PROBE_FRAMES && step < 4; k++) {
            const char *f = sym_of(&s, rec->frames[k], 1);
            static const char *want[] = {"on_prof", "libc", "busy_loop", "main"};

            if (!strcmp(f, want[step]))
                step++;
        }
        good += step == 4;
        if (step != 4 && base - good <= 3) {
            print_incomplete("signal ", rec, &s, 12);
        }
    }
    fprintf(stderr, "sigspin: %zu samples in handler_work, %.1f%% through the signal frame to "
                    "main\n",
            base, base ? 100.0 * (double)good / (double)base : 0);
    assert_true(base >= 50); /* the handler runs on ITIMER_PROF: fewer samples */
    assert_true(good >= base * 95 / 100);
    run_fini(&r);
}

/* Per-sample cost of the walk alone (nothing sent to user space), tables vs frame
 * pointers, from the kernel's bpf run-time stats. Printed for bench/RESULTS.unwind.md;
 * the only assertion is that both walks ran. */
static void test_cost(void **state)
{
    static const char *fx[] = {"chain", "qsort_cb", "deep"};
    struct run r;
    struct syms s;

    (void)state;
    g_skel->data->opd_emit = 0;
    for (int i = 0; i < 3; i++) {
        double cfi, fp, frames;

        memset(&r, 0, sizeof(r));
        sample(&r, fx[i], PROBE_CFI, 1.5, &s);
        cfi = r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0;
        frames = stat_sum(&r, OPD_UNW_WALKS)
                     ? (double)(stat_sum(&r, OPD_UNW_FRAMES_CFI) +
                                stat_sum(&r, OPD_UNW_FRAMES_FP)) /
                           (double)stat_sum(&r, OPD_UNW_WALKS)
                     : 0;
        assert_true(r.run_cnt > 0);
        run_fini(&r);
        memset(&r, 0, sizeof(r));
        sample(&r, fx[i], PROBE_FP, 1.5, &s);
        fp = r.run_cnt ? (double)r.run_ns / (double)r.run_cnt : 0;
        assert_true(r.run_cnt > 0);
        run_fini(&r);
        fprintf(stderr, "cost %-9s tables %6.0f ns/sample (%.1f frames, %.0f ns/frame), "
                        "frame pointers %6.0f ns/sample\n",
                fx[i], cfi, frames + 1, frames > 0 ? cfi / (frames + 1) : 0, fp);
    }
    g_skel->data->opd_emit = 1;
}

/* Runs the chain fixture for secs and returns its iteration count. mode 0: alone;
 * 1: sampled at 997 Hz by the table unwinder (stacks sent to user space and consumed);
 * 2: under `perf record -F 997 --call-graph dwarf`. Returns 0 when the mode cannot run. */
static unsigned long run_iters(int mode, double secs)
{
    char arg[32], out[256], perf_data[] = "/tmp/opd-unwind-perf-XXXXXX";
    struct opd_unwind_sink tsink;
    struct opd_unwind_range_sink rsink;
    struct opd_unwind_cache_config cfg = {.capacity_rows = 1u << 20, .max_files = 256};
    struct opd_unwind_cache *cache = NULL;
    struct opd_unwind_procs *procs = NULL;
    struct opd_unwind_bpf_maps maps;
    struct ring_buffer *rb = NULL;
    struct bpf_link *link = NULL;
    struct run r;
    unsigned long iters = 0;
    int fds[2], pfd = -1, status, tmp;
    ssize_t n;
    pid_t pid;

    memset(&r, 0, sizeof(r));
    snprintf(arg, sizeof(arg), "%.1f", secs);
    if (mode == 2) {
        tmp = mkstemp(perf_data);
        if (tmp < 0)
            return 0;
        close(tmp);
    }
    if (pipe(fds))
        return 0;
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        dup2(fds[1], 1);
        dup2(devnull, 2);
        close(fds[0]);
        if (mode == 2)
            execlp("perf", "perf", "record", "-q", "-F", "997", "--call-graph", "dwarf", "-o",
                   perf_data, "--", fixture("chain"), arg, (char *)NULL);
        else
            execl(fixture("chain"), fixture("chain"), arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if (mode == 1) {
        usleep(100000);
        g_skel->bss->opd_target = (uint32_t)pid;
        maps.rows_fd = bpf_map__fd(g_skel->maps.opd_unwind_rows);
        maps.files_fd = bpf_map__fd(g_skel->maps.opd_unwind_files);
        maps.ranges_fd = bpf_map__fd(g_skel->maps.opd_unwind_ranges);
        opd_unwind_bpf_sinks(&maps, &tsink, &rsink);
        cache = opd_unwind_cache_create(&cfg, &tsink, NULL, "bench");
        procs = cache ? opd_unwind_procs_create(cache, &rsink, NULL) : NULL;
        if (procs && !opd_unwind_procs_sync_proc(procs, (uint32_t)pid)) {
            pfd = perf_open(pid, 997);
            if (pfd >= 0)
                link = bpf_program__attach_perf_event(g_skel->progs.opd_probe_cfi, pfd);
            rb = ring_buffer__new(bpf_map__fd(g_skel->maps.opd_probe_out), on_record, &r, NULL);
        }
        while (rb && waitpid(pid, &status, WNOHANG) == 0) {
            ring_buffer__poll(rb, 100);
            r.nrecs = 0; /* consumed and dropped, as a receiver would aggregate them */
        }
    }
    n = read(fds[0], out, sizeof(out) - 1);
    if (n > 0) {
        out[n] = '\0';
        iters = strtoul(out, NULL, 10);
    }
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        iters = 0;
    bpf_link__destroy(link);
    if (pfd >= 0)
        close(pfd);
    ring_buffer__free(rb);
    opd_unwind_procs_destroy(procs);
    opd_unwind_cache_destroy(cache);
    opd_free(r.recs);
    if (mode == 2)
        unlink(perf_data);
    return iters;
}

/* Workload slowdown of the table unwinder vs perf's DWARF stack copying, same frequency,
 * same run, best of three 3-second runs each (the build machine is shared, so single runs
 * are noisy). Opt-in with OPD_UNWIND_BENCH=1; prints the numbers recorded in
 * bench/RESULTS.unwind.md and asserts only that the workload ran. */
static void test_slowdown(void **state)
{
    unsigned long best[3] = {0, 0, 0};
    double base;

    (void)state;
    if (!getenv("OPD_UNWIND_BENCH")) {
        fprintf(stderr, "slowdown benchmark skipped (set OPD_UNWIND_BENCH=1)\n");
        skip();
    }
    for (int round = 0; round < 3; round++) {
        for (int mode = 0; mode < 3; mode++) {
            unsigned long it = run_iters(mode, 3.0);
            if (it > best[mode])
                best[mode] = it;
        }
    }
    assert_true(best[0] > 0 && best[1] > 0);
    base = (double)best[0];
    fprintf(stderr,
            "slowdown (chain, best of 3 x 3 s, 997 Hz): baseline %lu iterations; tables %lu "
            "(%.1f%% slower); perf --call-graph dwarf %lu (%s%.1f%% slower)\n",
            best[0], best[1], 100.0 * (1 - (double)best[1] / base), best[2],
            best[2] ? "" : "not run, ", best[2] ? 100.0 * (1 - (double)best[2] / base) : 0);
}

/* Samples taken while the thread is inside read(2): user registers come from the task's
 * saved pt_regs, the pc follows `syscall` and is looked up as pc - 1. */
static void test_in_syscall(void **state)
{
    struct run r;
    struct syms s;
    size_t base = 0, good = 0;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "sysloop", PROBE_CFI, 1.5, &s);
    for (size_t i = 0; i < r.nrecs; i++) {
        const struct probe_record *rec = &r.recs[i];

        if (rec->n < 1 || strcmp(sym_of(&s, rec->frames[0], 0), "libc"))
            continue;
        base++;
        /* read() is a leaf in libc: its caller comes next, then main. */
        good += rec->n >= 3 && strstr(sym_of(&s, rec->frames[1], 1), "sys_loop") &&
                !strcmp(sym_of(&s, rec->frames[2], 1), "main");
        if (!(rec->n >= 3 && strstr(sym_of(&s, rec->frames[1], 1), "sys_loop")) &&
            base - good <= 3) {
            print_incomplete("syscall ", rec, &s, 8);
        }
    }
    fprintf(stderr, "sysloop: %zu samples, %zu in libc (mostly inside read), %.1f%% with "
                    "sys_loop and main\n",
            r.nrecs, base, base ? 100.0 * (double)good / (double)base : 0);
    assert_true(base >= 100);
    assert_true(good >= base * 95 / 100);
    run_fini(&r);
}

/* Samples in a leaf called from a GCC DRAP frame (CFA = *(rbp - 8)): the DEREF rule is
 * evaluated in the kernel. */
static void test_drap_frame(void **state)
{
    static const char *want[] = {"drap_leaf", "realigned", "main"};
    struct run r;
    struct syms s;
    size_t base;
    double ratio;

    (void)state;
    memset(&r, 0, sizeof(r));
    sample(&r, "drap", PROBE_CFI, 1.5, &s);
    ratio = chain_ratio(&r, &s, want, 3, &base);
    fprintf(stderr, "drap: %zu samples in drap_leaf, %.1f%% through the realigned frame to "
                    "main\n",
            base, ratio * 100);
    assert_true(base >= 100);
    assert_true(ratio >= 0.95);
    run_fini(&r);
}

/* A process the receiver has not published: the first samples fall back to frame
 * pointers and name the pid in opd_unwind_unknown; after the drain syncs it, stacks are
 * complete. */
static void test_unknown_pid(void **state)
{
    static const char *want[] = {"chain_leaf", "chain_d", "chain_c", "chain_b", "chain_a",
                                 "main"};
    struct run r;
    struct syms s;
    size_t base;
    double ratio;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.lazy = 1;
    sample(&r, "chain", PROBE_CFI, 1.5, &s);
    ratio = chain_ratio(&r, &s, want, 6, &base);
    fprintf(stderr, "unknown pid: %zu records before the drain, %d pid synced, then %zu in "
                    "chain_leaf, %.1f%% complete\n",
            r.before_drain, r.drained, base, ratio * 100);
    assert_true(r.before_drain > 0);
    assert_int_equal(r.drained, 1);
    assert_true(stat_sum(&r, OPD_UNW_NO_RANGE) >= 1);
    assert_true(base >= 100);
    assert_true(ratio >= 0.95);
    run_fini(&r);
}

/* Puts the walk and emit stages into the probe's stage array (bpf/walk.h). */
static int link_probe_stages(struct unwind_probe_bpf *skel)
{
    uint32_t walk = OPD_STAGE_WALK, fin = OPD_STAGE_FINISH;
    int map = bpf_map__fd(skel->maps.opd_probe_stages);
    int wfd = bpf_program__fd(skel->progs.opd_probe_walk);
    int efd = bpf_program__fd(skel->progs.opd_probe_emit);

    if (bpf_map_update_elem(map, &walk, &wfd, BPF_ANY) ||
        bpf_map_update_elem(map, &fin, &efd, BPF_ANY))
        return -errno;
    return 0;
}

/* Loads the probe once; libbpf prints the verifier's reason on stderr when the kernel
 * refuses it. */
static int load_bpf(void)
{
    g_skel = unwind_probe_bpf__open();
    if (!g_skel)
        return 0;
    g_skel->rodata->opd_unwind_tables = 1;
    return unwind_probe_bpf__load(g_skel) == 0 && link_probe_stages(g_skel) == 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_complete),
        cmocka_unit_test(test_through_libc),
        cmocka_unit_test(test_deep_budget),
        cmocka_unit_test(test_signal_frame),
        cmocka_unit_test(test_in_syscall),
        cmocka_unit_test(test_drap_frame),
        cmocka_unit_test(test_unknown_pid),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_slowdown),
    };

    if (geteuid() != 0) {
        printf("skipped: loading BPF programs needs root\n");
        return 77;
    }
    if (!load_bpf()) {
        printf("FAIL: the kernel refused bpf/unwind_probe.bpf.c (the verifier's reason is "
               "above)\n");
        return 1;
    }
    {
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        unwind_probe_bpf__destroy(g_skel);
        return rc;
    }
}
