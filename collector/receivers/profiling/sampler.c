/* Loader, perf_event attachment and drain of the BPF sampler (see sampler.h). */
#include "collector/receivers/profiling/sampler.h"

#include <errno.h>
#include <stddef.h>
#include <linux/perf_event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/bpf_load.h"
#include "collector/receivers/profiling/cpus.h"
#include "collector/receivers/profiling/alloc.h"
#include "collector/receivers/profiling/offcpu.h"
#include "collector/receivers/profiling/unwind_glue.h"
#include "profile.skel.h"

#define DRAIN_CHUNK 1024
/* Bytes of stacks one batched read may return: a chunk of the largest budget's stacks
 * would be 8 MiB. */
#define STACK_CHUNK_BYTES (1024 * 1024)

struct opd_sampler {
    struct profile_bpf *skel;
    struct opd_sampler_opts opts;
    struct opd_bpf_load load;
    char *off_why[OPD_SAMPLER_FEATURES]; /* why each feature was turned off; NULL: on */
    char *who;
    int ncpus_possible;
    struct bpf_link **links; /* per possible CPU; the link owns its perf fd */
    int *pfds;               /* the perf fds, borrowed from the links, for liveness reads */
    uint64_t *last_count;    /* event count at the previous scan */
    int nattached;
    bool cycles;
    bool cycles_tried;
    uint32_t n_pid_rules, n_cgroup_rules; /* entries in the filter maps */
    /* Scratch for batched map reads. */
    struct opd_sample_key *keys;
    uint64_t *vals;
    uint64_t *stack_ids;
    unsigned char *stacks; /* stack_chunk values of stack_bytes each */
    size_t stack_bytes;    /* OPD_STACK_BYTES(max_frames): the stacks maps' value size */
    uint32_t stack_chunk;
    uint64_t *percpu;
    struct ring_buffer *events;
    opd_proc_event_fn event_fn;
    void *event_arg;
};

static const char *const feature_names[OPD_SAMPLER_FEATURES] = {
    [OPD_SAMPLER_TABLES] = ".eh_frame table unwinding",
    [OPD_SAMPLER_PYTHON] = "Python frames",
    [OPD_SAMPLER_OFFCPU] = "off-CPU profiling",
    [OPD_SAMPLER_MEMORY] = "allocation profiling",
    [OPD_SAMPLER_EXEC_HOOK] = "the exec hook",
};

const char *opd_sampler_feature_name(enum opd_sampler_feature f)
{
    return f < OPD_SAMPLER_FEATURES ? feature_names[f] : "?";
}

/* Which feature a program serves, by its name; -1 for the sampler's core, without which
 * nothing runs. The walk stage is the table unwinder's only while tables are on: without
 * them it is the frame-pointer walk, part of the core. */
static int program_feature(const struct opd_sampler *s, const char *prog)
{
    if (strncmp(prog, "opd_offcpu_", 11) == 0)
        return OPD_SAMPLER_OFFCPU;
    if (strncmp(prog, "opd_alloc_", 10) == 0)
        return OPD_SAMPLER_MEMORY;
    if (strcmp(prog, "opd_sample_python") == 0)
        return OPD_SAMPLER_PYTHON;
    if (strcmp(prog, "opd_exec") == 0)
        return OPD_SAMPLER_EXEC_HOOK;
    if (strcmp(prog, "opd_sample_walk") == 0 && s->opts.unwind_rows && !s->opts.tables_required)
        return OPD_SAMPLER_TABLES;
    return -1;
}

/* Fault injection for the tests of degradation (tests/integration/degraded.sh): the
 * programs named in OTELPROFD_TEST_REFUSE_PROGRAMS (comma-separated) start with an
 * instruction every kernel's verifier refuses (bpf/walk.h, opd_test_refuse), so that a
 * real refusal can be shown on a kernel that accepts the real programs. */
static uint32_t test_refusals(void)
{
    static const char *const progs[OPD_REFUSE__MAX] = {
        [OPD_REFUSE_SAMPLE_WALK] = "opd_sample_walk",
        [OPD_REFUSE_SAMPLE_PYTHON] = "opd_sample_python",
        [OPD_REFUSE_SAMPLE_FINISH] = "opd_sample_finish",
        [OPD_REFUSE_OFFCPU_WALK] = "opd_offcpu_walk",
        [OPD_REFUSE_ALLOC_WALK] = "opd_alloc_walk",
        [OPD_REFUSE_EXEC] = "opd_exec",
    };
    const char *names = getenv("OTELPROFD_TEST_REFUSE_PROGRAMS");
    uint32_t mask = 0;

    for (int i = 0; names && i < OPD_REFUSE__MAX; i++) {
        size_t len = strlen(progs[i]);

        for (const char *p = strstr(names, progs[i]); p; p = strstr(p + len, progs[i])) {
            if ((p == names || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
                mask |= 1u << i;
        }
    }
    return mask;
}

/* Opens the object and sizes and switches it from the options, without the features
 * turned off so far. */
static int open_object(struct opd_sampler *s)
{
    struct profile_bpf *skel = profile_bpf__open();
    int helper;

    if (!skel)
        return -errno;
    s->skel = skel;
    skel->rodata->opd_kernel_frames = s->opts.kernel_frames;
    skel->rodata->opd_max_frames = s->opts.max_frames;
    /* Before 5.15 the user registers of a thread in the kernel are found on its kernel
     * stack instead (regs.bpf.h). */
    helper = opd_bpf_probe_helper(BPF_PROG_TYPE_PERF_EVENT, BPF_FUNC_task_pt_regs);
    skel->rodata->opd_have_task_pt_regs = helper == 1;
    /* Every stacks map stores max_frames frames per entry, no more. */
    bpf_map__set_value_size(skel->maps.opd_stacks0, (uint32_t)s->stack_bytes);
    bpf_map__set_value_size(skel->maps.opd_stacks1, (uint32_t)s->stack_bytes);
    bpf_map__set_value_size(skel->maps.opd_offcpu_stacks, (uint32_t)s->stack_bytes);
    bpf_map__set_value_size(skel->maps.opd_alloc_stacks, (uint32_t)s->stack_bytes);
    opd_offcpu_configure(skel, s->opts.off_cpu);
    opd_alloc_configure(skel, s->opts.memory);
    opd_unwind_glue_configure(skel, s->opts.unwind_rows, s->opts.unwind_files);
    bpf_program__set_autoload(skel->progs.opd_sample_python, !s->off_why[OPD_SAMPLER_PYTHON]);
    bpf_program__set_autoload(skel->progs.opd_exec, !s->off_why[OPD_SAMPLER_EXEC_HOOK]);
    if (s->opts.count_entries) {
        bpf_map__set_max_entries(skel->maps.opd_counts0, s->opts.count_entries);
        bpf_map__set_max_entries(skel->maps.opd_counts1, s->opts.count_entries);
    }
    if (s->opts.stack_entries) {
        bpf_map__set_max_entries(skel->maps.opd_stacks0, s->opts.stack_entries);
        bpf_map__set_max_entries(skel->maps.opd_stacks1, s->opts.stack_entries);
    }
    /* opd_sample_walk stands for the table walk: the frame-pointer walk it becomes
     * without tables is the core's. */
    skel->rodata->opd_test_refuse =
        test_refusals() & ~(s->opts.unwind_rows ? 0u : 1u << OPD_REFUSE_SAMPLE_WALK);
    return 0;
}

/* The skeleton's load: the object, then its global data mapped for user space. */
static int load_skeleton(void *skel)
{
    return profile_bpf__load(skel);
}

/* Puts the loaded stage programs of one hook into its stage array (bpf/walk.h). */
static int link_stages(struct bpf_map *stages, struct bpf_program *walk,
                       struct bpf_program *python, struct bpf_program *finish)
{
    struct bpf_program *progs[OPD_STAGE__MAX] = {
        [OPD_STAGE_WALK] = walk, [OPD_STAGE_PYTHON] = python, [OPD_STAGE_FINISH] = finish};

    for (uint32_t i = 0; i < OPD_STAGE__MAX; i++) {
        int fd = progs[i] ? bpf_program__fd(progs[i]) : -1;

        if (fd >= 0 && bpf_map_update_elem(bpf_map__fd(stages), &i, &fd, BPF_ANY))
            return -errno;
    }
    return 0;
}

static int link_all_stages(struct opd_sampler *s)
{
    struct profile_bpf *k = s->skel;
    int err;

    err = link_stages(k->maps.opd_sample_stages, k->progs.opd_sample_walk,
                      k->progs.opd_sample_python, k->progs.opd_sample_finish);
    if (!err && s->opts.off_cpu)
        err = link_stages(k->maps.opd_offcpu_stages, k->progs.opd_offcpu_walk, NULL,
                          k->progs.opd_offcpu_finish);
    if (!err && s->opts.memory)
        err = link_stages(k->maps.opd_alloc_stages, k->progs.opd_alloc_walk, NULL,
                          k->progs.opd_alloc_finish);
    return err;
}

/* Turns feature f off after the kernel refused one of its programs and says so once. */
static int turn_off(struct opd_sampler *s, int f)
{
    char why[400];

    snprintf(why, sizeof(why), "the kernel refused program %s: %s", s->load.failed_prog,
             s->load.failed_why[0] ? s->load.failed_why : "no reason given");
    s->off_why[f] = opd_strdup(why);
    if (!s->off_why[f])
        return -ENOMEM;
    OPD_WARN(s->who, "degraded: %s off (%s)%s", feature_names[f], why,
             f == OPD_SAMPLER_TABLES ? "; user stacks are walked by frame pointer and stop "
                                       "at code built without one"
                                     : "");
    switch (f) {
    case OPD_SAMPLER_TABLES:
        s->opts.unwind_rows = 0;
        break;
    case OPD_SAMPLER_OFFCPU:
        s->opts.off_cpu = false;
        break;
    case OPD_SAMPLER_MEMORY:
        s->opts.memory = false;
        break;
    default:
        break;
    }
    return 0;
}

/* Loads the object; when the kernel refuses a program that only one feature needs, turns
 * that feature off and loads again, so that sampling goes on with what this kernel
 * accepts. Each try verifies only small programs (bpf/walk.h), so a refusal costs
 * little time. */
static int load_object(struct opd_sampler *s)
{
    int err;

    for (int attempt = 0; attempt <= OPD_SAMPLER_FEATURES; attempt++) {
        int f;

        err = open_object(s);
        if (err) {
            OPD_ERR(s->who, "cannot open the BPF object: %s", strerror(-err));
            return err;
        }
        err = opd_bpf_load(&s->load, s->skel->obj, load_skeleton, s->skel);
        if (!err) {
            char costs[1024];

            opd_bpf_load_costs_string(&s->load, costs, sizeof(costs));
            OPD_INFO(s->who, "BPF programs verified in %.2f s (instructions; kernel limit %u): %s",
                     s->load.seconds, OPD_BPF_VERIFIER_LIMIT, costs);
            return link_all_stages(s);
        }
        f = s->load.failed_prog[0] ? program_feature(s, s->load.failed_prog) : -1;
        profile_bpf__destroy(s->skel);
        s->skel = NULL;
        if (f < 0 || s->off_why[f]) {
            OPD_ERR(s->who, "cannot load the BPF sampler: %s%s%s%s", strerror(-err),
                    s->load.failed_prog[0] ? " (the kernel refused program " : "",
                    s->load.failed_prog, s->load.failed_prog[0] ? ")" : "");
            if (s->load.failed_why[0])
                OPD_ERR(s->who, "verifier: %s (its whole log at debug level)", s->load.failed_why);
            return err;
        }
        err = turn_off(s, f);
        if (err)
            return err;
    }
    return err;
}

struct opd_sampler *opd_sampler_create(const struct opd_sampler_opts *opts)
{
    struct opd_sampler *s = NULL;
    int err = -ENOMEM;

    s = opd_calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->opts = *opts;
    s->who = opd_strdup(opts->who ? opts->who : "receiver/profiling");
    if (!s->who)
        goto out;
    if (s->opts.max_frames == 0)
        s->opts.max_frames = OPD_DEFAULT_FRAMES;
    if (s->opts.max_frames > OPD_MAX_FRAMES)
        s->opts.max_frames = OPD_MAX_FRAMES;
    s->stack_bytes = OPD_STACK_BYTES(s->opts.max_frames);
    s->stack_chunk = (uint32_t)(STACK_CHUNK_BYTES / s->stack_bytes);
    if (s->stack_chunk > DRAIN_CHUNK)
        s->stack_chunk = DRAIN_CHUNK;
    s->ncpus_possible = libbpf_num_possible_cpus();
    if (s->ncpus_possible <= 0) {
        err = s->ncpus_possible ? s->ncpus_possible : -ENODEV;
        goto out;
    }
    s->links = opd_calloc((size_t)s->ncpus_possible, sizeof(*s->links));
    s->pfds = opd_calloc((size_t)s->ncpus_possible, sizeof(*s->pfds));
    s->last_count = opd_calloc((size_t)s->ncpus_possible, sizeof(*s->last_count));
    s->keys = opd_calloc(DRAIN_CHUNK, sizeof(*s->keys));
    s->vals = opd_calloc(DRAIN_CHUNK, sizeof(*s->vals));
    s->stack_ids = opd_calloc(DRAIN_CHUNK, sizeof(*s->stack_ids));
    s->stacks = opd_calloc(s->stack_chunk, s->stack_bytes);
    s->percpu = opd_calloc((size_t)s->ncpus_possible, sizeof(*s->percpu));
    if (!s->links || !s->pfds || !s->last_count || !s->keys || !s->vals || !s->stack_ids ||
        !s->stacks || !s->percpu)
        goto out;

    s->load.who = s->who;
    opd_bpf_print_init();
    err = load_object(s);
    if (err)
        goto out;
    /* Without the exec hook, a process that execs keeps its old image's metadata until
     * the process table notices on its own, and name rules apply only at the next
     * refresh: worse, not fatal. */
    if (!s->off_why[OPD_SAMPLER_EXEC_HOOK]) {
        s->skel->links.opd_exec = bpf_program__attach(s->skel->progs.opd_exec);
        if (!s->skel->links.opd_exec)
            OPD_WARN(s->who, "cannot attach to sched_process_exec: %s", strerror(errno));
    }
    err = 0;
out:
    if (err) {
        opd_sampler_destroy(s);
        errno = -err;
        return NULL;
    }
    return s;
}

void opd_sampler_destroy(struct opd_sampler *s)
{
    if (!s)
        return;
    if (s->links) {
        for (int i = 0; i < s->ncpus_possible; i++)
            bpf_link__destroy(s->links[i]);
    }
    ring_buffer__free(s->events);
    profile_bpf__destroy(s->skel);
    opd_bpf_load_fini(&s->load);
    for (int f = 0; f < OPD_SAMPLER_FEATURES; f++)
        opd_free(s->off_why[f]);
    opd_free(s->links);
    opd_free(s->pfds);
    opd_free(s->last_count);
    opd_free(s->keys);
    opd_free(s->vals);
    opd_free(s->stack_ids);
    opd_free(s->stacks);
    opd_free(s->percpu);
    opd_free(s->who);
    opd_free(s);
}

static int open_event(const struct opd_sampler *s, int cpu, bool cycles)
{
    struct perf_event_attr attr;
    int fd;

    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    if (cycles) {
        attr.type = PERF_TYPE_HARDWARE;
        attr.config = PERF_COUNT_HW_CPU_CYCLES;
    } else {
        attr.type = PERF_TYPE_SOFTWARE;
        attr.config = PERF_COUNT_SW_CPU_CLOCK;
    }
    attr.freq = 1;
    attr.sample_freq = s->opts.samples_per_second;
    fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static void detach_cpu(struct opd_sampler *s, int cpu)
{
    bpf_link__destroy(s->links[cpu]);
    s->links[cpu] = NULL;
    s->pfds[cpu] = -1;
    s->nattached--;
}

/* Whether the event of an attached CPU still counts. A CPU that went offline and came
 * back since the last scan has lost its events (the kernel removes them from the CPU's
 * context), which shows as a count that no longer moves: cpu-clock advances whenever the
 * event is in place, idle or not. */
static bool event_alive(struct opd_sampler *s, int cpu)
{
    uint64_t count = 0;

    if (read(s->pfds[cpu], &count, sizeof(count)) != (ssize_t)sizeof(count))
        return false;
    if (count == s->last_count[cpu])
        return false;
    s->last_count[cpu] = count;
    return true;
}

int opd_sampler_attach(struct opd_sampler *s)
{
    uint8_t *online = NULL;
    int n, err = 0, first_err = 0;

    n = opd_cpus_online(&online, s->ncpus_possible);
    if (n < 0)
        return n;
    for (int cpu = 0; cpu < s->ncpus_possible; cpu++) {
        struct bpf_link *link;
        int fd;

        if (s->links[cpu] && (!online[cpu] || !event_alive(s, cpu))) {
            OPD_INFO(s->who, "CPU %d %s; %s its sampling event", cpu,
                     online[cpu] ? "came back from offline" : "is offline",
                     online[cpu] ? "reopening" : "closing");
            detach_cpu(s, cpu);
        }
        if (!online[cpu] || s->links[cpu])
            continue;
        if (s->opts.cycles && !s->cycles_tried) {
            s->cycles_tried = true;
            fd = open_event(s, cpu, true);
            if (fd >= 0) {
                s->cycles = true;
            } else {
                OPD_WARN(s->who, "hardware cycles event unavailable (%s); using cpu-clock",
                         strerror(-fd));
                fd = open_event(s, cpu, false);
            }
        } else {
            fd = open_event(s, cpu, s->cycles);
        }
        if (fd == -ENODEV)
            continue; /* went offline since the scan */
        if (fd < 0) {
            if (!first_err)
                first_err = fd;
            OPD_WARN(s->who, "perf_event_open on CPU %d failed: %s", cpu, strerror(-fd));
            continue;
        }
        link = bpf_program__attach_perf_event(s->skel->progs.opd_sample, fd);
        if (!link) {
            err = -errno;
            close(fd); /* only on failure: a live link owns and closes the fd */
            if (!first_err)
                first_err = err;
            OPD_WARN(s->who, "attaching the sampler on CPU %d failed: %s", cpu, strerror(-err));
            continue;
        }
        s->links[cpu] = link;
        s->pfds[cpu] = fd;
        s->last_count[cpu] = 0;
        s->nattached++;
    }
    opd_free(online);
    if (s->nattached == 0)
        return first_err ? first_err : -ENODEV;
    return s->nattached;
}

void opd_sampler_detach(struct opd_sampler *s)
{
    for (int cpu = 0; cpu < s->ncpus_possible; cpu++) {
        if (s->links[cpu])
            detach_cpu(s, cpu);
    }
}

struct profile_bpf *opd_sampler_skel(struct opd_sampler *s)
{
    return s->skel;
}

const char *opd_sampler_degraded(const struct opd_sampler *s, enum opd_sampler_feature f)
{
    return f < OPD_SAMPLER_FEATURES ? s->off_why[f] : NULL;
}

const struct opd_bpf_load *opd_sampler_load_report(const struct opd_sampler *s)
{
    return &s->load;
}

const struct opd_sampler_opts *opd_sampler_effective_opts(const struct opd_sampler *s)
{
    return &s->opts;
}

int opd_sampler_map_fd(struct opd_sampler *s, const char *name)
{
    int fd = bpf_object__find_map_fd_by_name(s->skel->obj, name);

    return fd >= 0 ? fd : -ENOENT;
}

bool opd_sampler_uses_cycles(const struct opd_sampler *s)
{
    return s->cycles;
}

int opd_sampler_ncpus(const struct opd_sampler *s)
{
    return s->nattached;
}

/* Waits until no BPF program still runs with the old generation: the kernel does a
 * synchronize_rcu() for every update of a map-in-map slot. */
static int wait_programs(struct opd_sampler *s)
{
    uint32_t zero = 0;
    int inner = bpf_map__fd(s->skel->maps.opd_barrier_inner);
    int err = bpf_map_update_elem(bpf_map__fd(s->skel->maps.opd_barrier), &zero, &inner, BPF_ANY);

    return err ? -errno : 0;
}

/* Reads and deletes every entry of a hash map; batched when the kernel can, one key at
 * a time otherwise. cb gets n entries. */
typedef int (*drain_cb)(struct opd_sampler *s, struct opd_drain *out, size_t n);

static int drain_map(struct opd_sampler *s, int fd, void *keys, void *vals, uint32_t chunk,
                     drain_cb cb, struct opd_drain *out)
{
    uint64_t in_batch = 0, out_batch = 0;
    bool first = true;
    int err;

    for (;;) {
        __u32 count = chunk;

        err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in_batch, &out_batch, keys, vals,
                                              &count, NULL);
        if (err < 0)
            err = -errno;
        if (err && err != -ENOENT)
            break;
        if (count) {
            int e = cb(s, out, count);

            if (e)
                return e;
        }
        if (err == -ENOENT)
            return 0;
        in_batch = out_batch;
        first = false;
    }
    if (err != -EINVAL && err != -ENOTSUP && err != -EOPNOTSUPP)
        return err;
    /* No batch operations: walk key by key. The generation is quiescent, so deleting
     * the key just read keeps the walk simple. */
    for (;;) {
        if (bpf_map_get_next_key(fd, NULL, keys))
            return errno == ENOENT ? 0 : -errno;
        if (bpf_map_lookup_elem(fd, keys, vals) == 0) {
            err = cb(s, out, 1);
            if (err)
                return err;
        }
        if (bpf_map_delete_elem(fd, keys) && errno != ENOENT)
            return -errno;
    }
}

static int take_counts(struct opd_sampler *s, struct opd_drain *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = opd_drain_add_record(out, &s->keys[i], s->vals[i]);

        if (err)
            return err;
    }
    return 0;
}

/* Values are stack_bytes apart: a struct opd_bpf_stack cut after max_frames frames. */
static int take_stacks(struct opd_sampler *s, struct opd_drain *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char *v = s->stacks + i * s->stack_bytes;
        uint32_t len, kernel;
        int err;

        memcpy(&len, v + offsetof(struct opd_bpf_stack, len), sizeof(len));
        memcpy(&kernel, v + offsetof(struct opd_bpf_stack, kernel), sizeof(kernel));
        if (len > s->opts.max_frames)
            len = s->opts.max_frames; /* never read past the value */
        err = opd_drain_add_frames(out, s->stack_ids[i], kernel,
                                   (const uint64_t *)(v + offsetof(struct opd_bpf_stack, ip)), len);
        if (err)
            return err;
    }
    return 0;
}

int opd_sampler_drain(struct opd_sampler *s, struct opd_drain *out)
{
    uint32_t old = __atomic_load_n(&s->skel->bss->opd_state.gen, __ATOMIC_RELAXED) & 1;
    struct bpf_map *counts = old ? s->skel->maps.opd_counts1 : s->skel->maps.opd_counts0;
    struct bpf_map *stacks = old ? s->skel->maps.opd_stacks1 : s->skel->maps.opd_stacks0;
    int err, err2;

    __atomic_store_n(&s->skel->bss->opd_state.gen, old ^ 1, __ATOMIC_SEQ_CST);
    err = wait_programs(s);
    if (err) {
        OPD_WARN(s->who, "drain barrier failed (%s); a few samples may be torn", strerror(-err));
        usleep(1000);
    }
    err = drain_map(s, bpf_map__fd(counts), s->keys, s->vals, DRAIN_CHUNK, take_counts, out);
    /* Always empty the stacks too, even after an error, so the next round starts clean. */
    err2 = drain_map(s, bpf_map__fd(stacks), s->stack_ids, s->stacks, s->stack_chunk, take_stacks,
                     out);
    opd_drain_finish(out);
    return err ? err : err2;
}

int opd_sampler_counters(struct opd_sampler *s, uint64_t total[OPD_CNT__MAX])
{
    int fd = bpf_map__fd(s->skel->maps.opd_counters);

    for (uint32_t i = 0; i < OPD_CNT__MAX; i++) {
        total[i] = 0;
        if (bpf_map_lookup_elem(fd, &i, s->percpu))
            return -errno;
        for (int c = 0; c < s->ncpus_possible; c++)
            total[i] += s->percpu[c];
    }
    return 0;
}

/* Decodes one ring buffer record. Records come from our own program, but a size check
 * costs nothing and keeps a mismatched object from being misread. */
static int on_event(void *arg, void *data, size_t size)
{
    struct opd_sampler *s = arg;
    struct opd_proc_event ev;

    if (size < sizeof(ev))
        return 0;
    memcpy(&ev, data, sizeof(ev));
    if (ev.kind == OPD_EV_NEW || ev.kind == OPD_EV_EXEC)
        s->event_fn(s->event_arg, &ev);
    return 0;
}

int opd_sampler_events_open(struct opd_sampler *s, opd_proc_event_fn fn, void *arg)
{
    s->event_fn = fn;
    s->event_arg = arg;
    s->events = ring_buffer__new(bpf_map__fd(s->skel->maps.opd_events), on_event, s, NULL);
    return s->events ? 0 : -errno;
}

int opd_sampler_poll_events(struct opd_sampler *s, int timeout_ms)
{
    if (!s->events)
        return -EINVAL;
    return ring_buffer__poll(s->events, timeout_ms); /* count or -errno (libbpf 1.x) */
}

/* Adds, changes or (mode 0) removes one filter entry and keeps *count, the number of
 * entries, so that the program skips the map entirely while it is empty. */
static int filter_set(int fd, const void *key, int mode, uint32_t *count, uint32_t *flag)
{
    uint32_t v = (uint32_t)mode;

    if (mode == 0) {
        if (bpf_map_delete_elem(fd, key) == 0) {
            if (*count)
                (*count)--;
        } else if (errno != ENOENT) {
            return -errno;
        }
    } else if (mode != OPD_FILTER_INCLUDE && mode != OPD_FILTER_EXCLUDE) {
        return -EINVAL;
    } else if (bpf_map_update_elem(fd, key, &v, BPF_NOEXIST) == 0) {
        (*count)++;
    } else if (errno != EEXIST || bpf_map_update_elem(fd, key, &v, BPF_EXIST)) {
        return -errno;
    }
    __atomic_store_n(flag, *count ? 1u : 0u, __ATOMIC_SEQ_CST);
    return 0;
}

int opd_sampler_filter_pid(struct opd_sampler *s, uint32_t pid, int mode)
{
    return filter_set(bpf_map__fd(s->skel->maps.opd_filter_pids), &pid, mode, &s->n_pid_rules,
                      &s->skel->bss->opd_state.pid_rules);
}

int opd_sampler_filter_cgroup(struct opd_sampler *s, uint64_t cgroup_id, int mode)
{
    return filter_set(bpf_map__fd(s->skel->maps.opd_filter_cgroups), &cgroup_id, mode,
                      &s->n_cgroup_rules, &s->skel->bss->opd_state.cgroup_rules);
}

void opd_sampler_all_execs(struct opd_sampler *s, bool on)
{
    __atomic_store_n(&s->skel->bss->opd_state.all_execs, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

void opd_sampler_include_active(struct opd_sampler *s, bool on)
{
    __atomic_store_n(&s->skel->bss->opd_state.include_active, on ? 1u : 0u, __ATOMIC_SEQ_CST);
}

void opd_sampler_pidns(struct opd_sampler *s, uint64_t dev, uint64_t ino)
{
    s->skel->bss->opd_state.pidns_dev = dev;
    __atomic_store_n(&s->skel->bss->opd_state.pidns_ino, ino, __ATOMIC_SEQ_CST);
}
