/* exporter "file": writes every batch to a local file, as OTLP/JSON lines, as
 * length-prefixed protobuf (the Collector file exporter's two formats), or as folded
 * stacks for flame graph tools; or, with format pprof, into a directory as one gzipped
 * pprof profile.proto per process, profile type and interval. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/component.h"
#include "collector/engine/folded.h"
#include "collector/engine/pprof_files.h"
#include "collector/engine/service.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"
#include "rotation.h"

struct file_rotation_cfg {
    int64_t max_megabytes;
    int64_t max_days;
    int64_t max_backups;
    bool localtime;
};

struct file_cfg {
    char *path;
    char *format;
    bool append;
    int64_t flush_interval;
    struct file_rotation_cfg rotation;
};

enum format { FMT_JSON, FMT_PROTO, FMT_FOLDED, FMT_PPROF };

struct file_exporter {
    struct opd_component base;
    pthread_mutex_t lock;
    struct file_cfg cfg;
    enum format format;
    bool open;        /* between a successful start and shutdown */
    FILE *f;          /* NULL with format pprof */
    uint64_t written; /* bytes in the current file */
    uint64_t last_flush_ns;
    struct opd_metric *sent, *failed;
};

static const char *const formats[] = {"json", "proto", "folded", "pprof", NULL};

static int open_output(struct file_exporter *x, bool append)
{
    struct stat st;

    if (x->format == FMT_PPROF) {
        /* A directory of files: created when missing, never truncated. */
        if (mkdir(x->cfg.path, 0755) && errno != EEXIST)
            return -errno;
        if (stat(x->cfg.path, &st))
            return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    }
    x->f = fopen(x->cfg.path, append ? "ab" : "wb");
    if (!x->f)
        return -errno;
    x->written = fstat(fileno(x->f), &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

static int write_json(struct file_exporter *x, const struct opd_batch *b)
{
    char *buf = NULL;
    size_t len = 0;
    int err = opd_json_encode(b, &buf, &len);

    if (err)
        return err;
    if (fwrite(buf, 1, len, x->f) != len || fputc('\n', x->f) == EOF)
        err = -EIO;
    else
        x->written += len + 1;
    free(buf);
    return err;
}

static int write_proto(struct file_exporter *x, const struct opd_batch *b)
{
    uint8_t *buf = NULL, hdr[4];
    size_t len = 0;
    int err = opd_proto_encode(b, &buf, &len);

    if (err)
        return err;
    if (len > UINT32_MAX) {
        err = -EMSGSIZE;
        goto out;
    }
    /* The Collector's framing: a 4-byte big-endian length before each message. */
    hdr[0] = (uint8_t)(len >> 24);
    hdr[1] = (uint8_t)(len >> 16);
    hdr[2] = (uint8_t)(len >> 8);
    hdr[3] = (uint8_t)len;
    if (fwrite(hdr, 1, 4, x->f) != 4 || fwrite(buf, 1, len, x->f) != len)
        err = -EIO;
    else
        x->written += len + 4;
out:
    free(buf);
    return err;
}

static int write_folded(struct file_exporter *x, const struct opd_batch *b)
{
    struct opd_folded f = {0};
    long before = ftell(x->f);
    int err = opd_folded_collect(&f, b);

    if (!err)
        err = opd_folded_write(&f, x->f);
    if (!err && before >= 0 && ftell(x->f) >= before)
        x->written += (uint64_t)(ftell(x->f) - before);
    opd_folded_fini(&f);
    return err;
}

static int write_one_pprof(const struct opd_pprof *pp, void *arg)
{
    struct file_exporter *x = arg;
    int err = opd_pprof_file_write(x->cfg.path, pp);

    if (!err)
        x->written += pp->len;
    return err;
}

static int write_pprof(struct file_exporter *x, const struct opd_batch *b)
{
    return opd_pprof_encode(b, write_one_pprof, x);
}

static int maybe_rotate(struct file_exporter *x)
{
    int err;

    if (x->format == FMT_PPROF || x->cfg.rotation.max_megabytes <= 0 ||
        x->written < (uint64_t)x->cfg.rotation.max_megabytes * 1024 * 1024)
        return 0;
    fclose(x->f);
    x->f = NULL;
    err = opd_file_rotate(x->cfg.path, x->cfg.rotation.max_backups, x->cfg.rotation.max_days,
                          x->cfg.rotation.localtime);
    if (err)
        OPD_WARN(x->base.logname, "rotating %s: %s", x->cfg.path, strerror(-err));
    err = open_output(x, false);
    x->open = !err;
    return err;
}

static int file_consume(struct opd_component *self, struct opd_batch *b)
{
    struct file_exporter *x = (struct file_exporter *)self;
    uint64_t samples = opd_batch_sample_count(b);
    uint64_t now;
    int err;

    pthread_mutex_lock(&x->lock);
    if (!x->open) {
        err = -EBADF;
        goto out;
    }
    switch (x->format) {
    case FMT_JSON:
        err = write_json(x, b);
        break;
    case FMT_PROTO:
        err = write_proto(x, b);
        break;
    case FMT_PPROF:
        err = write_pprof(x, b);
        break;
    default:
        err = write_folded(x, b);
        break;
    }
    now = opd_now_ns();
    if (!err && x->format != FMT_PPROF &&
        (x->cfg.flush_interval == 0 || now - x->last_flush_ns >= (uint64_t)x->cfg.flush_interval)) {
        if (fflush(x->f) != 0)
            err = -errno;
        x->last_flush_ns = now;
    }
    if (!err)
        err = maybe_rotate(x);
out:
    pthread_mutex_unlock(&x->lock);
    if (err) {
        OPD_ERR(self->logname, "writing %s: %s", x->cfg.path, strerror(-err));
        opd_metric_add(x->failed, (int64_t)samples);
    } else {
        opd_metric_add(x->sent, (int64_t)samples);
    }
    opd_batch_unref(b);
    return err;
}

static int file_start(struct opd_component *self, struct opd_host *host)
{
    struct file_exporter *x = (struct file_exporter *)self;
    int err;

    pthread_mutex_lock(&x->lock);
    err = open_output(x, x->cfg.append);
    x->open = !err;
    pthread_mutex_unlock(&x->lock);
    if (err)
        OPD_ERR(self->logname, "cannot open %s: %s", x->cfg.path, strerror(-err));
    return err;
}

static int file_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct file_exporter *x = (struct file_exporter *)self;
    int err = 0;

    pthread_mutex_lock(&x->lock);
    if (x->f && fclose(x->f) != 0)
        err = -errno;
    x->f = NULL;
    x->open = false;
    pthread_mutex_unlock(&x->lock);
    return err;
}

static void file_destroy(struct opd_component *self)
{
    struct file_exporter *x = (struct file_exporter *)self;

    if (x->f)
        fclose(x->f);
    pthread_mutex_destroy(&x->lock);
    opd_free(x->cfg.path);
    opd_free(x->cfg.format);
    opd_free(x);
}

static const struct opd_component_ops file_ops = {
    .start = file_start,
    .consume = file_consume,
    .shutdown = file_shutdown,
    .destroy = file_destroy,
};

static struct opd_component *file_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct file_cfg *cfg = cfgp;
    struct file_exporter *x = opd_calloc(1, sizeof(*x));
    char labels[512];

    if (!x)
        goto nomem;
    x->base.ops = &file_ops;
    pthread_mutex_init(&x->lock, NULL);
    x->cfg = *cfg;
    x->cfg.path = opd_strdup(cfg->path);
    x->cfg.format = opd_strdup(cfg->format);
    if (!x->cfg.path || !x->cfg.format)
        goto nomem;
    x->format = strcmp(cfg->format, "proto") == 0    ? FMT_PROTO
                : strcmp(cfg->format, "folded") == 0 ? FMT_FOLDED
                : strcmp(cfg->format, "pprof") == 0  ? FMT_PPROF
                                                     : FMT_JSON;
    snprintf(labels, sizeof(labels), "exporter=\"%s\"", p->id);
    x->sent = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                   "otelcol_exporter_sent_profile_samples", labels,
                                   "Profile samples successfully sent to destination.");
    x->failed = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                     "otelcol_exporter_send_failed_profile_samples", labels,
                                     "Profile samples that failed to be sent to destination.");
    return &x->base;
nomem:
    if (x)
        file_destroy(&x->base);
    errno = ENOMEM;
    return NULL;
}

static int file_validate(const void *cfgp, char *err, size_t len)
{
    const struct file_cfg *cfg = cfgp;

    if (!cfg->path || !cfg->path[0]) {
        snprintf(err, len, "path must be set");
        return -EINVAL;
    }
    if (cfg->format && strcmp(cfg->format, "pprof") == 0 &&
        (cfg->append || cfg->rotation.max_megabytes > 0)) {
        snprintf(err, len,
                 "format pprof writes a directory of files (path is the directory): "
                 "append and rotation do not apply");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map rotation_map[] = {
    {OPD_CFG_INT, "max_megabytes", "0", 0, 1000000,
     offsetof(struct file_rotation_cfg, max_megabytes),
     "Rotate when the file reaches this size in MiB; 0 = never rotate"},
    {OPD_CFG_INT, "max_days", "0", 0, 100000, offsetof(struct file_rotation_cfg, max_days),
     "Delete backups older than this many days; 0 = no age limit"},
    {OPD_CFG_INT, "max_backups", "100", 0, 100000,
     offsetof(struct file_rotation_cfg, max_backups), "Backups kept; 0 = keep all"},
    {OPD_CFG_BOOL, "localtime", "false", 0, 0, offsetof(struct file_rotation_cfg, localtime),
     "Name backups with local time instead of UTC"},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map file_map[] = {
    {OPD_CFG_STRING, "path", NULL, 0, 0, offsetof(struct file_cfg, path),
     "File to write (required); with format pprof the directory to write files into"},
    {OPD_CFG_ENUM, "format", "json", 0, 0, offsetof(struct file_cfg, format),
     "json (OTLP/JSON lines), proto (4-byte big-endian length + protobuf), folded, or pprof "
     "(one gzipped profile.proto per process, profile type and interval)",
     .choices = formats},
    {OPD_CFG_BOOL, "append", "false", 0, 0, offsetof(struct file_cfg, append),
     "Append to an existing file instead of truncating it"},
    {OPD_CFG_DURATION, "flush_interval", "1s", 0, 3600000000000LL,
     offsetof(struct file_cfg, flush_interval), "How often buffered output is flushed"},
    {OPD_CFG_SECTION, "rotation", NULL, 0, 0, offsetof(struct file_cfg, rotation),
     "Size-based rotation", .sub = rotation_map},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_file_exporter_factory = {
    .type = "file",
    .kind = OPD_KIND_EXPORTER,
    .description = "writes OTLP/JSON lines, length-prefixed protobuf, folded stacks or pprof files",
    .config_map = file_map,
    .config_size = sizeof(struct file_cfg),
    .validate = file_validate,
    .create = file_create,
};
