/* TLS settings shared by the OTLP clients (Collector's configtls names), and the
 * OpenSSL context the gRPC transport builds from them. */
#ifndef OPD_GRPC_TLS_H
#define OPD_GRPC_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st;

struct opd_tls_config {
    bool insecure; /* cleartext (h2c for gRPC, http:// for HTTP) */
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool insecure_skip_verify;
    char *server_name_override;
};

/* Builds a client SSL_CTX: TLS 1.2 or newer, the system CA store unless ca_file is set,
 * the client certificate and key when both are set, peer verification unless
 * insecure_skip_verify, and ALPN set to alpn (wire format, e.g. "\x02h2") when not NULL.
 * Returns the context, or NULL with a message naming the cause in err. */
struct ssl_ctx_st *opd_tls_client_ctx(const struct opd_tls_config *cfg, const char *alpn,
                                      size_t alpn_len, char *err, size_t errlen);

/* Appends the OpenSSL error queue (most recent first) to buf, after prefix. */
void opd_tls_error_string(const char *prefix, char *buf, size_t len);

#endif
