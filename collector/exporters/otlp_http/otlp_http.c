/* exporter "otlp_http" (alias "otlphttp"): POSTs each batch as one OTLP
 * ExportProfilesServiceRequest (protobuf or JSON) to {endpoint}/v1development/profiles,
 * through the shared sending queue and retry helper. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/component.h"
#include "collector/exporterhelper/eh_otlp.h"
#include "collector/exporterhelper/exporterhelper.h"
#include "collector/exporterhelper/split.h"
#include "collector/exporterhelper/tls_config.h"
#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/http/http_client.h"
#include "otlp/otlp_paths.h"
#include "otlp/profiles.h"

#ifndef OPD_VERSION
#define OPD_VERSION "0.1.0"
#endif

struct otlp_http_cfg {
    char *endpoint;
    char *profiles_endpoint;
    struct opd_tls_config tls;
    struct opd_strmap headers;
    char *compression;
    char *encoding;
    int64_t timeout_ns;
    struct opd_otlp_auth_config auth;
    struct opd_eh_queue_config sending_queue;
    struct opd_eh_retry_config retry_on_failure;
    int64_t max_request_bytes;
};

struct otlp_http {
    struct opd_component base;
    struct opd_http_client *client;
    struct opd_exporterhelper *eh;
    enum opd_grpc_compression compression;
    bool json;
    int64_t max_request_bytes;
    char **headers; /* "Name: value" lines */
    size_t n_headers;
    char *authenticator, *storage;
    struct opd_component *auth;
    struct opd_metric *m_rejected;
};

/* Reads partial_success out of a 2xx answer, in the encoding the server used. */
static void check_partial_success(struct otlp_http *x, const struct opd_http_result *res,
                                  struct opd_eh_send_status *st)
{
    int64_t rejected = 0;
    char why[256] = "";

    if (!res->body_len)
        return;
    if (strstr(res->content_type, "json")) {
        json_error_t e;
        json_t *root = json_loadb((const char *)res->body, res->body_len, 0, &e);
        json_t *ps = json_object_get(root, "partialSuccess");
        json_t *rp = json_object_get(ps, "rejectedProfiles");
        const char *msg = json_string_value(json_object_get(ps, "errorMessage"));
        /* int64 in JSON is a string by the protobuf mapping, a number by tolerance. */
        rejected = json_is_string(rp) ? strtoll(json_string_value(rp), NULL, 10)
                                      : (int64_t)json_integer_value(rp);
        if (msg)
            snprintf(why, sizeof(why), "%s", msg);
        json_decref(root);
    } else if (opd_grpc_partial_success_decode(res->body, res->body_len, &rejected, why,
                                               sizeof(why))) {
        return;
    }
    if (rejected > 0 || why[0]) {
        OPD_WARN(x->base.logname, "partial success: server rejected %lld profile(s): %s",
                 (long long)rejected, why[0] ? why : "(no message)");
        opd_metric_add(x->m_rejected, rejected);
        st->rejected = (uint64_t)(rejected > 0 ? rejected : 0);
    }
}

static int send_request(void *ctx, const uint8_t *data, size_t len, uint64_t items,
                        struct opd_eh_send_status *st)
{
    struct otlp_http *x = ctx;
    const char *hdrs[40];
    char auth[8400], an[64], av[8300];
    struct opd_http_result res;
    uint8_t *body = NULL;
    size_t body_len = len, n = 0;
    int rc;

    if (x->compression != OPD_GRPC_COMP_NONE) {
        rc = opd_grpc_compress(x->compression, data, len, 0, &body, &body_len);
        if (rc) {
            OPD_ERR(x->base.logname, "compressing %zu bytes: %s", len, strerror(-rc));
            return -EAGAIN;
        }
    }
    hdrs[n++] = x->json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf";
    if (x->compression == OPD_GRPC_COMP_GZIP)
        hdrs[n++] = "Content-Encoding: gzip";
    else if (x->compression == OPD_GRPC_COMP_ZSTD)
        hdrs[n++] = "Content-Encoding: zstd";
    for (size_t i = 0; i < x->n_headers && n < 38; i++)
        hdrs[n++] = x->headers[i];
    if (x->auth) {
        rc = opd_bearertokenauth_header(x->auth, an, sizeof(an), av, sizeof(av));
        if (rc) {
            OPD_WARN(x->base.logname, "authenticator %s has no token: %s", x->authenticator,
                     strerror(-rc));
            opd_free(body);
            return -EAGAIN;
        }
        snprintf(auth, sizeof(auth), "%s: %s", an, av);
        hdrs[n++] = auth;
    }
    rc = opd_http_post(x->client, hdrs, n, body ? body : data, body_len, &res);
    if (rc == 0) {
        check_partial_success(x, &res, st);
    } else {
        char detail[200] = "";
        if (res.status)
            snprintf(detail, sizeof(detail), "HTTP %ld %.*s", res.status,
                     (int)(res.body_len < 120 ? res.body_len : 120),
                     res.body && strstr(res.content_type, "json") ? (const char *)res.body : "");
        st->retry_after_ns = res.retry_after_ns;
        if (rc == -EAGAIN)
            OPD_WARN(x->base.logname, "export of %llu sample(s) failed, retryable: %s",
                     (unsigned long long)items, res.status ? detail : res.error);
        else
            OPD_ERR(x->base.logname, "export of %llu sample(s) failed permanently: %s",
                    (unsigned long long)items, detail);
    }
    opd_free(res.body);
    opd_free(body);
    return rc;
}

static void cancel_sends(void *ctx)
{
    struct otlp_http *x = ctx;
    opd_http_client_cancel_all(x->client);
}

static int oh_consume(struct opd_component *self, struct opd_batch *b)
{
    struct otlp_http *x = (struct otlp_http *)self;

    return opd_eh_consume_batch(x->eh, b, (size_t)x->max_request_bytes, x->json, self->logname,
                                NULL);
}

static int oh_start(struct opd_component *self, struct opd_host *host)
{
    struct otlp_http *x = (struct otlp_http *)self;

    return opd_eh_start_with_extensions(x->eh, host, self->logname, x->authenticator, &x->auth,
                                        x->storage);
}

static int oh_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct otlp_http *x = (struct otlp_http *)self;

    opd_eh_shutdown(x->eh, deadline_ns); /* leftovers are counted by the helper */
    return 0;
}

static void oh_destroy(struct opd_component *self)
{
    struct otlp_http *x = (struct otlp_http *)self;

    opd_eh_destroy(x->eh);
    opd_http_client_destroy(x->client);
    for (size_t i = 0; i < x->n_headers; i++)
        opd_free(x->headers[i]);
    opd_free(x->headers);
    opd_free(x->authenticator);
    opd_free(x->storage);
    opd_free(x);
}

static const struct opd_component_ops oh_ops = {
    .start = oh_start,
    .consume = oh_consume,
    .shutdown = oh_shutdown,
    .destroy = oh_destroy,
};

/* The URL requests go to: profiles_endpoint as given, else endpoint + the OTLP path. */
static char *build_url(const struct otlp_http_cfg *cfg)
{
    const char *base = cfg->endpoint;
    size_t n;
    char *url;

    if (cfg->profiles_endpoint && *cfg->profiles_endpoint)
        return opd_strdup(cfg->profiles_endpoint);
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    url = opd_malloc(n + sizeof(OPD_OTLP_HTTP_PROFILES_PATH));
    if (url) {
        memcpy(url, base, n);
        memcpy(url + n, OPD_OTLP_HTTP_PROFILES_PATH, sizeof(OPD_OTLP_HTTP_PROFILES_PATH));
    }
    return url;
}

static struct opd_component *oh_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct otlp_http_cfg *cfg = cfgp;
    struct otlp_http *x = opd_calloc(1, sizeof(*x));
    struct opd_http_client_opts co;
    char *url = NULL;
    int rc = -ENOMEM;

    if (!x)
        goto fail;
    x->base.ops = &oh_ops;
    x->compression = opd_grpc_compression_parse(cfg->compression);
    x->json = cfg->encoding && strcmp(cfg->encoding, "json") == 0;
    x->max_request_bytes = cfg->max_request_bytes;
    if ((int)x->compression < 0) {
        rc = -EINVAL;
        goto fail;
    }
    if (cfg->headers.n) {
        x->headers = opd_calloc(cfg->headers.n, sizeof(char *));
        if (!x->headers)
            goto fail;
    }
    for (size_t i = 0; i < cfg->headers.n; i++) {
        const char *v = cfg->headers.values[i] ? cfg->headers.values[i] : "";
        size_t l = strlen(cfg->headers.keys[i]) + strlen(v) + 3;
        x->headers[i] = opd_malloc(l);
        if (!x->headers[i])
            goto fail;
        snprintf(x->headers[i], l, "%s: %s", cfg->headers.keys[i], v);
        x->n_headers++;
    }
    if ((cfg->auth.authenticator && !(x->authenticator = opd_strdup(cfg->auth.authenticator))) ||
        (cfg->sending_queue.storage && !(x->storage = opd_strdup(cfg->sending_queue.storage))))
        goto fail;
    url = build_url(cfg);
    if (!url)
        goto fail;
    memset(&co, 0, sizeof(co));
    co.url = url;
    co.who = p->logname;
    co.tls = cfg->tls;
    co.timeout_ns = cfg->timeout_ns;
    co.user_agent = "otelprofd/" OPD_VERSION;
    x->client = opd_http_client_create(&co);
    if (!x->client) {
        rc = -errno;
        goto fail;
    }
    x->eh = opd_eh_create_otlp(p, &cfg->sending_queue, &cfg->retry_on_failure, send_request,
                               cancel_sends, x, &x->m_rejected);
    if (!x->eh) {
        rc = -errno;
        goto fail;
    }
    opd_free(url);
    return &x->base;
fail:
    opd_free(url);
    if (x)
        oh_destroy(&x->base);
    errno = -rc;
    return NULL;
}

static int oh_validate(const void *cfgp, char *err, size_t errlen)
{
    const struct otlp_http_cfg *c = cfgp;
    const char *u =
        c->profiles_endpoint && *c->profiles_endpoint ? c->profiles_endpoint : c->endpoint;

    if (!u || !*u) {
        snprintf(err, errlen, "endpoint (or profiles_endpoint) must be set");
        return -EINVAL;
    }
    if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
        snprintf(err, errlen, "endpoint must be an http:// or https:// URL, got \"%s\"", u);
        return -EINVAL;
    }
    if (opd_tls_config_check(&c->tls, err, errlen))
        return -EINVAL;
    if (opd_eh_retry_config_check(&c->retry_on_failure, err, errlen))
        return -EINVAL;
    for (size_t i = 0; i < c->headers.n; i++) {
        const char *k = c->headers.keys[i];
        if (!*k || strpbrk(k, " :\r\n") ||
            strpbrk(c->headers.values[i] ? c->headers.values[i] : "", "\r\n")) {
            snprintf(err, errlen, "headers: invalid header \"%s\"", k);
            return -EINVAL;
        }
    }
    return 0;
}

static const char *const compressions[] = {"gzip", "zstd", "none", "", NULL};
static const char *const encodings[] = {"proto", "json", NULL};

static const struct opd_config_map oh_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "endpoint",
     .offset = offsetof(struct otlp_http_cfg, endpoint),
     .desc = "base URL, e.g. https://collector:4318 (the OTLP path is appended)"},
    {.type = OPD_CFG_STRING,
     .name = "profiles_endpoint",
     .offset = offsetof(struct otlp_http_cfg, profiles_endpoint),
     .desc = "full URL for profiles, used as is"},
    {.type = OPD_CFG_SECTION,
     .name = "tls",
     .offset = offsetof(struct otlp_http_cfg, tls),
     .desc = "TLS settings",
     .sub = opd_tls_config_map},
    {.type = OPD_CFG_STRMAP,
     .name = "headers",
     .secret = true,
     .offset = offsetof(struct otlp_http_cfg, headers),
     .desc = "extra request headers (values may use ${env:VAR})"},
    {.type = OPD_CFG_ENUM,
     .name = "compression",
     .def = "gzip",
     .choices = compressions,
     .offset = offsetof(struct otlp_http_cfg, compression),
     .desc = "body compression: gzip, zstd or none"},
    {.type = OPD_CFG_ENUM,
     .name = "encoding",
     .def = "proto",
     .choices = encodings,
     .offset = offsetof(struct otlp_http_cfg, encoding),
     .desc = "proto or json"},
    {.type = OPD_CFG_DURATION,
     .name = "timeout",
     .def = "30s",
     .min = 1000000,
     .max = 3600000000000LL,
     .offset = offsetof(struct otlp_http_cfg, timeout_ns),
     .desc = "deadline of one POST"},
    {.type = OPD_CFG_SECTION,
     .name = "auth",
     .offset = offsetof(struct otlp_http_cfg, auth),
     .desc = "client authentication",
     .sub = opd_otlp_auth_config_map},
    {.type = OPD_CFG_SECTION,
     .name = "sending_queue",
     .offset = offsetof(struct otlp_http_cfg, sending_queue),
     .desc = "queue",
     .sub = opd_eh_queue_config_map},
    {.type = OPD_CFG_SECTION,
     .name = "retry_on_failure",
     .offset = offsetof(struct otlp_http_cfg, retry_on_failure),
     .desc = "retries",
     .sub = opd_eh_retry_config_map},
    {.type = OPD_CFG_BYTES,
     .name = "max_request_bytes",
     .def = "16MiB",
     .min = 4096,
     .max = 1LL << 31,
     .offset = offsetof(struct otlp_http_cfg, max_request_bytes),
     .desc = "larger encoded requests are split (uncompressed size; the Collector's HTTP "
             "receiver limit is 20 MiB)"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_otlp_http_exporter_factory = {
    .type = "otlp_http",
    .alias = "otlphttp",
    .kind = OPD_KIND_EXPORTER,
    .description = "POSTs OTLP profiles (protobuf or JSON) over HTTP with a queue and retries",
    .config_map = oh_map,
    .config_size = sizeof(struct otlp_http_cfg),
    .validate = oh_validate,
    .create = oh_create,
};
