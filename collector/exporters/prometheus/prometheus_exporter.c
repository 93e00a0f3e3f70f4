/* exporter "prometheus": the profiling → metrics bridge. Every CPU sample adds
 * period × weight of CPU time to its leaf function in a sliding window; GET /metrics on
 * `endpoint` shows the top `top_n` functions of each service (labels service_name,
 * k8s_namespace_name, team, function) with the rest as function="other", in Prometheus
 * text or, when asked, OpenMetrics. Series of processes and pods that stopped sampling
 * leave once the window slides past them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/component.h"
#include "collector/engine/folded.h"
#include "collector/exporters/prometheus/profview.h"
#include "collector/exporters/prometheus/promwin.h"
#include "collector/httpserver/httpserver.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

#define WINDOW_SLOTS 12

struct prom_cfg {
    char *endpoint;
    int64_t top_n;
    int64_t window;
    int64_t max_series;
};

struct prom_exporter {
    struct opd_component base;
    char *endpoint;
    size_t top_n;
    pthread_mutex_t lock;
    struct opd_promwin *win;
    struct opd_httpserver *http;
    struct opd_metric *m_sent, *m_series, *m_overflow;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void handle(void *ctx, const struct opd_http_request *req, struct opd_http_response *resp)
{
    struct prom_exporter *x = ctx;
    bool om;
    int err;

    if (strcmp(req->path, "/metrics") != 0) {
        resp->status = 404;
        fputs("not found: metrics are at /metrics\n", resp->body);
        return;
    }
    om = opd_http_wants_openmetrics(req);
    resp->content_type = om ? OPD_HTTP_CT_OPENMETRICS : OPD_HTTP_CT_PROMETHEUS;
    pthread_mutex_lock(&x->lock);
    err = opd_promwin_write(x->win, mono_ns(), x->top_n, om, resp->body);
    opd_metric_set(x->m_series, (int64_t)opd_promwin_series(x->win, mono_ns()));
    pthread_mutex_unlock(&x->lock);
    if (om)
        fputs("# EOF\n", resp->body);
    if (err)
        resp->status = 500;
}

/* Adds one resource's CPU samples (lock held). Returns samples added or -ENOMEM. */
static int64_t add_resource(struct prom_exporter *x, const struct opd_batch *b,
                            const struct opd_resource *r, uint64_t now)
{
    char service[256], fn[512];
    struct opd_promwin_labels l;
    int64_t samples = 0;
    const char *team;
    int rc;

    l.service_name = opd_pv_service_name(r, service, sizeof(service));
    l.k8s_namespace_name = opd_pv_resource_str(r, "k8s.namespace.name");
    team = opd_pv_team(r);
    l.team = team ? team : "unassigned";
    for (size_t si = 0; si < r->n_scopes; si++)
        for (size_t pi = 0; pi < r->scopes[si].n_profiles; pi++) {
            const struct opd_profile *p = &r->scopes[si].profiles[pi];
            uint64_t ns_per_unit;

            if (!opd_pv_profile_cpu(b, p, &ns_per_unit))
                continue;
            for (size_t k = 0; k < p->n_samples; k++) {
                const struct opd_sample *s = &p->samples[k];
                uint64_t w = opd_sample_weight(s);

                if (w == 0)
                    continue;
                l.function = opd_pv_leaf_name(b, s, fn, sizeof(fn));
                rc = opd_promwin_add(x->win, now, &l, (double)w * (double)ns_per_unit / 1e9);
                if (rc < 0)
                    return rc;
                if (rc > 0)
                    opd_metric_add(x->m_overflow, (int64_t)w);
                samples += (int64_t)w;
            }
        }
    return samples;
}

static int prom_consume(struct opd_component *self, struct opd_batch *b)
{
    struct prom_exporter *x = (struct prom_exporter *)self;
    uint64_t now = mono_ns();
    int64_t total = 0;
    int err = 0;

    pthread_mutex_lock(&x->lock);
    for (size_t ri = 0; ri < b->n_resources && !err; ri++) {
        int64_t n = add_resource(x, b, &b->resources[ri], now);
        if (n < 0)
            err = (int)n;
        else
            total += n;
    }
    pthread_mutex_unlock(&x->lock);
    /* Samples folded into the window are what this exporter delivers. */
    opd_metric_add(x->m_sent, total);
    if (err)
        OPD_WARN(self->logname, "out of memory adding a batch to the window");
    opd_batch_unref(b);
    return err;
}

static int prom_start(struct opd_component *self, struct opd_host *host)
{
    struct prom_exporter *x = (struct prom_exporter *)self;
    struct opd_httpserver_params p = {0};
    int err;

    p.who = self->logname;
    p.address = x->endpoint;
    p.handler = handle;
    p.ctx = x;
    x->http = opd_httpserver_create(&p);
    if (!x->http)
        return -errno;
    err = opd_httpserver_start(x->http);
    if (err) {
        opd_httpserver_destroy(x->http);
        x->http = NULL;
        return err;
    }
    OPD_INFO(self->logname, "serving function CPU metrics at http://%s/metrics", x->endpoint);
    return 0;
}

static int prom_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct prom_exporter *x = (struct prom_exporter *)self;

    opd_httpserver_destroy(x->http);
    x->http = NULL;
    return 0;
}

static void prom_destroy(struct opd_component *self)
{
    struct prom_exporter *x = (struct prom_exporter *)self;

    if (!x)
        return;
    opd_httpserver_destroy(x->http);
    opd_promwin_destroy(x->win);
    pthread_mutex_destroy(&x->lock);
    opd_free(x->endpoint);
    opd_free(x);
}

static const struct opd_component_ops prom_ops = {
    .start = prom_start,
    .consume = prom_consume,
    .shutdown = prom_shutdown,
    .destroy = prom_destroy,
};

static struct opd_component *prom_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct prom_cfg *cfg = cfgp;
    struct prom_exporter *x = opd_calloc(1, sizeof(*x));
    char labels[256];
    int err = ENOMEM;

    if (!x)
        goto fail;
    x->base.ops = &prom_ops;
    pthread_mutex_init(&x->lock, NULL);
    x->top_n = (size_t)cfg->top_n;
    x->endpoint = opd_strdup(cfg->endpoint);
    x->win = opd_promwin_create((uint64_t)cfg->window, WINDOW_SLOTS, (size_t)cfg->max_series);
    if (!x->win)
        err = errno;
    if (!x->endpoint || !x->win)
        goto fail;
    snprintf(labels, sizeof(labels), "exporter=\"%s\"", p->id ? p->id : "prometheus");
    if (p->telemetry) {
        x->m_sent =
            opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER, "otelcol_exporter_sent_profile_samples",
                                 labels, "Profile samples successfully sent to destination.");
        x->m_series =
            opd_telemetry_metric(p->telemetry, OPD_METRIC_GAUGE, "otelprofd_prometheus_series",
                                 labels, "Function series in the window at the last scrape.");
        x->m_overflow = opd_telemetry_metric(
            p->telemetry, OPD_METRIC_COUNTER, "otelprofd_prometheus_samples_overflowed", labels,
            "Samples put under function=\"other\" because max_series was reached.");
    }
    return &x->base;
fail:
    prom_destroy(x ? &x->base : NULL);
    errno = err;
    return NULL;
}

static int prom_validate(const void *cfgp, char *errbuf, size_t errlen)
{
    const struct prom_cfg *cfg = cfgp;
    char host[256], port[16];

    if (opd_http_split_address(cfg->endpoint, host, sizeof(host), port, sizeof(port))) {
        snprintf(errbuf, errlen, "endpoint '%s' is not host:port", cfg->endpoint);
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map prom_map[] = {
    {OPD_CFG_STRING, "endpoint", "localhost:9464", 0, 0, offsetof(struct prom_cfg, endpoint),
     "host:port serving /metrics"},
    {OPD_CFG_INT, "top_n", "10", 1, 1000, offsetof(struct prom_cfg, top_n),
     "Functions shown per service; the rest are summed as function=\"other\""},
    {OPD_CFG_DURATION, "window", "60s", 1000000000LL, 86400000000000LL,
     offsetof(struct prom_cfg, window), "Sliding window the CPU seconds are summed over"},
    {OPD_CFG_INT, "max_series", "10000", 1, 10000000, offsetof(struct prom_cfg, max_series),
     "Bound on (service, function) series kept in the window; beyond it new functions go "
     "to \"other\""},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_prometheus_exporter_factory = {
    .type = "prometheus",
    .kind = OPD_KIND_EXPORTER,
    .description = "CPU seconds of the top functions per service as Prometheus metrics",
    .config_map = prom_map,
    .config_size = sizeof(struct prom_cfg),
    .validate = prom_validate,
    .create = prom_create,
};
