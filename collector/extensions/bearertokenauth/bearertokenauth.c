#include "collector/extensions/bearertokenauth/bearertokenauth.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/component.h"
#include "collector/log.h"
#include "collector/mem.h"

#define MAX_TOKEN 8192

struct bta_cfg {
    char *token;
    char *filename;
    char *scheme;
    char *header;
};

struct bta {
    struct opd_component base;
    pthread_mutex_t lock;
    char *token, *filename, *scheme, *header;
    char *file_token; /* last content read from filename */
    struct timespec mtime;
    off_t size;
    ino_t ino;
    bool have_stat;
};

/* Re-reads the token file when its identity, size or mtime changed (lock held). */
static int refresh(struct bta *x)
{
    struct stat st;
    FILE *f;
    char *buf;
    size_t n;

    if (stat(x->filename, &st)) {
        OPD_WARN(x->base.logname, "token file %s: %s", x->filename, strerror(errno));
        return x->file_token ? 0 : -ENOENT;
    }
    if (x->have_stat && st.st_ino == x->ino && st.st_size == x->size &&
        st.st_mtim.tv_sec == x->mtime.tv_sec && st.st_mtim.tv_nsec == x->mtime.tv_nsec)
        return 0;
    f = fopen(x->filename, "r");
    if (!f) {
        OPD_WARN(x->base.logname, "token file %s: %s", x->filename, strerror(errno));
        return x->file_token ? 0 : -ENOENT;
    }
    buf = opd_malloc(MAX_TOKEN + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    n = fread(buf, 1, MAX_TOKEN, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        n--;
    buf[n] = '\0';
    if (n == 0 || strpbrk(buf, "\r\n")) {
        OPD_WARN(x->base.logname, "token file %s is empty or spans lines", x->filename);
        opd_free(buf);
        return x->file_token ? 0 : -ENOENT;
    }
    opd_free(x->file_token);
    x->file_token = buf;
    x->ino = st.st_ino;
    x->size = st.st_size;
    x->mtime = st.st_mtim;
    x->have_stat = true;
    OPD_DEBUG(x->base.logname, "token read from %s", x->filename);
    return 0;
}

bool opd_is_bearertokenauth(const struct opd_component *c)
{
    return c && c->factory == &opd_bearertokenauth_extension_factory;
}

int opd_bearertokenauth_header(struct opd_component *c, char *name, size_t namelen, char *value,
                               size_t valuelen)
{
    struct bta *x = (struct bta *)c;
    const char *tok;
    int rc = 0, n;

    pthread_mutex_lock(&x->lock);
    if (x->filename) {
        rc = refresh(x);
        tok = x->file_token;
    } else {
        tok = x->token;
    }
    if (rc == 0 && (!tok || !*tok))
        rc = -ENOENT;
    if (rc == 0) {
        n = snprintf(name, namelen, "%s", x->header);
        if (n < 0 || (size_t)n >= namelen)
            rc = -ENOSPC;
        n = *x->scheme ? snprintf(value, valuelen, "%s %s", x->scheme, tok)
                       : snprintf(value, valuelen, "%s", tok);
        if (n < 0 || (size_t)n >= valuelen)
            rc = -ENOSPC;
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static int bta_start(struct opd_component *self, struct opd_host *host)
{
    struct bta *x = (struct bta *)self;
    int rc = 0;

    if (x->filename) {
        pthread_mutex_lock(&x->lock);
        rc = refresh(x);
        pthread_mutex_unlock(&x->lock);
        if (rc == -ENOENT) {
            /* Not fatal: the token may be mounted later; requests fail until then. */
            OPD_WARN(self->logname, "no token in %s yet", x->filename);
            rc = 0;
        }
    }
    return rc;
}

static int bta_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    return 0;
}

static void bta_destroy(struct opd_component *self)
{
    struct bta *x = (struct bta *)self;

    pthread_mutex_destroy(&x->lock);
    opd_free(x->token);
    opd_free(x->filename);
    opd_free(x->scheme);
    opd_free(x->header);
    opd_free(x->file_token);
    opd_free(x);
}

static const struct opd_component_ops bta_ops = {
    .start = bta_start,
    .shutdown = bta_shutdown,
    .destroy = bta_destroy,
};

static struct opd_component *bta_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct bta_cfg *cfg = cfgp;
    struct bta *x = opd_calloc(1, sizeof(*x));

    if (!x)
        goto nomem;
    x->base.ops = &bta_ops;
    pthread_mutex_init(&x->lock, NULL);
    x->scheme = opd_strdup(cfg->scheme ? cfg->scheme : "");
    x->header = opd_strdup(cfg->header && *cfg->header ? cfg->header : "authorization");
    if (!x->scheme || !x->header)
        goto nomem;
    for (char *h = x->header; *h; h++)
        *h = (char)tolower((unsigned char)*h);
    if (cfg->filename && *cfg->filename) {
        x->filename = opd_strdup(cfg->filename);
        if (!x->filename)
            goto nomem;
    } else {
        x->token = opd_strdup(cfg->token ? cfg->token : "");
        if (!x->token)
            goto nomem;
    }
    return &x->base;
nomem:
    if (x)
        bta_destroy(&x->base);
    errno = ENOMEM;
    return NULL;
}

static int bta_validate(const void *cfgp, char *err, size_t len)
{
    const struct bta_cfg *cfg = cfgp;
    bool has_token = cfg->token && *cfg->token, has_file = cfg->filename && *cfg->filename;

    if (has_token == has_file) {
        snprintf(err, len, "exactly one of token or filename must be set");
        return -EINVAL;
    }
    if (has_token && strpbrk(cfg->token, "\r\n")) {
        snprintf(err, len, "token must not contain line breaks");
        return -EINVAL;
    }
    if (cfg->header && strpbrk(cfg->header, " :\r\n")) {
        snprintf(err, len, "header must be a plain header name");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_config_map bta_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "token",
     .secret = true,
     .offset = offsetof(struct bta_cfg, token),
     .desc = "Static token (use ${env:VAR} to keep it out of the file)"},
    {.type = OPD_CFG_STRING,
     .name = "filename",
     .offset = offsetof(struct bta_cfg, filename),
     .desc = "File holding the token; re-read when it changes"},
    {.type = OPD_CFG_STRING,
     .name = "scheme",
     .def = "Bearer",
     .offset = offsetof(struct bta_cfg, scheme),
     .desc = "Prefix before the token in the header value; empty sends the bare token"},
    {.type = OPD_CFG_STRING,
     .name = "header",
     .def = "authorization",
     .offset = offsetof(struct bta_cfg, header),
     .desc = "Header carrying the token"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_bearertokenauth_extension_factory = {
    .type = "bearertokenauth",
    .kind = OPD_KIND_EXTENSION,
    .description = "adds a bearer token header to export requests",
    .config_map = bta_map,
    .config_size = sizeof(struct bta_cfg),
    .validate = bta_validate,
    .create = bta_create,
};
