#include "otlp/grpc/grpc_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

void opd_tls_error_string(const char *prefix, char *buf, size_t len)
{
    unsigned long e;
    size_t o;

    snprintf(buf, len, "%s", prefix);
    o = strlen(buf);
    while ((e = ERR_get_error()) != 0 && o + 3 < len) {
        char one[256];
        ERR_error_string_n(e, one, sizeof(one));
        snprintf(buf + o, len - o, ": %s", one);
        o = strlen(buf);
    }
    ERR_clear_error();
}

struct ssl_ctx_st *opd_tls_client_ctx(const struct opd_tls_config *cfg, const char *alpn,
                                      size_t alpn_len, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    ERR_clear_error();
    if (!ctx) {
        opd_tls_error_string("SSL_CTX_new", err, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (cfg->ca_file && *cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
            char pre[512];
            snprintf(pre, sizeof(pre), "tls.ca_file %s", cfg->ca_file);
            opd_tls_error_string(pre, err, errlen);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        opd_tls_error_string("system CA store", err, errlen);
        goto fail;
    }
    if ((cfg->cert_file && *cfg->cert_file) != (cfg->key_file && *cfg->key_file)) {
        snprintf(err, errlen, "tls.cert_file and tls.key_file must be set together");
        goto fail;
    }
    if (cfg->cert_file && *cfg->cert_file) {
        char pre[512];
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
            snprintf(pre, sizeof(pre), "tls.cert_file %s", cfg->cert_file);
            opd_tls_error_string(pre, err, errlen);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            snprintf(pre, sizeof(pre), "tls.key_file %s", cfg->key_file);
            opd_tls_error_string(pre, err, errlen);
            goto fail;
        }
    }
    SSL_CTX_set_verify(ctx, cfg->insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    if (alpn && SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn, (unsigned)alpn_len)) {
        opd_tls_error_string("ALPN", err, errlen);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
