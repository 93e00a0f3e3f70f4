/* Config of exporter otlp_grpc: the Collector's otlp exporter options and defaults. */
#ifndef OPD_OTLP_GRPC_CONFIG_H
#define OPD_OTLP_GRPC_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "collector/exporterhelper/eh_config.h"
#include "config/config_map.h"
#include "otlp/grpc/grpc_tls.h"

/* Custom request headers one exporter may configure. */
#define OPD_OTLP_MAX_HEADERS 24

struct opd_otlp_keepalive_config {
    int64_t time_ns;
    int64_t timeout_ns;
    bool permit_without_stream;
};

struct opd_otlp_auth_config {
    char *authenticator;
};

struct opd_otlp_grpc_config {
    char *endpoint;
    struct opd_tls_config tls;
    struct opd_strmap headers;
    char *compression;
    int64_t timeout_ns;
    struct opd_otlp_keepalive_config keepalive;
    struct opd_otlp_auth_config auth;
    struct opd_eh_queue_config sending_queue;
    struct opd_eh_retry_config retry_on_failure;
    int64_t max_request_bytes;
};

extern const struct opd_config_map opd_otlp_grpc_config_map[];
extern const struct opd_config_map opd_otlp_keepalive_config_map[];
extern const struct opd_config_map opd_otlp_auth_config_map[];

/* Cross-field checks after binding; 0 or -EINVAL with the reason in err. */
int opd_otlp_grpc_config_validate(const void *cfg, char *err, size_t errlen);

#endif
