/* The `tls` config section of the OTLP exporters (Collector configtls client names):
 * insecure, ca_file, cert_file, key_file, insecure_skip_verify, server_name_override. */
#ifndef OPD_TLS_CONFIG_H
#define OPD_TLS_CONFIG_H

#include "config/config_map.h"
#include "otlp/grpc/grpc_tls.h"

extern const struct opd_config_map opd_tls_config_map[];

/* Checks the combinations (a cert without its key). Returns 0
 * or -EINVAL with the reason in err. */
int opd_tls_config_check(const struct opd_tls_config *t, char *err, size_t errlen);

#endif
