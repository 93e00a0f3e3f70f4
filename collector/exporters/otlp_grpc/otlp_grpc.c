/* exporter "otlp_grpc" (alias "otlp"): sends each batch as one OTLP
 * ExportProfilesServiceRequest over gRPC to a Collector, through the shared sending
 * queue and retry helper, so consume() only encodes and enqueues. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/exporterhelper/eh_otlp.h"
#include "collector/exporterhelper/exporterhelper.h"
#include "collector/exporterhelper/split.h"
#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/grpc/grpc_client.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/otlp_paths.h"
#include "otlp/profiles.h"

#ifndef OPD_VERSION
#define OPD_VERSION "0.1.0"
#endif

#define MAX_HEADERS OPD_OTLP_MAX_HEADERS

struct otlp_grpc {
    struct opd_component base;
    struct opd_grpc_client *client;
    struct opd_exporterhelper *eh;
    _Atomic int compression; /* may fall back when the server lacks the configured one */
    int64_t timeout_ns;
    int64_t max_request_bytes;
    struct opd_grpc_header headers[MAX_HEADERS];
    size_t n_headers;
    char *authenticator, *storage;
    struct opd_component *auth;
    struct opd_metric *m_rejected, *m_split;
    bool started;
};

static int send_request(void *ctx, const uint8_t *data, size_t len, uint64_t items,
                        struct opd_eh_send_status *st)
{
    struct otlp_grpc *x = ctx;
    struct opd_grpc_header hdrs[MAX_HEADERS + 2];
    struct opd_grpc_result res;
    char auth_name[64], auth_value[8300];
    enum opd_grpc_compression comp = atomic_load(&x->compression);
    const char *enc = opd_grpc_compression_name(comp);
    uint8_t *frame = NULL;
    size_t frame_len, n = 0;
    int rc;

    memset(&res, 0, sizeof(res));
    rc = opd_grpc_frame_encode(comp, data, len, &frame, &frame_len);
    if (rc) {
        OPD_ERR(x->base.logname, "framing a %zu-byte request: %s", len, strerror(-rc));
        return rc == -ENOMEM ? -EAGAIN : rc;
    }
    for (size_t i = 0; i < x->n_headers; i++)
        hdrs[n++] = x->headers[i];
    if (enc)
        hdrs[n++] = (struct opd_grpc_header){"grpc-encoding", enc};
    if (x->auth) {
        rc = opd_bearertokenauth_header(x->auth, auth_name, sizeof(auth_name), auth_value,
                                        sizeof(auth_value));
        if (rc) {
            OPD_WARN(x->base.logname, "authenticator %s has no token: %s", x->authenticator,
                     strerror(-rc));
            rc = -EAGAIN;
            goto out;
        }
        hdrs[n++] = (struct opd_grpc_header){auth_name, auth_value};
    }
    rc = opd_grpc_client_call(x->client, OPD_OTLP_GRPC_PROFILES_METHOD, hdrs, n, frame, frame_len,
                              opd_grpc_now_ns() + (uint64_t)x->timeout_ns, &res);
    if (rc == 0) {
        const uint8_t *msg;
        size_t msg_len;
        uint8_t *owned = NULL;
        int64_t rejected = 0;
        char why[256] = "";
        if (opd_grpc_frame_decode(res.body, res.body_len, res.encoding[0] ? res.encoding : NULL,
                                  1 << 20, &msg, &msg_len, &owned) == 0 &&
            opd_grpc_partial_success_decode(msg, msg_len, &rejected, why, sizeof(why)) == 0 &&
            (rejected > 0 || why[0])) {
            OPD_WARN(x->base.logname, "partial success: server rejected %lld profile(s): %s",
                     (long long)rejected, why[0] ? why : "(no message)");
            opd_metric_add(x->m_rejected, rejected);
            st->rejected = (uint64_t)rejected;
        }
        opd_free(owned);
        goto out;
    }
    if (comp != OPD_GRPC_COMP_NONE && res.code == OPD_GRPC_UNIMPLEMENTED &&
        (res.accept_encoding[0] ? !opd_grpc_encoding_listed(res.accept_encoding, enc)
                                : strstr(res.message, enc) != NULL)) {
        /* The server cannot decode our encoding (grpc-js, for one, has no zstd): fall back
         * to gzip, which every OTLP server must accept, or to none, and resend. */
        enum opd_grpc_compression next =
            comp != OPD_GRPC_COMP_GZIP && (!res.accept_encoding[0] ||
                                           opd_grpc_encoding_listed(res.accept_encoding, "gzip"))
                ? OPD_GRPC_COMP_GZIP
                : OPD_GRPC_COMP_NONE;
        atomic_store(&x->compression, next);
        OPD_WARN(x->base.logname, "server does not accept compression %s (%s): switching to %s",
                 enc, res.accept_encoding[0] ? res.accept_encoding : res.message,
                 next == OPD_GRPC_COMP_GZIP ? "gzip" : "none");
        st->resend_now = true;
        rc = -EAGAIN;
        goto out;
    }
    if (res.has_retry_info)
        st->retry_after_ns = res.retry_delay_ns;
    if (rc == -EAGAIN)
        OPD_WARN(x->base.logname, "export of %llu sample(s) failed, retryable: %s: %s",
                 (unsigned long long)items, opd_grpc_code_name(res.code), res.message);
    else
        OPD_ERR(x->base.logname, "export of %llu sample(s) failed permanently: %s: %s",
                (unsigned long long)items, opd_grpc_code_name(res.code), res.message);
out:
    opd_free(res.body);
    opd_free(frame);
    return rc;
}

static void cancel_sends(void *ctx)
{
    struct otlp_grpc *x = ctx;

    opd_grpc_client_cancel_all(x->client);
}

static int og_consume(struct opd_component *self, struct opd_batch *b)
{
    struct otlp_grpc *x = (struct otlp_grpc *)self;

    return opd_eh_consume_batch(x->eh, b, (size_t)x->max_request_bytes, 0, self->logname,
                                x->m_split);
}

static int og_start(struct opd_component *self, struct opd_host *host)
{
    struct otlp_grpc *x = (struct otlp_grpc *)self;
    int rc = opd_eh_start_with_extensions(x->eh, host, self->logname, x->authenticator,
                                          &x->auth, x->storage);

    if (rc == 0)
        x->started = true;
    return rc;
}

static int og_shutdown(struct opd_component *self, uint64_t deadline_ns)
{
    struct otlp_grpc *x = (struct otlp_grpc *)self;

    /* What the deadline cut off is logged and counted by the helper, not an error of
     * the shutdown itself. */
    opd_eh_shutdown(x->eh, deadline_ns);
    return 0;
}

static void og_destroy(struct opd_component *self)
{
    struct otlp_grpc *x = (struct otlp_grpc *)self;

    opd_eh_destroy(x->eh); /* joins the consumers before the client goes away */
    opd_grpc_client_destroy(x->client);
    for (size_t i = 0; i < x->n_headers; i++) {
        opd_free((char *)x->headers[i].name);
        opd_free((char *)x->headers[i].value);
    }
    opd_free(x->authenticator);
    opd_free(x->storage);
    opd_free(x);
}

static const struct opd_component_ops og_ops = {
    .start = og_start,
    .consume = og_consume,
    .shutdown = og_shutdown,
    .destroy = og_destroy,
};

static struct opd_component *og_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct opd_otlp_grpc_config *cfg = cfgp;
    struct otlp_grpc *x = opd_calloc(1, sizeof(*x));
    struct opd_grpc_client_opts co;
    char labels[256];
    int rc = -ENOMEM;

    if (!x)
        goto fail;
    x->base.ops = &og_ops;
    atomic_store(&x->compression, opd_grpc_compression_parse(cfg->compression));
    if (atomic_load(&x->compression) < 0) {
        rc = -EINVAL;
        goto fail;
    }
    x->timeout_ns = cfg->timeout_ns;
    x->max_request_bytes = cfg->max_request_bytes;
    for (size_t i = 0; i < cfg->headers.n && i < MAX_HEADERS; i++) {
        char *name = opd_strdup(cfg->headers.keys[i]);
        char *value = opd_strdup(cfg->headers.values[i]);
        if (!name || !value) {
            opd_free(name);
            opd_free(value);
            goto fail;
        }
        for (char *c = name; *c; c++)
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        x->headers[x->n_headers++] = (struct opd_grpc_header){name, value};
    }
    if ((cfg->auth.authenticator && !(x->authenticator = opd_strdup(cfg->auth.authenticator))) ||
        (cfg->sending_queue.storage && !(x->storage = opd_strdup(cfg->sending_queue.storage))))
        goto fail;

    memset(&co, 0, sizeof(co));
    co.endpoint = cfg->endpoint;
    co.who = p->logname;
    co.tls = cfg->tls;
    co.keepalive_time_ns = cfg->keepalive.time_ns;
    co.keepalive_timeout_ns = cfg->keepalive.timeout_ns;
    co.keepalive_without_calls = cfg->keepalive.permit_without_stream;
    co.user_agent = "otelprofd/" OPD_VERSION;
    x->client = opd_grpc_client_create(&co);
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
    if (p->telemetry) {
        snprintf(labels, sizeof(labels), "exporter=\"%s\"", p->id);
        x->m_split = opd_telemetry_metric(
            p->telemetry, OPD_METRIC_COUNTER, "otelcol_exporter_split_requests", labels,
            "Extra requests made by splitting batches over max_request_bytes.");
    }
    return &x->base;
fail:
    if (x)
        og_destroy(&x->base);
    errno = -rc;
    return NULL;
}

const struct opd_factory opd_otlp_grpc_exporter_factory = {
    .type = "otlp_grpc",
    .alias = "otlp",
    .kind = OPD_KIND_EXPORTER,
    .description = "sends OTLP profiles over gRPC (HTTP/2, TLS) with a queue and retries",
    .config_map = opd_otlp_grpc_config_map,
    .config_size = sizeof(struct opd_otlp_grpc_config),
    .validate = opd_otlp_grpc_config_validate,
    .create = og_create,
};
