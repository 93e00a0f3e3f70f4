/* A small HTTP/1.1 server for the daemon's own endpoints (self-metrics, the prometheus
 * exporter, health_check). One thread multiplexes every connection with poll(); the
 * number of connections, the size of a request head and the idle time of a connection are
 * bounded, so a misbehaving client costs a bounded amount of memory and never blocks the
 * others. Only GET and HEAD reach the handler; keep-alive and pipelining are honoured;
 * request bodies are read and discarded within the size bound. */
#ifndef OPD_HTTPSERVER_H
#define OPD_HTTPSERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collector/httpserver/http_parse.h"

struct opd_httpserver;

struct opd_http_response {
    int status;               /* 200 unless the handler sets another */
    const char *content_type; /* static string; default "text/plain; charset=utf-8" */
    FILE *body;               /* the handler writes the body here */
};

/* Called on the server thread for each GET or HEAD request. req and resp are valid for
 * the call only. The handler must not block for long: the server waits for it. */
typedef void (*opd_http_handler_fn)(void *ctx, const struct opd_http_request *req,
                                    struct opd_http_response *resp);

struct opd_httpserver_params {
    const char *who;     /* log name, e.g. "extension/health_check" */
    const char *address; /* "host:port"; "" or "0.0.0.0" host = every interface;
                            port 0 picks a free port (see opd_httpserver_port) */
    opd_http_handler_fn handler;
    void *ctx;
    size_t max_connections;   /* 0 means 32 */
    size_t max_request_bytes; /* request head plus body; 0 means 8192 */
    uint64_t idle_timeout_ns; /* a connection silent this long, or taking this long to send
                                 one request, is closed; 0 means 10 s */
};

/* Resolves and binds the address and listens, so that a taken port is reported here,
 * before anything starts. Strings in p are copied. NULL with errno (EINVAL: bad address,
 * EADDRINUSE, EACCES, ENOMEM, ...). */
struct opd_httpserver *opd_httpserver_create(const struct opd_httpserver_params *p);

/* Starts the server thread. Returns 0 or -errno. */
int opd_httpserver_start(struct opd_httpserver *s);

/* The port the server listens on (useful after binding port 0). */
int opd_httpserver_port(const struct opd_httpserver *s);

/* Stops the thread (closing every connection) and frees the server. NULL is a no-op. */
void opd_httpserver_destroy(struct opd_httpserver *s);

/* Splits "host:port" or "[v6]:port" into host (may come back empty) and port.
 * Returns 0 or -EINVAL. */
int opd_http_split_address(const char *address, char *host, size_t hostcap, char *port,
                           size_t portcap);

#endif
