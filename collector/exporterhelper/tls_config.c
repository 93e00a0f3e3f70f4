#include "collector/exporterhelper/tls_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

const struct opd_config_map opd_tls_config_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "insecure",
     .def = "false",
     .offset = offsetof(struct opd_tls_config, insecure),
     .desc = "plaintext connection (h2c / http://)"},
    {.type = OPD_CFG_STRING,
     .name = "ca_file",
     .offset = offsetof(struct opd_tls_config, ca_file),
     .desc = "CA bundle that signs the server certificate; default: system store"},
    {.type = OPD_CFG_STRING,
     .name = "cert_file",
     .offset = offsetof(struct opd_tls_config, cert_file),
     .desc = "client certificate (mTLS)"},
    {.type = OPD_CFG_STRING,
     .name = "key_file",
     .offset = offsetof(struct opd_tls_config, key_file),
     .desc = "client key (mTLS)"},
    {.type = OPD_CFG_BOOL,
     .name = "insecure_skip_verify",
     .def = "false",
     .offset = offsetof(struct opd_tls_config, insecure_skip_verify),
     .desc = "do not verify the server certificate (dangerous)"},
    {.type = OPD_CFG_STRING,
     .name = "server_name_override",
     .offset = offsetof(struct opd_tls_config, server_name_override),
     .desc = "name to verify in the server certificate and send as SNI"},
    OPD_CFG_MAP_END,
};

int opd_tls_config_check(const struct opd_tls_config *t, char *err, size_t errlen)
{
    if ((t->cert_file && *t->cert_file) != (t->key_file && *t->key_file)) {
        snprintf(err, errlen, "tls.cert_file and tls.key_file must be set together");
        return -EINVAL;
    }
    return 0;
}
