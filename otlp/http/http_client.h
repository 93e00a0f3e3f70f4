/* OTLP/HTTP client: POSTs request bodies with libcurl (HTTP/1.1, or HTTP/2 when the
 * server offers it over TLS), sharing connections, DNS and TLS sessions between the
 * threads that send. Any number of threads may post concurrently. */
#ifndef OPD_HTTP_CLIENT_H
#define OPD_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp/grpc/grpc_tls.h"

struct opd_http_client;

struct opd_http_client_opts {
    const char *url; /* full URL the requests go to */
    const char *who;
    struct opd_tls_config tls;
    int64_t timeout_ns;
    const char *user_agent;
};

struct opd_http_result {
    long status;            /* HTTP status, 0 when no response arrived */
    int64_t retry_after_ns; /* from Retry-After (seconds or HTTP date); 0 = none */
    char content_type[128];
    uint8_t *body; /* opd_malloc; caller frees */
    size_t body_len;
    char error[384]; /* transport failure cause when status is 0 */
};

/* NULL with errno (EINVAL with a logged reason) on failure. */
struct opd_http_client *opd_http_client_create(const struct opd_http_client_opts *o);
/* NULL is a no-op; no post may be running. */
void opd_http_client_destroy(struct opd_http_client *c);

/* POSTs body with the given headers ("Name: value" lines). Fills res. Returns 0 for 2xx,
 * -EAGAIN for a retryable outcome (transport error, 429, 502, 503, 504), -EIO otherwise. */
int opd_http_post(struct opd_http_client *c, const char *const *headers, size_t n_headers,
                  const uint8_t *body, size_t len, struct opd_http_result *res);

/* Makes posts in progress fail fast and refuses new ones (shutdown deadline). */
void opd_http_client_cancel_all(struct opd_http_client *c);

/* Parses a Retry-After value (delta seconds or an HTTP date, relative to now_unix);
 * returns nanoseconds (>= 0) or -1 when unparsable. */
int64_t opd_http_parse_retry_after(const char *v, int64_t now_unix);

#endif
