/* extension "health_check": answers GET <path> on <endpoint> with 200 while every
 * component on the health board (collector/engine/health.h) is healthy (the eBPF programs
 * attached, each exporter's last attempt a success) and 503 otherwise, with a JSON body
 * naming each unhealthy component and why. Option names and defaults follow the
 * Collector's health_check extension.
 *
 * Besides what components report themselves, each check reads the self-telemetry: a
 * profiling receiver whose otelprofd_profiling_cpus_attached gauge is 0 has no programs
 * attached; an exporter whose failure counters (otelcol_exporter_send_retries and the
 * permanent / retries_exhausted drops) grew since the previous check while
 * otelcol_exporter_sent_profile_samples did not has failed its last attempts, and one whose
 * sent counter grew has succeeded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/component.h"
#include "collector/engine/health.h"
#include "collector/httpserver/httpserver.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

struct pipeline_cfg {
    bool enabled;
    int64_t interval;
    int64_t exporter_failure_threshold;
};

struct hc_cfg {
    char *endpoint;
    char *path;
    struct pipeline_cfg pipeline;
};

#define MAX_PROBED 64

/* What the previous check saw of one exporter's counters. */
struct probed {
    char id[128];
    int64_t sent, failed;
};

struct health_check {
    struct opd_component base;
    struct opd_telemetry *tel; /* from the host at start; NULL before */
    struct probed probed[MAX_PROBED];
    size_t n_probed;
    struct probe_pass *pass; /* the check in progress (server thread only) */
    char *endpoint, *path;
    bool check_pipeline;
    struct opd_health_policy policy;
    struct opd_httpserver *http;
    time_t up_since;
    uint64_t started_ns;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Copies the value of label key out of a rendered label set; false when absent. */
static bool label(const char *labels, const char *key, char *buf, size_t cap)
{
    char pat[64];
    const char *p, *e;
    size_t n;

    snprintf(pat, sizeof(pat), "%s=\"", key);
    p = strstr(labels, pat);
    while (p && p != labels && p[-1] != ',')
        p = strstr(p + 1, pat);
    if (!p)
        return false;
    p += strlen(pat);
    for (e = p; *e && *e != '"'; e++)
        if (*e == '\\' && e[1])
            e++;
    n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return true;
}

struct probe_pass {
    struct probed now[MAX_PROBED];
    size_t n;
};

static struct probed *pass_get(struct probe_pass *pp, const char *id)
{
    for (size_t i = 0; i < pp->n; i++)
        if (strcmp(pp->now[i].id, id) == 0)
            return &pp->now[i];
    if (pp->n >= MAX_PROBED)
        return NULL;
    memset(&pp->now[pp->n], 0, sizeof(pp->now[0]));
    snprintf(pp->now[pp->n].id, sizeof(pp->now[0].id), "%s", id);
    return &pp->now[pp->n++];
}

static void probe_metric(const struct opd_metric *m, void *arg)
{
    struct health_check *x = arg;
    char id[128], reason[32], name[160], msg[128];
    int64_t v = opd_metric_get(m);
    struct probed *p;

    if (strcmp(m->name, "otelprofd_profiling_cpus_attached") == 0 &&
        label(m->labels, "receiver", id, sizeof(id))) {
        snprintf(name, sizeof(name), "receiver/%s", id);
        if (v > 0)
            snprintf(msg, sizeof(msg), "eBPF programs attached to %lld CPU(s)", (long long)v);
        else
            snprintf(msg, sizeof(msg), "eBPF programs not attached");
        opd_health_report_derived(name, v > 0, msg);
        return;
    }
    if (strncmp(m->name, "otelcol_exporter_", 17) != 0 ||
        !label(m->labels, "exporter", id, sizeof(id)))
        return;
    p = pass_get(x->pass, id);
    if (!p)
        return;
    if (strcmp(m->name, "otelcol_exporter_sent_profile_samples") == 0)
        p->sent += v;
    else if (strcmp(m->name, "otelcol_exporter_send_retries") == 0)
        p->failed += v;
    else if (strcmp(m->name, "otelcol_exporter_dropped_profile_samples") == 0 &&
             label(m->labels, "reason", reason, sizeof(reason)) &&
             (strcmp(reason, "permanent") == 0 || strcmp(reason, "retries_exhausted") == 0))
        p->failed += v;
}

/* Turns what the counters did since the previous check into attempt reports. */
static void probe_telemetry(struct health_check *x)
{
    struct probe_pass *pp;

    if (!x->tel)
        return;
    pp = opd_calloc(1, sizeof(*pp));
    if (!pp)
        return;
    x->pass = pp;
    opd_telemetry_foreach(x->tel, probe_metric, x);
    x->pass = NULL;
    for (size_t i = 0; i < pp->n; i++) {
        struct probed *now = &pp->now[i], *before = NULL;
        char name[160];

        for (size_t k = 0; k < x->n_probed; k++)
            if (strcmp(x->probed[k].id, now->id) == 0)
                before = &x->probed[k];
        if (!before && x->n_probed < MAX_PROBED) {
            /* First sight: compare with zero, so failures before the first check count. */
            before = &x->probed[x->n_probed++];
            memset(before, 0, sizeof(*before));
            snprintf(before->id, sizeof(before->id), "%s", now->id);
        }
        if (!before)
            continue;
        snprintf(name, sizeof(name), "exporter/%s", now->id);
        if (now->sent > before->sent)
            opd_health_report_attempt(name, true, NULL);
        else if (now->failed > before->failed)
            opd_health_report_attempt(name, false,
                                      "send attempts failed and nothing was delivered since the "
                                      "last check (see otelcol_exporter_send_failed_profile_samples)");
        before->sent = now->sent;
        before->failed = now->failed;
    }
    opd_free(pp);
}

static void handle(void *ctx, const struct opd_http_request *req, struct opd_http_response *resp)
{
    struct health_check *x = ctx;
    uint64_t now;
    bool healthy = true;
    char since[32];
    struct tm tm;

    if (strcmp(req->path, x->path) != 0) {
        resp->status = 404;
        fprintf(resp->body, "not found: health is at %s\n", x->path);
        return;
    }
    if (x->check_pipeline)
        probe_telemetry(x);
    now = mono_ns();
    if (x->check_pipeline)
        healthy = opd_health_evaluate(&x->policy, now, false, NULL);
    gmtime_r(&x->up_since, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    resp->status = healthy ? 200 : 503;
    resp->content_type = "application/json";
    fprintf(resp->body, "{\"status\":\"%s\",\"upSince\":\"%s\",\"uptime\":\"%.3fs\"",
            healthy ? "Server available" : "Server not available", since,
            (double)(now - x->started_ns) / 1e9);
    if (x->check_pipeline) {
        fputs(",\"health\":", resp->body);
        /* The healthy answer lists every component; the unhealthy one only the culprits. */
        opd_health_evaluate(&x->policy, now, healthy, resp->body);
    }
    fputs("}\n", resp->body);
}

static int hc_start(struct opd_component *self, struct opd_host *host)
{
    struct health_check *x = (struct health_check *)self;
    struct opd_httpserver_params p = {0};
    int err;

    p.who = self->logname;
    p.address = x->endpoint;
    p.handler = handle;
    p.ctx = x;
    x->tel = host ? host->telemetry : NULL;
    x->up_since = time(NULL);
    x->started_ns = mono_ns();
    x->http = opd_httpserver_create(&p);
    if (!x->http)
        return -errno;
    err = opd_httpserver_start(x->http);
    if (err) {
        opd_httpserver_destroy(x->http);
        x->http = NULL;
        return err;
    }
    OPD_INFO(self->logname, "health at http://%s%s", x->endpoint, x->path);
    return 0;
}

static int hc_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct health_check *x = (struct health_check *)self;

    opd_httpserver_destroy(x->http);
    x->http = NULL;
    return 0;
}

static void hc_destroy(struct opd_component *self)
{
    struct health_check *x = (struct health_check *)self;

    if (!x)
        return;
    opd_httpserver_destroy(x->http);
    opd_free(x->endpoint);
    opd_free(x->path);
    opd_free(x);
}

static const struct opd_component_ops hc_ops = {
    .start = hc_start,
    .shutdown = hc_shutdown,
    .destroy = hc_destroy,
};

static struct opd_component *hc_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct hc_cfg *cfg = cfgp;
    struct health_check *x = opd_calloc(1, sizeof(*x));

    if (!x)
        goto nomem;
    x->base.ops = &hc_ops;
    x->endpoint = opd_strdup(cfg->endpoint);
    x->path = opd_strdup(cfg->path);
    if (!x->endpoint || !x->path)
        goto nomem;
    x->check_pipeline = cfg->pipeline.enabled;
    x->policy.window_ns = (uint64_t)cfg->pipeline.interval;
    x->policy.failure_threshold = (uint64_t)cfg->pipeline.exporter_failure_threshold;
    return &x->base;
nomem:
    hc_destroy(x ? &x->base : NULL);
    errno = ENOMEM;
    return NULL;
}

static int hc_validate(const void *cfgp, char *errbuf, size_t errlen)
{
    const struct hc_cfg *cfg = cfgp;
    char host[256], port[16];

    if (opd_http_split_address(cfg->endpoint, host, sizeof(host), port, sizeof(port))) {
        snprintf(errbuf, errlen, "endpoint '%s' is not host:port", cfg->endpoint);
        return -EINVAL;
    }
    if (cfg->path[0] != '/') {
        snprintf(errbuf, errlen, "path '%s' must start with '/'", cfg->path);
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map pipeline_map[] = {
    {OPD_CFG_BOOL, "enabled", "true", 0, 0, offsetof(struct pipeline_cfg, enabled),
     "Report 503 while a component is unhealthy (off: 200 whenever the server runs)"},
    {OPD_CFG_DURATION, "interval", "5m", 0, 0, offsetof(struct pipeline_cfg, interval),
     "Window: an exporter failure older than this no longer counts (0: never expires)"},
    {OPD_CFG_INT, "exporter_failure_threshold", "1", 1, 1000000,
     offsetof(struct pipeline_cfg, exporter_failure_threshold),
     "Consecutive failed export attempts that make an exporter unhealthy"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map hc_map[] = {
    {OPD_CFG_STRING, "endpoint", "localhost:13133", 0, 0, offsetof(struct hc_cfg, endpoint),
     "host:port the health endpoint listens on"},
    {OPD_CFG_STRING, "path", "/", 0, 0, offsetof(struct hc_cfg, path),
     "Path that answers the health check"},
    {OPD_CFG_SECTION, "check_collector_pipeline", NULL, 0, 0, offsetof(struct hc_cfg, pipeline),
     "Health of the pipeline's components", .sub = pipeline_map},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_health_check_extension_factory = {
    .type = "health_check",
    .kind = OPD_KIND_EXTENSION,
    .description = "200 while eBPF programs are attached and exporters succeed, else 503",
    .config_map = hc_map,
    .config_size = sizeof(struct hc_cfg),
    .validate = hc_validate,
    .create = hc_create,
};
