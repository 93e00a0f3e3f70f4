#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/exporterhelper/tls_config.h"
#include "otlp/grpc/grpc_client.h"

static const char *const compressions[] = {"gzip", "zstd", "none", "", NULL};

const struct opd_config_map opd_otlp_keepalive_config_map[] = {
    {.type = OPD_CFG_DURATION,
     .name = "time",
     .def = "30s",
     .min = 0,
     .max = 86400000000000LL,
     .offset = offsetof(struct opd_otlp_keepalive_config, time_ns),
     .desc = "idle time before an HTTP/2 PING; 0 disables keepalive"},
    {.type = OPD_CFG_DURATION,
     .name = "timeout",
     .def = "10s",
     .min = 1000000,
     .max = 3600000000000LL,
     .offset = offsetof(struct opd_otlp_keepalive_config, timeout_ns),
     .desc = "how long to wait for the PING ACK before dropping the connection"},
    {.type = OPD_CFG_BOOL,
     .name = "permit_without_stream",
     .def = "false",
     .offset = offsetof(struct opd_otlp_keepalive_config, permit_without_stream),
     .desc = "also ping while no export is in flight"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_otlp_auth_config_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "authenticator",
     .offset = offsetof(struct opd_otlp_auth_config, authenticator),
     .desc = "id of a bearertokenauth extension"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_otlp_grpc_config_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "endpoint",
     .offset = offsetof(struct opd_otlp_grpc_config, endpoint),
     .desc = "host:port of the OTLP gRPC receiver (required)"},
    {.type = OPD_CFG_SECTION,
     .name = "tls",
     .offset = offsetof(struct opd_otlp_grpc_config, tls),
     .desc = "TLS settings",
     .sub = opd_tls_config_map},
    {.type = OPD_CFG_STRMAP,
     .name = "headers",
     .secret = true,
     .offset = offsetof(struct opd_otlp_grpc_config, headers),
     .desc = "extra request metadata (values may use ${env:VAR})"},
    {.type = OPD_CFG_ENUM,
     .name = "compression",
     .def = "gzip",
     .choices = compressions,
     .offset = offsetof(struct opd_otlp_grpc_config, compression),
     .desc = "message compression: gzip, zstd or none"},
    {.type = OPD_CFG_DURATION,
     .name = "timeout",
     .def = "5s",
     .min = 1000000,
     .max = 3600000000000LL,
     .offset = offsetof(struct opd_otlp_grpc_config, timeout_ns),
     .desc = "deadline of one Export call (sent as grpc-timeout)"},
    {.type = OPD_CFG_SECTION,
     .name = "keepalive",
     .offset = offsetof(struct opd_otlp_grpc_config, keepalive),
     .desc = "HTTP/2 PING keepalive",
     .sub = opd_otlp_keepalive_config_map},
    {.type = OPD_CFG_SECTION,
     .name = "auth",
     .offset = offsetof(struct opd_otlp_grpc_config, auth),
     .desc = "client authentication",
     .sub = opd_otlp_auth_config_map},
    {.type = OPD_CFG_SECTION,
     .name = "sending_queue",
     .offset = offsetof(struct opd_otlp_grpc_config, sending_queue),
     .desc = "queue",
     .sub = opd_eh_queue_config_map},
    {.type = OPD_CFG_SECTION,
     .name = "retry_on_failure",
     .offset = offsetof(struct opd_otlp_grpc_config, retry_on_failure),
     .desc = "retries",
     .sub = opd_eh_retry_config_map},
    {.type = OPD_CFG_BYTES,
     .name = "max_request_bytes",
     .def = "3MiB",
     .min = 4096,
     .max = 1LL << 31,
     .offset = offsetof(struct opd_otlp_grpc_config, max_request_bytes),
     .desc = "larger encoded requests are split (uncompressed size; Collector default "
             "receive limit is 4 MiB)"},
    OPD_CFG_MAP_END,
};

int opd_otlp_grpc_config_validate(const void *cfgp, char *err, size_t errlen)
{
    const struct opd_otlp_grpc_config *c = cfgp;

    if (!c->endpoint || !*c->endpoint) {
        snprintf(err, errlen, "endpoint must be set");
        return -EINVAL;
    }
    if (strncmp(c->endpoint, "unix:", 5) == 0) {
        snprintf(err, errlen, "unix: endpoints are not supported");
        return -EINVAL;
    }
    if (opd_grpc_endpoint_check(c->endpoint, err, errlen))
        return -EINVAL;
    if (opd_tls_config_check(&c->tls, err, errlen))
        return -EINVAL;
    if (opd_eh_retry_config_check(&c->retry_on_failure, err, errlen))
        return -EINVAL;
    if (c->headers.n > OPD_OTLP_MAX_HEADERS) {
        snprintf(err, errlen, "headers: at most %d entries", OPD_OTLP_MAX_HEADERS);
        return -EINVAL;
    }
    for (size_t i = 0; i < c->headers.n; i++) {
        const char *k = c->headers.keys[i];
        if (!*k || k[0] == ':' || strpbrk(k, " \r\n") ||
            strpbrk(c->headers.values[i] ? c->headers.values[i] : "", "\r\n")) {
            snprintf(err, errlen, "headers: invalid header \"%s\"", k);
            return -EINVAL;
        }
    }
    return 0;
}
