/* processor "memory_limiter": refuses batches while the daemon's memory is above the soft
 * limit (limit minus spike), as the Collector's memory_limiter does, so that a slow
 * exporter or a burst cannot grow otelprofd without bound. Memory is the process RSS;
 * percentages are of the cgroup memory limit when one is set, else of MemTotal.
 * Refused samples are dropped here and counted with reason "memory_limit". */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/component.h"
#include "collector/engine/service.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

#define MIB ((uint64_t)1024 * 1024)

struct ml_cfg {
    int64_t check_interval;
    int64_t limit_mib;
    int64_t spike_limit_mib;
    int64_t limit_percentage;
    int64_t spike_limit_percentage;
};

struct memory_limiter {
    struct opd_component base;
    struct opd_component *next;
    uint64_t interval_ns;
    uint64_t soft_limit; /* bytes */
    uint64_t hard_limit;
    _Atomic uint64_t last_check_ns;
    _Atomic bool refusing;
    struct opd_metric *dropped, *rss_gauge, *refusing_gauge;
};

/* Resident set size of this process, in bytes; 0 when unreadable. */
static uint64_t self_rss(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The memory available to this process: the cgroup v2 limit when set, else MemTotal. */
static uint64_t total_memory(void)
{
    unsigned long long v = 0;
    char buf[64];
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");

    if (f) {
        if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu", &v) == 1 && v > 0) {
            fclose(f);
            return v;
        }
        fclose(f);
    }
    f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    while (fgets(buf, sizeof(buf), f))
        if (sscanf(buf, "MemTotal: %llu kB", &v) == 1)
            break;
    fclose(f);
    return (uint64_t)v * 1024;
}

static void check(struct memory_limiter *m, uint64_t now)
{
    uint64_t rss = self_rss();
    bool was = atomic_load(&m->refusing);
    bool over = rss > m->soft_limit;

    atomic_store(&m->last_check_ns, now);
    opd_metric_set(m->rss_gauge, (int64_t)rss);
    opd_metric_set(m->refusing_gauge, over);
    if (over != was) {
        atomic_store(&m->refusing, over);
        if (over)
            OPD_WARN(m->base.logname,
                     "memory usage %" PRIu64 " MiB is above the soft limit %" PRIu64
                     " MiB: refusing data",
                     rss / MIB, m->soft_limit / MIB);
        else
            OPD_INFO(m->base.logname, "memory usage %" PRIu64 " MiB is below the soft limit: "
                     "accepting data again", rss / MIB);
    }
    if (rss > m->hard_limit)
        OPD_WARN(m->base.logname, "memory usage %" PRIu64 " MiB is above the hard limit %" PRIu64
                 " MiB", rss / MIB, m->hard_limit / MIB);
}

static int ml_consume(struct opd_component *self, struct opd_batch *b)
{
    struct memory_limiter *m = (struct memory_limiter *)self;
    uint64_t now = opd_now_ns();

    /* Checked lazily, at most once per check_interval: no thread of its own. */
    if (now - atomic_load(&m->last_check_ns) >= m->interval_ns)
        check(m, now);
    if (atomic_load(&m->refusing)) {
        opd_metric_add(m->dropped, (int64_t)opd_batch_sample_count(b));
        opd_batch_unref(b);
        return -EAGAIN;
    }
    return opd_component_consume(m->next, b);
}

static void ml_destroy(struct opd_component *self)
{
    opd_free(self);
}

static const struct opd_component_ops ml_ops = {
    .consume = ml_consume,
    .destroy = ml_destroy,
};

/* Works out the byte limits from either the MiB or the percentage options. */
static int limits(const struct ml_cfg *c, uint64_t total, uint64_t *soft, uint64_t *hard)
{
    uint64_t spike;

    if (c->limit_mib > 0) {
        *hard = (uint64_t)c->limit_mib * MIB;
        spike = c->spike_limit_mib > 0 ? (uint64_t)c->spike_limit_mib * MIB : *hard / 5;
    } else {
        *hard = total / 100 * (uint64_t)c->limit_percentage;
        spike = total / 100 * (uint64_t)c->spike_limit_percentage;
    }
    if (spike >= *hard)
        return -EINVAL;
    *soft = *hard - spike;
    return 0;
}

static struct opd_component *ml_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct ml_cfg *cfg = cfgp;
    struct memory_limiter *m = opd_calloc(1, sizeof(*m));
    char labels[512];

    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    m->base.ops = &ml_ops;
    m->next = p->next;
    m->interval_ns = (uint64_t)cfg->check_interval;
    if (limits(cfg, total_memory(), &m->soft_limit, &m->hard_limit)) {
        opd_free(m);
        errno = EINVAL;
        return NULL;
    }
    snprintf(labels, sizeof(labels), "processor=\"%s\",reason=\"memory_limit\"", p->id);
    m->dropped = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                      "otelprofd_processor_dropped_profiles", labels,
                                      "Samples a processor dropped, by reason.");
    snprintf(labels, sizeof(labels), "processor=\"%s\"", p->id);
    m->rss_gauge = opd_telemetry_metric(p->telemetry, OPD_METRIC_GAUGE,
                                        "otelprofd_memory_limiter_rss_bytes", labels,
                                        "Resident memory at the last check.");
    m->refusing_gauge = opd_telemetry_metric(p->telemetry, OPD_METRIC_GAUGE,
                                             "otelprofd_memory_limiter_refusing", labels,
                                             "1 while data is refused.");
    OPD_INFO(p->logname, "soft limit %" PRIu64 " MiB, hard limit %" PRIu64 " MiB",
             m->soft_limit / MIB, m->hard_limit / MIB);
    return &m->base;
}

static int ml_validate(const void *cfgp, char *err, size_t len)
{
    const struct ml_cfg *c = cfgp;
    uint64_t soft, hard;

    if (c->check_interval <= 0) {
        snprintf(err, len, "check_interval must be greater than zero");
        return -EINVAL;
    }
    if (c->limit_mib == 0 && c->limit_percentage == 0) {
        snprintf(err, len, "set limit_mib or limit_percentage");
        return -EINVAL;
    }
    if (c->limit_mib > 0 && c->limit_percentage > 0) {
        snprintf(err, len, "set only one of limit_mib and limit_percentage");
        return -EINVAL;
    }
    if (limits(c, 100 * MIB * 1024, &soft, &hard)) {
        snprintf(err, len, "the spike limit must be smaller than the limit");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map ml_map[] = {
    {OPD_CFG_DURATION, "check_interval", "0s", 0, 3600000000000LL,
     offsetof(struct ml_cfg, check_interval), "How often memory usage is checked (required)"},
    {OPD_CFG_INT, "limit_mib", "0", 0, 1 << 24, offsetof(struct ml_cfg, limit_mib),
     "Hard limit in MiB of resident memory"},
    {OPD_CFG_INT, "spike_limit_mib", "0", 0, 1 << 24, offsetof(struct ml_cfg, spike_limit_mib),
     "Headroom below the limit; the soft limit is limit - spike (default 20% of the limit)"},
    {OPD_CFG_INT, "limit_percentage", "0", 0, 100, offsetof(struct ml_cfg, limit_percentage),
     "Hard limit as a percentage of the memory available"},
    {OPD_CFG_INT, "spike_limit_percentage", "0", 0, 100,
     offsetof(struct ml_cfg, spike_limit_percentage), "Headroom as a percentage"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_memory_limiter_processor_factory = {
    .type = "memory_limiter",
    .kind = OPD_KIND_PROCESSOR,
    .description = "refuses data while memory is above the soft limit",
    .config_map = ml_map,
    .config_size = sizeof(struct ml_cfg),
    .validate = ml_validate,
    .create = ml_create,
};
