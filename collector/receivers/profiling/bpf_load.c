/* BPF object loading with the verifier's verdict per program (see bpf_load.h). */
#include "collector/receivers/profiling/bpf_load.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/log.h"
#include "collector/mem.h"

/* Bytes of verifier log per program. At the stats level a good load writes three lines
 * and a refused one its error besides; kernels before 6.4 fail a load whose log does
 * not fit (ENOSPC), so leave a wide margin. */
#define LOG_BYTES (64 * 1024)
#define LOG_LEVEL_STATS 4 /* BPF_LOG_STATS */

static const char *libbpf_who = "receiver/profiling/libbpf";

/* The first program libbpf named in a warning during the current load, and its line.
 * libbpf's print hook has no context argument, hence a process-wide capture, taken under
 * a lock only by opd_bpf_load(). */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static struct opd_bpf_load *capture;

static void capture_failure(const char *line)
{
    const char *p = strstr(line, "prog '"), *q;
    size_t n;

    if (!capture || !p || capture->failed_prog[0])
        return;
    p += strlen("prog '");
    q = strchr(p, '\'');
    if (!q)
        return;
    n = (size_t)(q - p) < sizeof(capture->failed_prog) ? (size_t)(q - p)
                                                       : sizeof(capture->failed_prog) - 1;
    memcpy(capture->failed_prog, p, n);
    capture->failed_prog[n] = '\0';
    q += 1;
    while (*q == ':' || *q == ' ')
        q++;
    snprintf(capture->failed_why, sizeof(capture->failed_why), "%s", q);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    if (level == LIBBPF_WARN)
        capture_failure(line);
    if (level == LIBBPF_DEBUG && opd_log_get_level() > OPD_LOG_DEBUG)
        return 0;
    /* A refused load is told once, by the caller, with the reason; libbpf's own lines
     * about it are detail. */
    opd_log(level == LIBBPF_WARN && !capture ? OPD_LOG_WARN : OPD_LOG_DEBUG, libbpf_who, "%s",
            line);
    return 0;
}

void opd_bpf_print_init(void)
{
    libbpf_set_print(libbpf_print);
}

int opd_bpf_probe_helper(int prog_type, int func_id)
{
    return libbpf_probe_bpf_helper((enum bpf_prog_type)prog_type, (enum bpf_func_id)func_id, NULL);
}

/* "processed N insns" in a verifier log, or 0. */
static uint32_t log_insns(const char *log)
{
    const char *p = strstr(log, "processed ");
    unsigned long v;

    if (!p || sscanf(p, "processed %lu insns", &v) != 1)
        return 0;
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static bool stats_line(const char *line, size_t n)
{
    static const char *const prefixes[] = {"processed ", "verification time", "stack depth",
                                           "max_states_per_insn"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t k = strlen(prefixes[i]);

        if (n >= k && strncmp(line, prefixes[i], k) == 0)
            return true;
    }
    return n == 0 || line[0] == ';'; /* "; source line @ file:line" annotations */
}

/* The verifier's reason in a refused program's log: its last line that is not a
 * statistic, with the instruction count when the log has one. */
static void log_reason(const char *log, char *out, size_t len)
{
    const char *line = log, *best = NULL;
    size_t best_n = 0;
    uint32_t insns = log_insns(log);

    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);

        if (!stats_line(line, n)) {
            best = line;
            best_n = n;
        }
        line += n + (end ? 1 : 0);
    }
    if (!best)
        return;
    if (insns)
        snprintf(out, len, "%.*s (verifier processed %u instructions)", (int)best_n, best, insns);
    else
        snprintf(out, len, "%.*s", (int)best_n, best);
}

static double mono_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fills ld->progs from the loaded object: the kernel's count (5.16+), else the log's. */
static void collect_costs(struct opd_bpf_load *ld, struct bpf_object *obj)
{
    struct bpf_program *prog;
    size_t i = 0;

    ld->n_progs = 0;
    bpf_object__for_each_program(prog, obj) {
        struct opd_bpf_prog_cost *c;
        struct bpf_prog_info info;
        __u32 len = sizeof(info);
        const char *log = ld->logs + i * LOG_BYTES;

        i++;
        if (!bpf_program__autoload(prog) || bpf_program__fd(prog) < 0 ||
            ld->n_progs >= OPD_BPF_MAX_PROGS)
            continue;
        c = &ld->progs[ld->n_progs++];
        snprintf(c->name, sizeof(c->name), "%s", bpf_program__name(prog));
        memset(&info, 0, sizeof(info));
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0 &&
            len >= offsetof(struct bpf_prog_info, verified_insns) + sizeof(info.verified_insns) &&
            info.verified_insns) {
            c->insns = info.verified_insns;
            c->from_log = false;
        } else {
            c->insns = log_insns(log);
            c->from_log = true;
        }
    }
}

int opd_bpf_load(struct opd_bpf_load *ld, struct bpf_object *obj, int (*load)(void *arg),
                 void *arg)
{
    struct bpf_program *prog;
    size_t nprogs = 0, i = 0;
    double t0 = mono_seconds();
    int err;

    ld->failed_prog[0] = ld->failed_why[0] = '\0';
    ld->n_progs = 0;
    bpf_object__for_each_program(prog, obj)
        nprogs++;
    if (nprogs * LOG_BYTES > ld->log_bytes) {
        opd_free(ld->logs);
        ld->log_bytes = 0;
        ld->logs = opd_malloc(nprogs * LOG_BYTES);
        if (!ld->logs)
            return -ENOMEM;
        ld->log_bytes = nprogs * LOG_BYTES;
    }
    memset(ld->logs, 0, ld->log_bytes);
    bpf_object__for_each_program(prog, obj) {
        char *log = ld->logs + (i++) * LOG_BYTES;

        if (!bpf_program__autoload(prog))
            continue;
        bpf_program__set_log_buf(prog, log, LOG_BYTES);
        bpf_program__set_log_level(prog, LOG_LEVEL_STATS);
    }
    pthread_mutex_lock(&capture_lock);
    capture = ld;
    err = load(arg);
    capture = NULL;
    pthread_mutex_unlock(&capture_lock);
    ld->seconds = mono_seconds() - t0;
    if (!err) {
        collect_costs(ld, obj);
        return 0;
    }
    /* Which program, and the verifier's own words for it when it ran. */
    i = 0;
    bpf_object__for_each_program(prog, obj) {
        const char *log = ld->logs + (i++) * LOG_BYTES;

        if (!ld->failed_prog[0] || strcmp(bpf_program__name(prog), ld->failed_prog) != 0)
            continue;
        if (log[0]) {
            OPD_DEBUG(ld->who, "verifier log of %s:\n%s", ld->failed_prog, log);
            log_reason(log, ld->failed_why, sizeof(ld->failed_why));
        }
    }
    return err < 0 ? err : -EINVAL;
}

void opd_bpf_load_fini(struct opd_bpf_load *ld)
{
    opd_free(ld->logs);
    ld->logs = NULL;
    ld->log_bytes = 0;
}

void opd_bpf_load_costs_string(const struct opd_bpf_load *ld, char *buf, size_t len)
{
    size_t w = 0;

    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < ld->n_progs && w < len; i++) {
        int n = snprintf(buf + w, len - w, "%s%s=%u", i ? " " : "", ld->progs[i].name,
                         ld->progs[i].insns);

        if (n < 0)
            break;
        w += (size_t)n;
    }
}
