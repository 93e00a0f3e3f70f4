/* receiver "otlp_json_file" (alias "otlpjsonfile"): reads OTLP/JSON profile files (one ExportProfilesServiceRequest
 * per line, as the file exporter writes them) and feeds each line into the pipeline.
 * Files are found by glob and polled; a bad line is reported with file:line and skipped. */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "collector/component.h"
#include "collector/engine/service.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

struct ojf_cfg {
    struct opd_strlist include;
    struct opd_strlist exclude;
    int64_t poll_interval;
    char *start_at;
    bool replay_file;
    int64_t max_log_size;
};

struct tracked {
    char *path;
    dev_t dev;
    ino_t ino;
    uint64_t offset;
    uint64_t line; /* lines consumed so far */
};

struct ojf {
    struct opd_component base;
    struct ojf_cfg cfg; /* include/exclude borrowed copies owned here */
    struct opd_component *next;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool first_poll;
    struct tracked *files;
    size_t n_files, cap_files;
    char *line;
    size_t line_cap;
    struct opd_metric *accepted, *refused, *bad_lines;
};

static const char *const start_ats[] = {"beginning", "end", NULL};

static bool excluded(const struct ojf *r, const char *path)
{
    for (size_t i = 0; i < r->cfg.exclude.n; i++)
        if (fnmatch(r->cfg.exclude.v[i], path, FNM_PATHNAME) == 0)
            return true;
    return false;
}

static struct tracked *track(struct ojf *r, const char *path, const struct stat *st)
{
    struct tracked *t;

    for (size_t i = 0; i < r->n_files; i++)
        if (strcmp(r->files[i].path, path) == 0)
            return &r->files[i];
    t = OPD_VEC_PUSH_SLOT(r->files, r->n_files, r->cap_files);
    if (!t)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->path = opd_strdup(path);
    if (!t->path) {
        r->n_files--;
        return NULL;
    }
    t->dev = st->st_dev;
    t->ino = st->st_ino;
    /* start_at applies to the files present at start; later files are read whole. */
    if (r->first_poll && strcmp(r->cfg.start_at, "end") == 0)
        t->offset = (uint64_t)st->st_size;
    return t;
}

static void consume_line(struct ojf *r, struct tracked *t, char *line, size_t len)
{
    char err[256];
    struct opd_batch *b;
    uint64_t samples;
    int rc;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0)
        return;
    b = opd_json_decode(line, len, err, sizeof(err));
    if (!b) {
        OPD_WARN(r->base.logname, "%s:%" PRIu64 ": skipping line: %s", t->path, t->line, err);
        opd_metric_add(r->bad_lines, 1);
        return;
    }
    samples = opd_batch_sample_count(b);
    rc = opd_component_consume(r->next, b);
    if (rc) {
        OPD_WARN(r->base.logname, "%s:%" PRIu64 ": pipeline refused %" PRIu64 " samples: %s",
                 t->path, t->line, samples, strerror(-rc));
        opd_metric_add(r->refused, (int64_t)samples);
    } else {
        opd_metric_add(r->accepted, (int64_t)samples);
    }
}

/* Reads every complete line after t->offset. */
static void read_file(struct ojf *r, struct tracked *t)
{
    FILE *f = fopen(t->path, "rb");
    size_t len = 0;
    bool too_long = false;
    int c;

    if (!f) {
        OPD_WARN(r->base.logname, "cannot open %s: %s", t->path, strerror(errno));
        return;
    }
    if (fseeko(f, (off_t)t->offset, SEEK_SET) != 0)
        goto out;
    while ((c = getc(f)) != EOF) {
        if (c != '\n') {
            if (too_long)
                continue;
            if ((int64_t)len >= r->cfg.max_log_size) {
                too_long = true;
                continue;
            }
            if (len + 1 >= r->line_cap &&
                opd_vec_reserve((void **)&r->line, &r->line_cap, len + 2, 1)) {
                OPD_ERR(r->base.logname, "%s: out of memory for a line", t->path);
                goto out;
            }
            r->line[len++] = (char)c;
            continue;
        }
        t->line++;
        t->offset = (uint64_t)ftello(f);
        if (too_long) {
            OPD_WARN(r->base.logname, "%s:%" PRIu64 ": skipping line longer than max_log_size",
                     t->path, t->line);
            opd_metric_add(r->bad_lines, 1);
        } else {
            consume_line(r, t, r->line, len);
        }
        len = 0;
        too_long = false;
    }
    /* A partial last line stays unread until its newline arrives. */
out:
    fclose(f);
}

static void poll_once(struct ojf *r)
{
    for (size_t i = 0; i < r->cfg.include.n; i++) {
        glob_t g;

        if (glob(r->cfg.include.v[i], GLOB_NOSORT, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            const char *path = g.gl_pathv[k];
            struct tracked *t;
            struct stat st;

            if (excluded(r, path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            t = track(r, path, &st);
            if (!t)
                continue;
            /* Replaced or truncated: start over. */
            if (t->dev != st.st_dev || t->ino != st.st_ino || (uint64_t)st.st_size < t->offset) {
                t->dev = st.st_dev;
                t->ino = st.st_ino;
                t->offset = 0;
                t->line = 0;
            }
            if ((uint64_t)st.st_size > t->offset)
                read_file(r, t);
            if (r->cfg.replay_file) {
                t->offset = 0;
                t->line = 0;
            }
        }
        globfree(&g);
    }
    r->first_poll = false;
}

static void *poll_thread(void *arg)
{
    struct ojf *r = arg;
    struct timespec ts;

    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        uint64_t ns;

        pthread_mutex_unlock(&r->lock);
        poll_once(r);
        pthread_mutex_lock(&r->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        ns = (uint64_t)ts.tv_nsec + (uint64_t)r->cfg.poll_interval;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        if (!r->stop)
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

static int ojf_start(struct opd_component *self, struct opd_host *host)
{
    struct ojf *r = (struct ojf *)self;
    int err = pthread_create(&r->thread, NULL, poll_thread, r);

    if (err)
        return -err;
    r->running = true;
    return 0;
}

static int ojf_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct ojf *r = (struct ojf *)self;

    if (!r->running)
        return 0;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    r->running = false;
    /* What was appended since the last poll still goes out. */
    if (!r->cfg.replay_file)
        poll_once(r);
    return 0;
}

static void ojf_destroy(struct opd_component *self)
{
    struct ojf *r = (struct ojf *)self;

    for (size_t i = 0; i < r->n_files; i++)
        opd_free(r->files[i].path);
    opd_free(r->files);
    opd_free(r->line);
    for (size_t i = 0; i < r->cfg.include.n; i++)
        opd_free(r->cfg.include.v[i]);
    for (size_t i = 0; i < r->cfg.exclude.n; i++)
        opd_free(r->cfg.exclude.v[i]);
    opd_free(r->cfg.include.v);
    opd_free(r->cfg.exclude.v);
    opd_free(r->cfg.start_at);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    opd_free(r);
}

static int copy_list(struct opd_strlist *dst, const struct opd_strlist *src)
{
    dst->n = 0;
    dst->v = opd_calloc(src->n, sizeof(*dst->v));
    if (!dst->v)
        return -ENOMEM;
    for (; dst->n < src->n; dst->n++) {
        dst->v[dst->n] = opd_strdup(src->v[dst->n]);
        if (!dst->v[dst->n])
            return -ENOMEM;
    }
    return 0;
}

static const struct opd_component_ops ojf_ops = {
    .start = ojf_start,
    .shutdown = ojf_shutdown,
    .destroy = ojf_destroy,
};

static struct opd_component *ojf_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct ojf_cfg *cfg = cfgp;
    struct ojf *r = opd_calloc(1, sizeof(*r));
    char labels[512];

    if (!r)
        goto nomem;
    r->base.ops = &ojf_ops;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->next = p->next;
    r->first_poll = true;
    r->cfg.poll_interval = cfg->poll_interval;
    r->cfg.replay_file = cfg->replay_file;
    r->cfg.max_log_size = cfg->max_log_size;
    r->cfg.start_at = opd_strdup(cfg->start_at);
    if (!r->cfg.start_at || copy_list(&r->cfg.include, &cfg->include) ||
        copy_list(&r->cfg.exclude, &cfg->exclude))
        goto nomem;
    snprintf(labels, sizeof(labels), "receiver=\"%s\"", p->id);
    r->accepted = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                       "otelcol_receiver_accepted_profile_samples", labels,
                                       "Profile samples pushed into the pipeline.");
    r->refused = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                      "otelcol_receiver_refused_profile_samples", labels,
                                      "Profile samples the pipeline refused.");
    r->bad_lines = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                        "otelprofd_otlpjsonfile_bad_lines", labels,
                                        "Lines skipped because they were not OTLP/JSON.");
    return &r->base;
nomem:
    if (r)
        ojf_destroy(&r->base);
    errno = ENOMEM;
    return NULL;
}

static int ojf_validate(const void *cfgp, char *err, size_t len)
{
    const struct ojf_cfg *cfg = cfgp;

    if (cfg->include.n == 0) {
        snprintf(err, len, "include must list at least one file or glob");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map ojf_map[] = {
    {OPD_CFG_STRLIST, "include", NULL, 0, 0, offsetof(struct ojf_cfg, include),
     "Files or globs to read (required)"},
    {OPD_CFG_STRLIST, "exclude", NULL, 0, 0, offsetof(struct ojf_cfg, exclude),
     "Globs of files to skip"},
    {OPD_CFG_DURATION, "poll_interval", "200ms", 1000000, 3600000000000LL,
     offsetof(struct ojf_cfg, poll_interval), "How often the files are checked for new lines"},
    {OPD_CFG_ENUM, "start_at", "end", 0, 0, offsetof(struct ojf_cfg, start_at),
     "Where to start in files present at start: beginning or end", .choices = start_ats},
    {OPD_CFG_BOOL, "replay_file", "false", 0, 0, offsetof(struct ojf_cfg, replay_file),
     "Read each file whole again at every poll"},
    {OPD_CFG_BYTES, "max_log_size", "64MiB", 1024, 1LL << 32,
     offsetof(struct ojf_cfg, max_log_size), "Longest line accepted; longer ones are skipped"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_otlpjsonfile_receiver_factory = {
    .type = "otlp_json_file",
    .alias = "otlpjsonfile", /* the Collector's name before its snake_case rename */
    .kind = OPD_KIND_RECEIVER,
    .description = "reads OTLP/JSON profile files",
    .config_map = ojf_map,
    .config_size = sizeof(struct ojf_cfg),
    .validate = ojf_validate,
    .create = ojf_create,
};
