/* HTTP/1.1 request head parser for the small built-in server. It parses in place: the
 * request line and header fields are split and NUL-terminated inside the caller's buffer,
 * so the parsed request points into that buffer and lives as long as it does. Only what
 * the metrics, Prometheus and health endpoints need is kept; everything else is checked
 * for well-formedness and skipped. */
#ifndef OPD_HTTP_PARSE_H
#define OPD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPD_HTTP_MAX_HEADERS 64

struct opd_http_header {
    const char *name;  /* as sent; compare case-insensitively */
    const char *value; /* leading and trailing blanks removed */
};

struct opd_http_request {
    const char *method; /* "GET", "HEAD", ... */
    const char *path;   /* target up to '?', starts with '/' */
    const char *query;  /* after '?', "" when none */
    int version_minor;  /* HTTP/1.<minor> */
    struct opd_http_header headers[OPD_HTTP_MAX_HEADERS];
    size_t n_headers;
    int64_t content_length; /* -1 when absent */
    bool keep_alive;        /* what the client asked for (version default, Connection) */
    bool chunked;           /* Transfer-Encoding: chunked was sent */
};

/* Parses the request head at the start of buf[0..len). The buffer is modified (separators
 * become NULs) only when a complete head was found. Returns the number of bytes of the head
 * (through the blank line) on success, 0 when more bytes are needed, -EINVAL for a
 * malformed request, -E2BIG for too many header fields, -EPROTONOSUPPORT for a version
 * other than HTTP/1.0 or HTTP/1.1. req is filled only on success. */
int opd_http_parse_request(char *buf, size_t len, struct opd_http_request *req);

/* Returns the value of the first header field called name (case-insensitive), or NULL. */
const char *opd_http_header(const struct opd_http_request *req, const char *name);

/* True when the Accept header asks for OpenMetrics text (application/openmetrics-text)
 * with a non-zero quality. */
bool opd_http_wants_openmetrics(const struct opd_http_request *req);

#define OPD_HTTP_CT_PROMETHEUS  "text/plain; version=0.0.4; charset=utf-8"
#define OPD_HTTP_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Reason phrase of a status code ("OK", "Not Found", ...); "Unknown" for others. */
const char *opd_http_reason(int status);

#endif
