/* A gRPC unary-call client over one long-lived HTTP/2 connection (nghttp2), cleartext
 * (h2c, prior knowledge) or TLS with ALPN h2 (OpenSSL).
 *
 * One I/O thread owns the socket and the nghttp2 session; any number of caller threads
 * run calls concurrently, each call one HTTP/2 stream, and block until their answer or
 * deadline. The connection is made on the first call, re-resolved (DNS) and remade after
 * a failure with a growing backoff, drained on GOAWAY, and kept alive with HTTP/2 PINGs. */
#ifndef OPD_GRPC_CLIENT_H
#define OPD_GRPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otlp/grpc/grpc_tls.h"

struct opd_grpc_client;

struct opd_grpc_client_opts {
    const char *endpoint; /* "host:port", "[v6]:port", or with http:// / https:// */
    const char *who;      /* log name, e.g. "exporter/otlp_grpc/primary" */
    struct opd_tls_config tls;
    int64_t keepalive_time_ns;    /* idle time before a PING; 0 = no keepalive */
    int64_t keepalive_timeout_ns; /* wait for the PING ACK before dropping the connection */
    bool keepalive_without_calls; /* also ping while no call is running */
    int64_t connect_timeout_ns;   /* TCP + TLS handshake bound; 0 = 10 s */
    const char *user_agent;
};

struct opd_grpc_header {
    const char *name; /* lower case */
    const char *value;
};

/* The outcome of a call that reached a gRPC status. */
struct opd_grpc_result {
    int code;          /* enum opd_grpc_code */
    char message[512]; /* grpc-message (decoded) or the local cause */
    bool has_retry_info;
    int64_t retry_delay_ns;    /* from google.rpc.RetryInfo */
    char accept_encoding[128]; /* grpc-accept-encoding of the response */
    uint8_t *body;             /* response DATA bytes (opd_malloc); caller frees */
    size_t body_len;
    char encoding[32];    /* grpc-encoding of the response */
    bool transport_error; /* no status from the server: connect, TLS, reset, deadline */
};

/* Checks that endpoint is host:port (optionally [v6]:port, http:// or https://).
 * Returns 0 or -EINVAL with the reason in err. */
int opd_grpc_endpoint_check(const char *endpoint, char *err, size_t errlen);

/* Validates the options and copies them; no connection is made before the first call.
 * NULL with errno (EINVAL with a logged reason, ENOMEM) on failure. */
struct opd_grpc_client *opd_grpc_client_create(const struct opd_grpc_client_opts *opts);
/* Stops the I/O thread, failing calls still running with UNAVAILABLE (the callers
 * must have returned before the client memory goes away: call after every caller
 * thread is joined). NULL is a no-op. */
void opd_grpc_client_destroy(struct opd_grpc_client *c);

/* Runs one unary call: POST path with the extra headers and the framed message (see
 * opd_grpc_frame_encode), until deadline_ns (CLOCK_MONOTONIC; also sent as grpc-timeout).
 * Always fills res: code is the server's grpc-status, or a local one (UNAVAILABLE for
 * connect/TLS/connection errors, DEADLINE_EXCEEDED, CANCELLED on shutdown) with
 * transport_error set and the cause in message. The caller frees res->body. Returns 0
 * when res->code is OK, -EAGAIN when the code is retryable, -EIO otherwise. */
int opd_grpc_client_call(struct opd_grpc_client *c, const char *path,
                         const struct opd_grpc_header *headers, size_t n_headers,
                         const uint8_t *frame, size_t frame_len, uint64_t deadline_ns,
                         struct opd_grpc_result *res);

/* Fails every queued and running call with CANCELLED and refuses new ones; used to
 * abandon sends at a shutdown deadline. */
void opd_grpc_client_cancel_all(struct opd_grpc_client *c);

/* Number of HTTP/2 connections established so far (for tests and telemetry). */
uint64_t opd_grpc_client_connections(const struct opd_grpc_client *c);

/* Runs one call against a recorded stream of server bytes instead of a socket (fed in
 * pieces of chunk bytes), through the same HTTP/2 callbacks and status logic as a real
 * call: the fuzzer's and the tests' entry point. Fills res (caller frees res->body).
 * Returns 0 when the stream finished, -EPROTO when nghttp2 rejected the bytes, -EPIPE
 * when they ended first (res then says UNAVAILABLE), -ENOMEM. */
int opd_grpc_client_replay(const uint8_t *server_bytes, size_t len, size_t chunk,
                           struct opd_grpc_result *res);

/* Monotonic clock in nanoseconds. */
uint64_t opd_grpc_now_ns(void);

#endif
