#include "otlp/grpc/grpc_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "otlp/grpc/grpc_codec.h"

#define MAX_RESPONSE_BYTES (8u << 20) /* a unary Export answer is tiny; bound a rogue peer */
#define MAX_DETAILS_BYTES  4096
#define BACKOFF_MIN_NS     100000000ULL  /* 100 ms */
#define BACKOFF_MAX_NS     5000000000ULL /* 5 s */
#define POLL_MAX_MS        1000

struct call {
    struct call *next; /* pending FIFO or active list */
    const char *path;
    const struct opd_grpc_header *headers;
    size_t n_headers;
    const uint8_t *frame;
    size_t frame_len, sent;
    uint64_t deadline_ns;
    int32_t stream_id;
    bool done;
    pthread_cond_t cond;
    struct opd_grpc_result *res;
    int http_status;
    bool have_grpc_status;
    int grpc_status;
    char *details; /* grpc-status-details-bin, base64 */
    size_t body_cap;
    bool body_overflow;
};

struct opd_grpc_client {
    char *host, *port, *authority, *who, *user_agent;
    bool tls;
    char *sni; /* name checked in the certificate and sent as SNI */
    struct ssl_ctx_st *ssl_ctx;
    int64_t keepalive_time_ns, keepalive_timeout_ns, connect_timeout_ns;
    bool keepalive_without_calls;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    int wake[2];
    bool stop, cancelled;
    struct call *pending, *pending_tail, *active;

    /* Connection state; owned by the I/O thread. */
    int fd;
    SSL *ssl;
    nghttp2_session *h2;
    bool goaway;
    const uint8_t *out;
    size_t out_len, out_off;
    bool want_write;
    uint64_t last_activity_ns, ping_sent_ns;
    bool ping_outstanding;
    uint64_t next_connect_ns, backoff_ns;
    char last_error[384];
    _Atomic uint64_t connections;
};

uint64_t opd_grpc_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- endpoint parsing ------------------------------------------------------------- */

static int parse_endpoint(struct opd_grpc_client *c, const char *ep)
{
    const char *p = ep, *colon, *host_end;
    size_t hlen;

    if (strncmp(p, "http://", 7) == 0) {
        p += 7;
    } else if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    }
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end || host_end[1] != ':')
            return -EINVAL;
        c->host = opd_strndup(p + 1, (size_t)(host_end - p - 1));
        colon = host_end + 1;
    } else {
        colon = strrchr(p, ':');
        if (!colon || colon == p)
            return -EINVAL;
        hlen = (size_t)(colon - p);
        c->host = opd_strndup(p, hlen);
    }
    if (!c->host)
        return -ENOMEM;
    const char *port = colon + 1;
    size_t plen = strcspn(port, "/");
    if (plen == 0 || plen > 5 || strspn(port, "0123456789") < plen)
        return -EINVAL;
    c->port = opd_strndup(port, plen);
    c->authority = opd_strndup(p, (size_t)(port + plen - p));
    if (!c->port || !c->authority)
        return -ENOMEM;
    return 0;
}

int opd_grpc_endpoint_check(const char *endpoint, char *err, size_t errlen)
{
    struct opd_grpc_client c;
    int rc;

    memset(&c, 0, sizeof(c));
    rc = endpoint ? parse_endpoint(&c, endpoint) : -EINVAL;
    opd_free(c.host);
    opd_free(c.port);
    opd_free(c.authority);
    if (rc == -EINVAL)
        snprintf(err, errlen, "endpoint \"%s\" is not host:port", endpoint ? endpoint : "");
    else if (rc)
        snprintf(err, errlen, "endpoint: %s", strerror(-rc));
    return rc ? -EINVAL : 0;
}

/* ---- call completion --------------------------------------------------------------- */

static void list_remove(struct call **head, struct call *x)
{
    for (struct call **pp = head; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            x->next = NULL;
            return;
        }
    }
}

static void pending_remove(struct opd_grpc_client *c, struct call *x)
{
    struct call *prev = NULL;

    for (struct call *it = c->pending; it; prev = it, it = it->next) {
        if (it != x)
            continue;
        if (prev)
            prev->next = it->next;
        else
            c->pending = it->next;
        if (c->pending_tail == it)
            c->pending_tail = prev;
        it->next = NULL;
        return;
    }
}

/* Completes a call with a locally made status (lock held). */
static void finish_local(struct opd_grpc_client *c, struct call *x, int code, const char *msg)
{
    x->res->code = code;
    x->res->transport_error = true;
    snprintf(x->res->message, sizeof(x->res->message), "%s", msg);
    if (x->stream_id > 0 && c->h2) {
        nghttp2_session_set_stream_user_data(c->h2, x->stream_id, NULL);
        nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, x->stream_id, NGHTTP2_CANCEL);
    }
    x->done = true;
    pthread_cond_signal(&x->cond);
}

static int code_from_rst(uint32_t err)
{
    switch (err) {
    case NGHTTP2_REFUSED_STREAM:
        return OPD_GRPC_UNAVAILABLE;
    case NGHTTP2_CANCEL:
        return OPD_GRPC_CANCELLED;
    case NGHTTP2_ENHANCE_YOUR_CALM:
        return OPD_GRPC_RESOURCE_EXHAUSTED;
    case NGHTTP2_INADEQUATE_SECURITY:
        return OPD_GRPC_PERMISSION_DENIED;
    default:
        return OPD_GRPC_INTERNAL;
    }
}

/* Completes a call from what its stream delivered (lock held). */
static void finish_stream(struct opd_grpc_client *c, struct call *x, uint32_t error_code)
{
    struct opd_grpc_result *r = x->res;

    list_remove(&c->active, x);
    if (x->have_grpc_status) {
        r->code = x->grpc_status;
        if (x->details) {
            int64_t d = 0;
            if (opd_grpc_retry_info_decode(x->details, strlen(x->details), &d) == 1) {
                r->has_retry_info = true;
                r->retry_delay_ns = d;
            }
        }
    } else if (error_code != NGHTTP2_NO_ERROR) {
        r->code = code_from_rst(error_code);
        r->transport_error = true;
        snprintf(r->message, sizeof(r->message), "stream reset by peer: %s",
                 nghttp2_http2_strerror(error_code));
    } else if (x->http_status != 200) {
        r->code = opd_grpc_code_from_http(x->http_status);
        snprintf(r->message, sizeof(r->message), "HTTP status %d without grpc-status",
                 x->http_status);
    } else {
        r->code = OPD_GRPC_INTERNAL;
        snprintf(r->message, sizeof(r->message), "stream ended without grpc-status");
    }
    if (r->code < 0 || r->code > OPD_GRPC_UNAUTHENTICATED) {
        r->code = OPD_GRPC_UNKNOWN;
    }
    if (x->body_overflow && r->code == OPD_GRPC_OK) {
        r->code = OPD_GRPC_RESOURCE_EXHAUSTED;
        snprintf(r->message, sizeof(r->message), "response larger than %u bytes",
                 MAX_RESPONSE_BYTES);
    }
    x->done = true;
    pthread_cond_signal(&x->cond);
}

static void fail_active(struct opd_grpc_client *c, int code, const char *msg)
{
    while (c->active) {
        struct call *x = c->active;
        c->active = x->next;
        x->next = NULL;
        if (c->h2 && x->stream_id > 0)
            nghttp2_session_set_stream_user_data(c->h2, x->stream_id, NULL);
        x->stream_id = 0; /* the session is going away: nothing to reset */
        finish_local(c, x, code, msg);
    }
}

static void fail_pending(struct opd_grpc_client *c, int code, const char *msg)
{
    while (c->pending) {
        struct call *x = c->pending;
        c->pending = x->next;
        x->next = NULL;
        finish_local(c, x, code, msg);
    }
    c->pending_tail = NULL;
}

/* ---- nghttp2 callbacks (I/O thread, lock held) -------------------------------------- */

static struct call *stream_call(nghttp2_session *s, int32_t id)
{
    return id > 0 ? nghttp2_session_get_stream_user_data(s, id) : NULL;
}

static void copy_hdr(char *dst, size_t dstlen, const uint8_t *v, size_t len)
{
    if (len >= dstlen)
        len = dstlen - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct call *x = stream_call(s, frame->hd.stream_id);

    if (!x || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)
    if (IS(":status")) {
        char tmp[8];
        copy_hdr(tmp, sizeof(tmp), value, valuelen);
        x->http_status = atoi(tmp);
    } else if (IS("grpc-status")) {
        char tmp[12];
        copy_hdr(tmp, sizeof(tmp), value, valuelen);
        if (valuelen == 0 || strspn(tmp, "0123456789") != strlen(tmp)) {
            x->grpc_status = OPD_GRPC_UNKNOWN;
        } else {
            x->grpc_status = atoi(tmp);
        }
        x->have_grpc_status = true;
    } else if (IS("grpc-message")) {
        opd_grpc_message_decode((const char *)value, valuelen, x->res->message,
                                sizeof(x->res->message));
    } else if (IS("grpc-accept-encoding")) {
        copy_hdr(x->res->accept_encoding, sizeof(x->res->accept_encoding), value, valuelen);
    } else if (IS("grpc-encoding")) {
        copy_hdr(x->res->encoding, sizeof(x->res->encoding), value, valuelen);
    } else if (IS("grpc-status-details-bin") && valuelen <= MAX_DETAILS_BYTES && !x->details) {
        x->details = opd_strndup((const char *)value, valuelen);
    }
#undef IS
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user)
{
    struct call *x = stream_call(s, stream_id);
    struct opd_grpc_result *r;

    if (!x || x->body_overflow)
        return 0;
    r = x->res;
    /* body_len <= MAX_RESPONSE_BYTES always: compare len with what is left. */
    if (len > MAX_RESPONSE_BYTES - r->body_len) {
        x->body_overflow = true;
        return 0;
    }
    if (r->body_len + len > x->body_cap) {
        size_t ncap = x->body_cap ? x->body_cap : 256;
        uint8_t *nb;
        while (ncap < r->body_len + len)
            ncap *= 2;
        nb = opd_realloc(r->body, ncap);
        if (!nb) {
            x->body_overflow = true;
            return 0;
        }
        r->body = nb;
        x->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user)
{
    struct opd_grpc_client *c = user;
    struct call *x = stream_call(s, stream_id);

    if (x) {
        nghttp2_session_set_stream_user_data(s, stream_id, NULL);
        finish_stream(c, x, error_code);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    struct opd_grpc_client *c = user;

    c->last_activity_ns = opd_grpc_now_ns();
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->goaway = true;
        OPD_INFO(c->who, "server %s sent GOAWAY (%s, last stream %d): draining the connection",
                 c->authority, nghttp2_http2_strerror(frame->goaway.error_code),
                 frame->goaway.last_stream_id);
    } else if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
        c->ping_outstanding = false;
    }
    return 0;
}

static ssize_t data_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    struct call *x = stream_call(s, stream_id);
    size_t n;

    if (!x)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    n = x->frame_len - x->sent;
    if (n > length)
        n = length;
    memcpy(buf, x->frame + x->sent, n);
    x->sent += n;
    if (x->sent == x->frame_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- socket and TLS I/O ------------------------------------------------------------ */

/* Returns bytes moved, 0 at EOF (read), -EAGAIN, or another -errno with the cause in
 * c->last_error. */
static ssize_t tx_read(struct opd_grpc_client *c, uint8_t *buf, size_t len)
{
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, (int)len);
        if (n > 0)
            return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        opd_tls_error_string("TLS read", c->last_error, sizeof(c->last_error));
        return e == SSL_ERROR_SYSCALL && errno == 0 ? 0 : -EIO;
    }
    ssize_t n = recv(c->fd, buf, len, 0);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return -EAGAIN;
    snprintf(c->last_error, sizeof(c->last_error), "read: %s", strerror(errno));
    return -errno;
}

static ssize_t tx_write(struct opd_grpc_client *c, const uint8_t *buf, size_t len)
{
    if (c->ssl) {
        int n = SSL_write(c->ssl, buf, (int)len);
        if (n > 0)
            return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -EAGAIN;
        opd_tls_error_string("TLS write", c->last_error, sizeof(c->last_error));
        return -EIO;
    }
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return -EAGAIN;
    snprintf(c->last_error, sizeof(c->last_error), "write: %s", strerror(errno));
    return -errno;
}

static void conn_close(struct opd_grpc_client *c, const char *why)
{
    char msg[512];

    if (c->fd < 0 && !c->h2)
        return;
    snprintf(msg, sizeof(msg), "connection to %s lost: %s", c->authority, why);
    if (c->active)
        OPD_WARN(c->who, "%s", msg);
    fail_active(c, OPD_GRPC_UNAVAILABLE, msg);
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->goaway = false;
    c->out = NULL;
    c->out_len = c->out_off = 0;
    c->want_write = false;
    c->ping_outstanding = false;
}

/* Sends what nghttp2 has queued. Returns 0 or -errno (connection unusable). */
static int flush_out(struct opd_grpc_client *c)
{
    c->want_write = false;
    for (;;) {
        if (c->out_off == c->out_len) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data);
            if (n < 0) {
                snprintf(c->last_error, sizeof(c->last_error), "HTTP/2: %s",
                         nghttp2_strerror((int)n));
                return -EPROTO;
            }
            if (n == 0)
                return 0;
            c->out = data;
            c->out_len = (size_t)n;
            c->out_off = 0;
        }
        ssize_t w = tx_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w == -EAGAIN) {
            c->want_write = true;
            return 0;
        }
        if (w < 0)
            return (int)w;
        c->out_off += (size_t)w;
    }
}

/* Feeds everything readable into nghttp2. Returns 0, or -errno (EOF is -ECONNRESET). */
static int pump_in(struct opd_grpc_client *c)
{
    uint8_t buf[16384];

    for (;;) {
        ssize_t n = tx_read(c, buf, sizeof(buf));
        if (n == -EAGAIN)
            return 0;
        if (n == 0) {
            snprintf(c->last_error, sizeof(c->last_error), "closed by peer");
            return -ECONNRESET;
        }
        if (n < 0)
            return (int)n;
        ssize_t r = nghttp2_session_mem_recv(c->h2, buf, (size_t)n);
        if (r < 0) {
            snprintf(c->last_error, sizeof(c->last_error), "HTTP/2: %s", nghttp2_strerror((int)r));
            return -EPROTO;
        }
    }
}

/* ---- connecting (I/O thread, lock NOT held) ------------------------------------------ */

static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = opd_grpc_now_ns();
        struct pollfd p = {.fd = fd, .events = events};
        int ms, r;
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        ms = (int)((deadline_ns - now + 999999) / 1000000);
        r = poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int tcp_connect(struct opd_grpc_client *c, uint64_t deadline_ns, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *it;
    int rc, fd = -1;

    /* Resolved on every (re)connect, so a moved Collector is found again. */
    rc = getaddrinfo(c->host, c->port, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "resolve %s: %s", c->host, gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    rc = -ECONNREFUSED;
    for (it = ai; it; it = it->ai_next) {
        int one = 1, soerr = 0;
        socklen_t sl = sizeof(soerr);
        fd = socket(it->ai_family, it->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, it->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, it->ai_addr, it->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline_ns);
            if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                break;
            if (rc == 0)
                rc = -(soerr ? soerr : EIO);
        } else {
            rc = -errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, errlen, "connect %s: %s", c->authority, strerror(-rc));
        return rc;
    }
    return fd;
}

static int is_ip_literal(const char *h)
{
    unsigned char b[16];
    return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static int tls_handshake(struct opd_grpc_client *c, int fd, SSL **out, uint64_t deadline_ns,
                         char *err, size_t errlen)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    int rc = 0;

    ERR_clear_error();
    if (!ssl) {
        opd_tls_error_string("SSL_new", err, errlen);
        return -ENOMEM;
    }
    SSL_set_fd(ssl, fd);
    if (!is_ip_literal(c->sni))
        SSL_set_tlsext_host_name(ssl, c->sni);
    if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
        if (is_ip_literal(c->sni))
            X509_VERIFY_PARAM_set1_ip_asc(vp, c->sni);
        else
            X509_VERIFY_PARAM_set1_host(vp, c->sni, 0);
    }
    for (;;) {
        int r = SSL_connect(ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline_ns);
            if (rc) {
                snprintf(err, errlen, "TLS handshake with %s: %s", c->authority, strerror(-rc));
                goto fail;
            }
            continue;
        }
        long vr = SSL_get_verify_result(ssl);
        if (vr != X509_V_OK) {
            snprintf(err, errlen, "TLS handshake with %s: certificate verify failed: %s%s%s",
                     c->authority, X509_verify_cert_error_string(vr),
                     vr == X509_V_ERR_HOSTNAME_MISMATCH ? " for " : "",
                     vr == X509_V_ERR_HOSTNAME_MISMATCH ? c->sni : "");
        } else {
            char pre[256];
            snprintf(pre, sizeof(pre), "TLS handshake with %s", c->authority);
            opd_tls_error_string(pre, err, errlen);
        }
        rc = -EPROTO;
        goto fail;
    }
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        snprintf(err, errlen, "TLS handshake with %s: server did not select ALPN h2", c->authority);
        rc = -EPROTO;
        goto fail;
    }
    *out = ssl;
    return 0;
fail:
    SSL_free(ssl);
    return rc;
}

static int session_new(struct opd_grpc_client *c)
{
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    int rc;

    if (nghttp2_session_callbacks_new(&cb))
        return -ENOMEM;
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    rc = nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc)
        return -ENOMEM;
    rc = nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    if (rc == 0)
        rc = nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, 8 << 20);
    if (rc) {
        nghttp2_session_del(c->h2);
        c->h2 = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Makes the connection; called with the lock released. Returns 0 or -errno with the
 * cause in c->last_error. */
static int conn_open(struct opd_grpc_client *c, uint64_t deadline)
{
    char err[sizeof(c->last_error)] = "";
    SSL *ssl = NULL;
    int fd, rc;

    fd = tcp_connect(c, deadline, err, sizeof(err));
    if (fd < 0) {
        rc = fd;
        goto fail;
    }
    if (c->tls) {
        rc = tls_handshake(c, fd, &ssl, deadline, err, sizeof(err));
        if (rc)
            goto fail;
    }
    pthread_mutex_lock(&c->lock);
    c->fd = fd;
    c->ssl = ssl;
    rc = session_new(c);
    if (rc) {
        c->fd = -1;
        c->ssl = NULL;
        pthread_mutex_unlock(&c->lock);
        snprintf(err, sizeof(err), "HTTP/2 session: out of memory");
        goto fail;
    }
    c->last_activity_ns = opd_grpc_now_ns();
    c->ping_outstanding = false;
    c->goaway = false;
    atomic_fetch_add(&c->connections, 1);
    pthread_mutex_unlock(&c->lock);
    OPD_DEBUG(c->who, "connected to %s (%s)", c->authority, c->tls ? "TLS, h2" : "h2c");
    return 0;
fail:
    if (ssl)
        SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&c->lock);
    snprintf(c->last_error, sizeof(c->last_error), "%s", err);
    pthread_mutex_unlock(&c->lock);
    return rc ? rc : -EIO;
}

/* ---- the I/O loop ---------------------------------------------------------------- */

static void submit_pending(struct opd_grpc_client *c, uint64_t now)
{
    while (c->pending) {
        struct call *x = c->pending;
        char timeout[16];
        nghttp2_nv nv[48];
        size_t n = 0;
        nghttp2_data_provider dp = {.read_callback = data_read};
        int32_t id;

        c->pending = x->next;
        if (!c->pending)
            c->pending_tail = NULL;
        x->next = NULL;
        opd_grpc_timeout_format((int64_t)(x->deadline_ns - now), timeout, sizeof(timeout));
#define NV(n_, v_)                                                                                 \
    nv[n++] = (nghttp2_nv){(uint8_t *)(n_), (uint8_t *)(v_), strlen(n_), strlen(v_),               \
                           NGHTTP2_NV_FLAG_NONE}
        NV(":method", "POST");
        NV(":scheme", c->tls ? "https" : "http");
        NV(":path", x->path);
        NV(":authority", c->authority);
        NV("content-type", "application/grpc");
        NV("te", "trailers");
        NV("user-agent", c->user_agent);
        NV("grpc-timeout", timeout);
        NV("grpc-accept-encoding", "identity,gzip,zstd");
        for (size_t i = 0; i < x->n_headers && n < sizeof(nv) / sizeof(nv[0]); i++)
            NV(x->headers[i].name, x->headers[i].value);
#undef NV
        id = nghttp2_submit_request(c->h2, NULL, nv, n, &dp, x);
        if (id < 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "HTTP/2 submit: %s", nghttp2_strerror(id));
            finish_local(c, x, OPD_GRPC_UNAVAILABLE, msg);
            continue;
        }
        x->stream_id = id;
        x->next = c->active;
        c->active = x;
    }
}

static void expire_calls(struct opd_grpc_client *c, uint64_t now)
{
    struct call **pp;
    char msg[128];

    for (pp = &c->active; *pp;) {
        struct call *x = *pp;
        if (x->deadline_ns > now) {
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        x->next = NULL;
        snprintf(msg, sizeof(msg), "deadline exceeded waiting for %s", c->authority);
        finish_local(c, x, OPD_GRPC_DEADLINE_EXCEEDED, msg);
    }
    for (struct call *x = c->pending, *nx; x; x = nx) {
        nx = x->next;
        if (x->deadline_ns <= now) {
            pending_remove(c, x);
            snprintf(msg, sizeof(msg), "deadline exceeded before the call started");
            finish_local(c, x, OPD_GRPC_DEADLINE_EXCEEDED, msg);
        }
    }
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void *io_main(void *arg)
{
    struct opd_grpc_client *c = arg;

    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        uint64_t now = opd_grpc_now_ns(), wake_at = now + POLL_MAX_MS * 1000000ULL;
        struct pollfd pf[2];
        int npf = 1, ms, rc;

        if (c->cancelled) {
            fail_pending(c, OPD_GRPC_CANCELLED, "exporter shutting down");
            fail_active(c, OPD_GRPC_CANCELLED, "exporter shutting down");
        }
        expire_calls(c, now);
        if (c->h2 && c->goaway && !c->active)
            conn_close(c, "drained after GOAWAY");
        if (c->h2 && !nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
            conn_close(c, "session finished");
        if (c->pending && !c->h2) {
            if (now < c->next_connect_ns) {
                /* Fail fast during the backoff: the caller's retry policy decides when
                 * to come back, and this keeps a dead endpoint from being hammered. */
                fail_pending(c, OPD_GRPC_UNAVAILABLE, c->last_error);
            } else {
                /* Bounded by the connect timeout and by the most urgent waiting call, so
                 * a black-holed address cannot hold calls past their deadlines. */
                uint64_t until = now + (uint64_t)c->connect_timeout_ns;
                for (struct call *x = c->pending; x; x = x->next)
                    until = min_u64(until, x->deadline_ns);
                pthread_mutex_unlock(&c->lock);
                rc = conn_open(c, until);
                pthread_mutex_lock(&c->lock);
                now = opd_grpc_now_ns();
                if (rc) {
                    c->backoff_ns = c->backoff_ns ? min_u64(c->backoff_ns * 8 / 5, BACKOFF_MAX_NS)
                                                  : BACKOFF_MIN_NS;
                    c->next_connect_ns = now + c->backoff_ns;
                    OPD_WARN(c->who, "%s (next attempt in %llu ms)", c->last_error,
                             (unsigned long long)(c->backoff_ns / 1000000));
                    fail_pending(c, OPD_GRPC_UNAVAILABLE, c->last_error);
                } else {
                    c->backoff_ns = 0;
                    c->next_connect_ns = 0;
                }
                continue;
            }
        }
        if (c->h2) {
            if (!c->goaway)
                submit_pending(c, now);
            if (c->keepalive_time_ns > 0) {
                if (c->ping_outstanding &&
                    now - c->ping_sent_ns >= (uint64_t)c->keepalive_timeout_ns) {
                    conn_close(c, "keepalive PING not acknowledged");
                    continue;
                }
                if (!c->ping_outstanding && (c->active || c->keepalive_without_calls) &&
                    now - c->last_activity_ns >= (uint64_t)c->keepalive_time_ns) {
                    nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL);
                    c->ping_outstanding = true;
                    c->ping_sent_ns = now;
                }
                wake_at = min_u64(wake_at, c->ping_outstanding
                                               ? c->ping_sent_ns + c->keepalive_timeout_ns
                                               : c->last_activity_ns + c->keepalive_time_ns);
            }
            rc = flush_out(c);
            if (rc) {
                conn_close(c, c->last_error);
                continue;
            }
        }
        for (struct call *x = c->active; x; x = x->next)
            wake_at = min_u64(wake_at, x->deadline_ns);
        for (struct call *x = c->pending; x; x = x->next)
            wake_at = min_u64(wake_at, x->deadline_ns);
        pf[0] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
        if (c->h2) {
            pf[1] = (struct pollfd){.fd = c->fd, .events = POLLIN};
            if (c->want_write)
                pf[1].events |= POLLOUT;
            npf = 2;
        }
        now = opd_grpc_now_ns();
        ms = wake_at > now ? (int)((wake_at - now + 999999) / 1000000) : 0;
        if (c->ssl && SSL_pending(c->ssl))
            ms = 0;
        pthread_mutex_unlock(&c->lock);
        rc = poll(pf, (nfds_t)npf, ms);
        pthread_mutex_lock(&c->lock);
        if (rc < 0)
            continue;
        if (pf[0].revents & POLLIN) {
            char drain[64];
            while (read(c->wake[0], drain, sizeof(drain)) > 0)
                ;
        }
        if (c->h2 && npf == 2 &&
            ((pf[1].revents & (POLLIN | POLLHUP | POLLERR)) || (c->ssl && SSL_pending(c->ssl)))) {
            rc = pump_in(c);
            if (rc == 0)
                rc = flush_out(c);
            if (rc)
                conn_close(c, c->last_error);
        }
    }
    fail_pending(c, OPD_GRPC_CANCELLED, "client stopped");
    conn_close(c, "client stopped");
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void wake(struct opd_grpc_client *c)
{
    char b = 1;
    ssize_t r = write(c->wake[1], &b, 1);
    (void)r; /* a full pipe already guarantees a wake-up */
}

/* ---- public API -------------------------------------------------------------------- */

struct opd_grpc_client *opd_grpc_client_create(const struct opd_grpc_client_opts *o)
{
    struct opd_grpc_client *c = opd_calloc(1, sizeof(*c));
    char err[512];
    int rc = -ENOMEM;

    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->fd = -1;
    c->wake[0] = c->wake[1] = -1;
    pthread_mutex_init(&c->lock, NULL);
    c->who = opd_strdup(o->who ? o->who : "grpc");
    c->user_agent = opd_strdup(o->user_agent ? o->user_agent : "otelprofd");
    if (!c->who || !c->user_agent)
        goto fail;
    if (!o->endpoint || !*o->endpoint) {
        OPD_ERR(c->who, "endpoint is empty");
        rc = -EINVAL;
        goto fail;
    }
    rc = parse_endpoint(c, o->endpoint);
    if (rc) {
        if (rc == -EINVAL)
            OPD_ERR(c->who, "endpoint \"%s\" is not host:port", o->endpoint);
        goto fail;
    }
    c->tls = !o->tls.insecure && strncmp(o->endpoint, "http://", 7) != 0;
    c->sni = opd_strdup(o->tls.server_name_override && *o->tls.server_name_override
                            ? o->tls.server_name_override
                            : c->host);
    if (!c->sni) {
        rc = -ENOMEM;
        goto fail;
    }
    if (c->tls) {
        c->ssl_ctx = opd_tls_client_ctx(&o->tls, "\x02h2", 3, err, sizeof(err));
        if (!c->ssl_ctx) {
            OPD_ERR(c->who, "TLS setup: %s", err);
            rc = -EINVAL;
            goto fail;
        }
        if (o->tls.insecure_skip_verify)
            OPD_WARN(c->who,
                     "tls.insecure_skip_verify is on: the server certificate of %s "
                     "is NOT verified; anyone on the path can read and alter exports",
                     c->authority);
    }
    c->keepalive_time_ns = o->keepalive_time_ns;
    c->keepalive_without_calls = o->keepalive_without_calls;
    c->keepalive_timeout_ns = o->keepalive_timeout_ns > 0 ? o->keepalive_timeout_ns : 20000000000LL;
    c->connect_timeout_ns = o->connect_timeout_ns > 0 ? o->connect_timeout_ns : 10000000000LL;
    if (pipe2(c->wake, O_NONBLOCK | O_CLOEXEC)) {
        rc = -errno;
        goto fail;
    }
    rc = -pthread_create(&c->thread, NULL, io_main, c);
    if (rc)
        goto fail;
    c->thread_started = true;
    return c;
fail:
    opd_grpc_client_destroy(c);
    errno = -rc;
    return NULL;
}

void opd_grpc_client_destroy(struct opd_grpc_client *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->lock);
        c->stop = true;
        pthread_mutex_unlock(&c->lock);
        wake(c);
        pthread_join(c->thread, NULL);
    }
    if (c->ssl_ctx)
        SSL_CTX_free(c->ssl_ctx);
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    pthread_mutex_destroy(&c->lock);
    opd_free(c->host);
    opd_free(c->port);
    opd_free(c->authority);
    opd_free(c->who);
    opd_free(c->user_agent);
    opd_free(c->sni);
    opd_free(c);
}

int opd_grpc_client_call(struct opd_grpc_client *c, const char *path,
                         const struct opd_grpc_header *headers, size_t n_headers,
                         const uint8_t *frame, size_t frame_len, uint64_t deadline_ns,
                         struct opd_grpc_result *res)
{
    struct call x;
    pthread_condattr_t ca;

    memset(res, 0, sizeof(*res));
    memset(&x, 0, sizeof(x));
    x.path = path;
    x.headers = headers;
    x.n_headers = n_headers;
    x.frame = frame;
    x.frame_len = frame_len;
    x.deadline_ns = deadline_ns;
    x.res = res;
    pthread_condattr_init(&ca);
    pthread_cond_init(&x.cond, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&c->lock);
    if (c->cancelled || c->stop) {
        finish_local(c, &x, OPD_GRPC_CANCELLED, "exporter shutting down");
    } else {
        if (c->pending_tail)
            c->pending_tail->next = &x;
        else
            c->pending = &x;
        c->pending_tail = &x;
        wake(c);
    }
    while (!x.done)
        pthread_cond_wait(&x.cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&x.cond);
    opd_free(x.details);
    if (res->code == OPD_GRPC_OK)
        return 0;
    return opd_grpc_code_retryable(res->code, res->has_retry_info) ? -EAGAIN : -EIO;
}

void opd_grpc_client_cancel_all(struct opd_grpc_client *c)
{
    pthread_mutex_lock(&c->lock);
    c->cancelled = true;
    pthread_mutex_unlock(&c->lock);
    wake(c);
}

uint64_t opd_grpc_client_connections(const struct opd_grpc_client *c)
{
    return atomic_load(&((struct opd_grpc_client *)c)->connections);
}

int opd_grpc_client_replay(const uint8_t *server_bytes, size_t len, size_t chunk,
                           struct opd_grpc_result *res)
{
    struct opd_grpc_client c;
    struct call x;
    struct opd_grpc_header extra = {"x-replay", "1"};
    uint8_t frame[5] = {0};
    const uint8_t *out;
    int rc = 0;

    memset(&c, 0, sizeof(c));
    memset(&x, 0, sizeof(x));
    memset(res, 0, sizeof(*res));
    c.fd = -1;
    c.who = "grpc-replay";
    c.authority = "replay:1";
    c.user_agent = "otelprofd";
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&x.cond, NULL);
    x.path = "/replay";
    x.headers = &extra;
    x.n_headers = 1;
    x.frame = frame;
    x.frame_len = sizeof(frame);
    x.deadline_ns = UINT64_MAX;
    x.res = res;
    c.pending = c.pending_tail = &x;
    if (session_new(&c)) {
        rc = -ENOMEM;
        goto out;
    }
    submit_pending(&c, 0);
    while (nghttp2_session_mem_send(c.h2, &out) > 0)
        ; /* what the client would write is not needed here */
    if (chunk == 0)
        chunk = 1;
    for (size_t off = 0; off < len && !x.done; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (nghttp2_session_mem_recv(c.h2, server_bytes + off, n) < 0) {
            rc = -EPROTO;
            break;
        }
        while (nghttp2_session_mem_send(c.h2, &out) > 0)
            ;
    }
    if (!x.done) {
        fail_active(&c, OPD_GRPC_UNAVAILABLE, "stream did not finish");
        if (rc == 0)
            rc = -EPIPE;
    }
out:
    if (c.h2)
        nghttp2_session_del(c.h2);
    opd_free(x.details);
    pthread_cond_destroy(&x.cond);
    pthread_mutex_destroy(&c.lock);
    return rc;
}
