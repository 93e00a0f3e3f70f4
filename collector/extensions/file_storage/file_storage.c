#include "collector/extensions/file_storage/file_storage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/component.h"
#include "collector/log.h"
#include "collector/mem.h"

struct fs_cfg {
    char *directory;
    bool fsync;
    bool create_directory;
    int64_t max_size;
};

struct fs_ext {
    struct opd_component base;
    char *directory;
    bool fsync, create;
    int64_t max_size;
};

bool opd_is_file_storage(const struct opd_component *c)
{
    return c && c->factory == &opd_file_storage_extension_factory;
}

int opd_file_storage_path(struct opd_component *c, const char *owner, char *buf, size_t len,
                          bool *fsync, int64_t *max_bytes)
{
    struct fs_ext *x = (struct fs_ext *)c;
    int n = snprintf(buf, len, "%s/", x->directory);
    size_t o;

    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    o = (size_t)n;
    for (const char *p = owner; *p; p++) {
        char ch = *p;
        if (o + 7 >= len)
            return -ENAMETOOLONG;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == '_'))
            ch = '_';
        buf[o++] = ch;
    }
    memcpy(buf + o, ".queue", 7);
    *fsync = x->fsync;
    *max_bytes = x->max_size;
    return 0;
}

static int fs_start(struct opd_component *self, struct opd_host *host)
{
    struct fs_ext *x = (struct fs_ext *)self;
    struct stat st;

    if (stat(x->directory, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            OPD_ERR(self->logname, "directory %s is not a directory", x->directory);
            return -ENOTDIR;
        }
    } else if (errno == ENOENT && x->create) {
        if (mkdir(x->directory, 0750) && errno != EEXIST) {
            OPD_ERR(self->logname, "create directory %s: %s", x->directory, strerror(errno));
            return -errno;
        }
    } else {
        OPD_ERR(self->logname, "directory %s: %s", x->directory, strerror(errno));
        return -errno;
    }
    if (access(x->directory, W_OK | X_OK)) {
        OPD_ERR(self->logname, "directory %s is not writable: %s", x->directory, strerror(errno));
        return -errno;
    }
    return 0;
}

static int fs_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    return 0;
}

static void fs_destroy(struct opd_component *self)
{
    struct fs_ext *x = (struct fs_ext *)self;

    opd_free(x->directory);
    opd_free(x);
}

static const struct opd_component_ops fs_ops = {
    .start = fs_start,
    .shutdown = fs_shutdown,
    .destroy = fs_destroy,
};

static struct opd_component *fs_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct fs_cfg *cfg = cfgp;
    struct fs_ext *x = opd_calloc(1, sizeof(*x));

    if (!x || !(x->directory = opd_strdup(cfg->directory))) {
        opd_free(x);
        errno = ENOMEM;
        return NULL;
    }
    x->base.ops = &fs_ops;
    x->fsync = cfg->fsync;
    x->create = cfg->create_directory;
    x->max_size = cfg->max_size;
    return &x->base;
}

static int fs_validate(const void *cfgp, char *err, size_t len)
{
    const struct fs_cfg *cfg = cfgp;

    if (!cfg->directory || !*cfg->directory) {
        snprintf(err, len, "directory must be set");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map fs_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "directory",
     .offset = offsetof(struct fs_cfg, directory),
     .desc = "Where the state files live (required)"},
    {.type = OPD_CFG_BOOL,
     .name = "fsync",
     .def = "false",
     .offset = offsetof(struct fs_cfg, fsync),
     .desc = "Make every write durable before acknowledging it"},
    {.type = OPD_CFG_BOOL,
     .name = "create_directory",
     .def = "false",
     .offset = offsetof(struct fs_cfg, create_directory),
     .desc = "Create the directory when it does not exist"},
    {.type = OPD_CFG_BYTES,
     .name = "max_size",
     .def = "1GiB",
     .min = 4096,
     .max = INT64_MAX,
     .offset = offsetof(struct fs_cfg, max_size),
     .desc = "Largest state file per component; writes beyond it fail (counted drops)"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_file_storage_extension_factory = {
    .type = "file_storage",
    .kind = OPD_KIND_EXTENSION,
    .description = "directory for state kept across restarts (persistent queues)",
    .config_map = fs_map,
    .config_size = sizeof(struct fs_cfg),
    .validate = fs_validate,
    .create = fs_create,
};
