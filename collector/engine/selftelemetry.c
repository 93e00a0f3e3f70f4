#include "collector/engine/selftelemetry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collector/httpserver/httpserver.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

#define WHO      "telemetry"
#define MAX_ROWS 64

struct opd_selftelemetry {
    struct opd_telemetry *tel;
    struct opd_httpserver *http;
};

/* ---- exposition --------------------------------------------------------------------- */

static void write_help(FILE *out, const char *help)
{
    for (; *help; help++) {
        if (*help == '\\')
            fputs("\\\\", out);
        else if (*help == '\n')
            fputs("\\n", out);
        else
            fputc(*help, out);
    }
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Writes the HELP/TYPE head of a family. A counter's family name carries `_total` in the
 * 0.0.4 text format and not in OpenMetrics, where only its samples do. */
static void family_head(FILE *out, const char *name, const char *help, bool counter,
                        bool openmetrics)
{
    const char *suffix = counter && !openmetrics && !has_suffix(name, "_total") ? "_total" : "";
    size_t base = strlen(name);

    if (counter && openmetrics && has_suffix(name, "_total"))
        base -= 6;
    fprintf(out, "# HELP %.*s%s ", (int)base, name, suffix);
    write_help(out, help && help[0] ? help : name);
    fprintf(out, "\n# TYPE %.*s%s %s\n", (int)base, name, suffix, counter ? "counter" : "gauge");
}

static void sample_line(FILE *out, const char *name, bool counter, const char *labels,
                        const char *value)
{
    fprintf(out, "%s%s", name, counter && !has_suffix(name, "_total") ? "_total" : "");
    if (labels && labels[0])
        fprintf(out, "{%s}", labels);
    fprintf(out, " %s\n", value);
}

struct snap {
    const struct opd_metric **v;
    size_t n, cap;
    int err;
};

static void snap_add(const struct opd_metric *m, void *arg)
{
    struct snap *s = arg;
    const struct opd_metric **slot;

    if (s->err)
        return;
    slot = OPD_VEC_PUSH_SLOT(s->v, s->n, s->cap);
    if (!slot)
        s->err = -ENOMEM;
    else
        *slot = m;
}

static void write_registry(const struct snap *s, bool openmetrics, FILE *out)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct opd_metric *m = s->v[i];
        bool seen = false, counter = m->type == OPD_METRIC_COUNTER;

        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(s->v[j]->name, m->name) == 0;
        if (seen)
            continue;
        family_head(out, m->name, m->help, counter, openmetrics);
        for (size_t j = i; j < s->n; j++) {
            char v[48];
            if (strcmp(s->v[j]->name, m->name) != 0)
                continue;
            opd_metric_format(s->v[j], v, sizeof(v));
            sample_line(out, m->name, counter, s->v[j]->labels, v);
        }
    }
}

/* Resident set size from /proc/self/statm; -1 when unreadable. */
static int64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size, rss;
    int n;

    if (!f)
        return -1;
    n = fscanf(f, "%lld %lld", &size, &rss);
    fclose(f);
    return n == 2 ? rss * (int64_t)sysconf(_SC_PAGESIZE) : -1;
}

/* Seconds since the process started: system uptime minus the start tick in
 * /proc/self/stat. -1 when unreadable. */
static double uptime_seconds(void)
{
    char buf[1024], *p;
    unsigned long long start = 0;
    double up = 0;
    FILE *f;
    size_t n;

    f = fopen("/proc/uptime", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%lf", &up) != 1)
        up = -1;
    fclose(f);
    f = fopen("/proc/self/stat", "r");
    if (!f || up < 0) {
        if (f)
            fclose(f);
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may hold spaces and parentheses: fields resume after the last ')'. */
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* starttime is field 22; after ')' come fields 3.. so skip 19 more separators. */
    for (int i = 0; i < 20 && p; i++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &start) != 1)
        return -1;
    return up - (double)start / (double)sysconf(_SC_CLK_TCK);
}

static void write_process(bool openmetrics, FILE *out)
{
    struct rusage ru;
    char v[64];
    int64_t rss = rss_bytes();
    double up = uptime_seconds();

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        family_head(out, "otelcol_process_cpu_seconds", "Total CPU user and system time in seconds",
                    true, openmetrics);
        snprintf(v, sizeof(v), "%.6f", cpu);
        sample_line(out, "otelcol_process_cpu_seconds", true, "", v);
    }
    if (rss >= 0) {
        family_head(out, "otelcol_process_memory_rss_bytes",
                    "Total physical memory (resident set size) in bytes", false, openmetrics);
        snprintf(v, sizeof(v), "%" PRId64, rss);
        sample_line(out, "otelcol_process_memory_rss_bytes", false, "", v);
    }
    if (up >= 0) {
        family_head(out, "otelcol_process_uptime_seconds", "Uptime of the process in seconds", true,
                    openmetrics);
        snprintf(v, sizeof(v), "%.3f", up);
        sample_line(out, "otelcol_process_uptime_seconds", true, "", v);
    }
}

/* ---- loss accounting ----------------------------------------------------------------- */

/* Copies the value of key in a rendered label set (key="value",...) into buf; false when
 * absent. Values are as rendered: escapes are kept, which is fine for matching. */
static bool label_value(const char *labels, const char *key, char *buf, size_t cap)
{
    size_t kl = strlen(key);
    const char *p = labels;

    while (p && *p) {
        const char *eq = strchr(p, '=');
        const char *v, *e;

        if (!eq || eq[1] != '"')
            return false;
        v = eq + 2;
        for (e = v; *e && *e != '"'; e++)
            if (*e == '\\' && e[1])
                e++;
        if ((size_t)(eq - p) == kl && strncmp(p, key, kl) == 0) {
            size_t n = (size_t)(e - v);
            if (n >= cap)
                n = cap - 1;
            memcpy(buf, v, n);
            buf[n] = '\0';
            return true;
        }
        p = *e ? e + 1 : e;
        if (*p == ',')
            p++;
    }
    return false;
}

struct loss_ctx {
    struct opd_loss_row *rows; /* every exporter found, grown as needed */
    size_t n, cap;
    int err;
    int64_t entered;
    struct {
        char reason[32];
        int64_t n;
    } common[OPD_LOSS_MAX_REASONS];
    size_t n_common;
    char profiling_receivers[16][128];
    size_t n_prof;
};

static void row_drop(struct opd_loss_row *r, const char *reason, int64_t v)
{
    for (size_t i = 0; i < r->n_dropped; i++)
        if (strcmp(r->dropped[i].reason, reason) == 0) {
            r->dropped[i].n += v;
            return;
        }
    if (r->n_dropped >= OPD_LOSS_MAX_REASONS)
        return;
    snprintf(r->dropped[r->n_dropped].reason, sizeof(r->dropped[0].reason), "%s", reason);
    r->dropped[r->n_dropped++].n = v;
}

static void common_drop(struct loss_ctx *c, const char *reason, int64_t v)
{
    for (size_t i = 0; i < c->n_common; i++)
        if (strcmp(c->common[i].reason, reason) == 0) {
            c->common[i].n += v;
            return;
        }
    if (c->n_common < OPD_LOSS_MAX_REASONS) {
        snprintf(c->common[c->n_common].reason, sizeof(c->common[0].reason), "%s", reason);
        c->common[c->n_common++].n = v;
    }
}

static struct opd_loss_row *row_get(struct loss_ctx *c, const char *exporter)
{
    struct opd_loss_row *r;

    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->rows[i].exporter, exporter) == 0)
            return &c->rows[i];
    r = OPD_VEC_PUSH_SLOT(c->rows, c->n, c->cap);
    if (!r) {
        c->err = -ENOMEM;
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    snprintf(r->exporter, sizeof(r->exporter), "%s", exporter);
    return r;
}

static bool is_profiling_receiver(const struct loss_ctx *c, const char *r)
{
    for (size_t i = 0; i < c->n_prof; i++)
        if (strcmp(c->profiling_receivers[i], r) == 0)
            return true;
    return false;
}

/* First pass: which receivers are profiling receivers (they count what the kernel took). */
static void loss_pass_receivers(const struct opd_metric *m, void *arg)
{
    struct loss_ctx *c = arg;
    char r[128];

    if (strcmp(m->name, "otelprofd_profiling_samples_taken") != 0)
        return;
    if (!label_value(m->labels, "receiver", r, sizeof(r)))
        r[0] = '\0';
    if (c->n_prof < 16 && !is_profiling_receiver(c, r))
        snprintf(c->profiling_receivers[c->n_prof++], 128, "%s", r);
}

/* A processor's own otelprofd_<type>_dropped_samples{processor="…"} counter (e.g. the
 * redaction processor's); the reason is <type>. */
static bool is_processor_drop_counter(const struct opd_metric *m, char *reason, size_t cap)
{
    static const char prefix[] = "otelprofd_", suffix[] = "_dropped_samples";
    size_t n = strlen(m->name), p = sizeof(prefix) - 1, q = sizeof(suffix) - 1;
    char who[128];

    if (n <= p + q || strncmp(m->name, prefix, p) != 0 || strcmp(m->name + n - q, suffix) != 0 ||
        !label_value(m->labels, "processor", who, sizeof(who)))
        return false;
    snprintf(reason, cap, "%.*s", (int)(n - p - q), m->name + p);
    return true;
}

static void loss_pass_values(const struct opd_metric *m, void *arg)
{
    struct loss_ctx *c = arg;
    int64_t v = opd_metric_get(m);
    char who[128], reason[32];
    struct opd_loss_row *row;

    if (!label_value(m->labels, "receiver", who, sizeof(who)))
        who[0] = '\0';
    if (strcmp(m->name, "otelprofd_profiling_samples_taken") == 0) {
        c->entered += v;
    } else if (strcmp(m->name, "otelprofd_profiling_samples_idle") == 0) {
        common_drop(c, "idle", v);
    } else if (strcmp(m->name, "otelprofd_profiling_samples_lost") == 0) {
        /* Only these reasons mean "not recorded"; the others are recorded incomplete. */
        if (label_value(m->labels, "reason", reason, sizeof(reason)) &&
            (strcmp(reason, "filtered") == 0 || strcmp(reason, "map_full") == 0))
            common_drop(c, reason, v);
    } else if (strcmp(m->name, "otelprofd_profiling_samples_comm_filtered") == 0) {
        common_drop(c, "comm_filtered", v);
    } else if (strcmp(m->name, "otelcol_receiver_refused_profile_samples") == 0) {
        /* Not a drop: behind a fanout an error from one exporter refuses the batch while
         * the others took it, and that exporter counts its own drop. */
        if (!is_profiling_receiver(c, who))
            c->entered += v;
    } else if (strcmp(m->name, "otelcol_receiver_accepted_profile_samples") == 0) {
        if (!is_profiling_receiver(c, who))
            c->entered += v;
    } else if (strcmp(m->name, "otelprofd_processor_dropped_profiles") == 0) {
        if (!label_value(m->labels, "reason", reason, sizeof(reason)))
            snprintf(reason, sizeof(reason), "processor");
        common_drop(c, reason, v);
    } else if (is_processor_drop_counter(m, reason, sizeof(reason))) {
        common_drop(c, reason, v);
    } else if ((strncmp(m->name, "otelcol_exporter_", 17) == 0 ||
                strcmp(m->name, "otelprofd_exporter_queue_samples") == 0) &&
               label_value(m->labels, "exporter", who, sizeof(who))) {
        if (strcmp(m->name, "otelcol_exporter_sent_profile_samples") == 0) {
            row = row_get(c, who);
            if (row)
                row->delivered += v;
        } else if (strcmp(m->name, "otelcol_exporter_queue_size") == 0) {
            /* In the queue's sizer units: samples only with sizer "items". */
            row = row_get(c, who);
            if (row && !row->pending_in_samples)
                row->pending += v;
        } else if (strcmp(m->name, "otelprofd_exporter_queue_samples") == 0) {
            row = row_get(c, who);
            if (row) {
                if (!row->pending_in_samples)
                    row->pending = 0;
                row->pending_in_samples = true;
                row->pending += v;
            }
        } else if (strcmp(m->name, "otelcol_exporter_dropped_profile_samples") == 0) {
            row = row_get(c, who);
            if (!label_value(m->labels, "reason", reason, sizeof(reason)))
                snprintf(reason, sizeof(reason), "unknown");
            if (row)
                row_drop(row, reason, v);
        }
    }
}

size_t opd_loss_compute(struct opd_telemetry *tel, struct opd_loss_row *rows, size_t cap)
{
    struct loss_ctx c;

    memset(&c, 0, sizeof(c));
    opd_telemetry_foreach(tel, loss_pass_receivers, &c);
    opd_telemetry_foreach(tel, loss_pass_values, &c);
    for (size_t i = 0; i < c.n; i++) {
        struct opd_loss_row *r = &c.rows[i];
        int64_t dropped = 0;

        /* Drops before the fanout count against every exporter. */
        for (size_t k = 0; k < c.n_common; k++)
            row_drop(r, c.common[k].reason, c.common[k].n);
        for (size_t k = 0; k < r->n_dropped; k++)
            dropped += r->dropped[k].n;
        r->entered = c.entered;
        r->unaccounted = r->entered - r->delivered - dropped - r->pending;
        if (i < cap)
            rows[i] = *r;
    }
    opd_free(c.rows);
    /* Out of memory mid-way: report only what was complete, which is nothing reliable. */
    return c.err ? 0 : c.n;
}

static void write_loss(struct opd_telemetry *tel, bool openmetrics, FILE *out)
{
    struct opd_loss_row *rows = opd_calloc(MAX_ROWS, sizeof(*rows));
    size_t n;
    char labels[256], v[32];

    if (!rows)
        return;
    n = opd_loss_compute(tel, rows, MAX_ROWS);
    if (n > MAX_ROWS)
        n = MAX_ROWS;
    if (n == 0)
        goto out;
    family_head(out, "otelprofd_loss_samples_entered",
                "Samples that entered the daemon (taken in the kernel or received)", true,
                openmetrics);
    snprintf(v, sizeof(v), "%" PRId64, rows[0].entered);
    sample_line(out, "otelprofd_loss_samples_entered", true, "", v);
    family_head(out, "otelprofd_loss_samples_delivered", "Samples an exporter delivered", true,
                openmetrics);
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof(labels), "exporter=\"%s\"", rows[i].exporter);
        snprintf(v, sizeof(v), "%" PRId64, rows[i].delivered);
        sample_line(out, "otelprofd_loss_samples_delivered", true, labels, v);
    }
    family_head(out, "otelprofd_loss_samples_dropped",
                "Samples that did not reach an exporter's destination, by reason", true,
                openmetrics);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < rows[i].n_dropped; k++) {
            snprintf(labels, sizeof(labels), "exporter=\"%s\",reason=\"%s\"", rows[i].exporter,
                     rows[i].dropped[k].reason);
            snprintf(v, sizeof(v), "%" PRId64, rows[i].dropped[k].n);
            sample_line(out, "otelprofd_loss_samples_dropped", true, labels, v);
        }
    family_head(out, "otelprofd_loss_samples_pending", "Samples queued in an exporter", false,
                openmetrics);
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof(labels), "exporter=\"%s\"", rows[i].exporter);
        snprintf(v, sizeof(v), "%" PRId64, rows[i].pending);
        sample_line(out, "otelprofd_loss_samples_pending", false, labels, v);
    }
    family_head(out, "otelprofd_loss_samples_unaccounted",
                "entered - delivered - dropped - pending: samples in flight, or lost uncounted",
                false, openmetrics);
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof(labels), "exporter=\"%s\"", rows[i].exporter);
        snprintf(v, sizeof(v), "%" PRId64, rows[i].unaccounted);
        sample_line(out, "otelprofd_loss_samples_unaccounted", false, labels, v);
    }
out:
    opd_free(rows);
}

int opd_selftelemetry_write(struct opd_telemetry *tel, bool openmetrics, FILE *out)
{
    struct snap s = {0};

    opd_telemetry_foreach(tel, snap_add, &s);
    write_registry(&s, openmetrics, out);
    opd_free(s.v);
    write_process(openmetrics, out);
    write_loss(tel, openmetrics, out);
    if (openmetrics)
        fputs("# EOF\n", out);
    if (s.err)
        return s.err;
    return ferror(out) ? -EIO : 0;
}

/* ---- endpoint ------------------------------------------------------------------------ */

static void handle(void *ctx, const struct opd_http_request *req, struct opd_http_response *resp)
{
    struct opd_selftelemetry *st = ctx;
    bool om;

    if (strcmp(req->path, "/metrics") != 0) {
        resp->status = 404;
        fputs("not found: metrics are at /metrics\n", resp->body);
        return;
    }
    om = opd_http_wants_openmetrics(req);
    resp->content_type = om ? OPD_HTTP_CT_OPENMETRICS : OPD_HTTP_CT_PROMETHEUS;
    if (opd_selftelemetry_write(st->tel, om, resp->body))
        resp->status = 500;
}

struct opd_selftelemetry *opd_selftelemetry_start(const char *address, struct opd_telemetry *tel)
{
    struct opd_selftelemetry *st = opd_calloc(1, sizeof(*st));
    struct opd_httpserver_params p = {0};
    int err = -ENOMEM;

    if (!st)
        goto out;
    st->tel = tel;
    p.who = WHO;
    p.address = address;
    p.handler = handle;
    p.ctx = st;
    st->http = opd_httpserver_create(&p);
    if (!st->http) {
        err = -errno;
        goto out;
    }
    err = opd_httpserver_start(st->http);
    if (!err)
        OPD_INFO(WHO, "serving self-metrics at http://%s/metrics (port %d)", address,
                 opd_httpserver_port(st->http));
out:
    if (err) {
        if (st)
            opd_httpserver_destroy(st->http);
        opd_free(st);
        errno = -err;
        return NULL;
    }
    return st;
}

int opd_selftelemetry_port(const struct opd_selftelemetry *st)
{
    return st ? opd_httpserver_port(st->http) : -1;
}

void opd_selftelemetry_stop(struct opd_selftelemetry *st)
{
    struct opd_loss_row *rows;
    size_t n;

    if (!st)
        return;
    rows = opd_calloc(MAX_ROWS, sizeof(*rows));
    n = rows ? opd_loss_compute(st->tel, rows, MAX_ROWS) : 0;
    for (size_t i = 0; i < n && i < MAX_ROWS; i++)
        OPD_INFO(WHO,
                 "loss accounting exporter/%s: entered=%" PRId64 " delivered=%" PRId64
                 " dropped=%" PRId64 " pending=%" PRId64 " unaccounted=%" PRId64,
                 rows[i].exporter, rows[i].entered, rows[i].delivered,
                 rows[i].entered - rows[i].delivered - rows[i].pending - rows[i].unaccounted,
                 rows[i].pending, rows[i].unaccounted);
    opd_free(rows);
    opd_httpserver_destroy(st->http);
    opd_free(st);
}
