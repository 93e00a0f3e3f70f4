#include "collector/httpserver/httpserver.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "collector/log.h"
#include "collector/mem.h"

#define DEFAULT_MAX_CONNS   32
#define DEFAULT_MAX_REQUEST 8192
#define DEFAULT_IDLE_NS     (10ull * 1000000000ull)
#define POLL_TICK_MS        500

struct conn {
    int fd;
    char *in; /* max_request_bytes + 1 (room for the parser's NULs) */
    size_t in_len;
    char *out; /* response being written */
    size_t out_len, out_off;
    bool close_after;
    uint64_t last_ns;
    uint64_t req_start_ns; /* first byte of the request being received; 0 when none */
};

struct opd_httpserver {
    char *who;
    opd_http_handler_fn handler;
    void *ctx;
    size_t max_conns, max_request;
    uint64_t idle_ns;
    int listen_fd;
    int wake_fd;
    int port;
    bool running;
    pthread_t thread;
    struct conn *conns; /* max_conns slots; fd < 0 when free */
    char *scratch;      /* the parser works on a copy, so c->in stays intact while a body
                           is still arriving */
    struct pollfd *pfds;
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int opd_http_split_address(const char *address, char *host, size_t hostcap, char *port,
                           size_t portcap)
{
    const char *colon, *h;
    size_t hl;

    if (!address)
        return -EINVAL;
    if (address[0] == '[') {
        const char *rb = strchr(address, ']');
        if (!rb || rb[1] != ':')
            return -EINVAL;
        h = address + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || memchr(address, ':', (size_t)(colon - address)))
            return -EINVAL; /* bare IPv6 literals need brackets */
        h = address;
        hl = (size_t)(colon - address);
    }
    if (hl + 1 > hostcap || strlen(colon + 1) + 1 > portcap || !colon[1])
        return -EINVAL;
    for (const char *c = colon + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return -EINVAL;
    if (atol(colon + 1) > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    return 0;
}

static int bind_listen(struct opd_httpserver *s, const char *address)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char host[256], port[16];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = -1, err, one = 1;

    err = opd_http_split_address(address, host, sizeof(host), port, sizeof(port));
    if (err) {
        OPD_ERR(s->who, "bad endpoint '%s': want host:port", address);
        return err;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    err = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (err) {
        OPD_ERR(s->who, "endpoint '%s': %s", address, gai_strerror(err));
        return -EINVAL;
    }
    err = -EADDRNOTAVAIL;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        err = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        OPD_ERR(s->who, "cannot listen on %s: %s", address, strerror(-err));
        return err;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

struct opd_httpserver *opd_httpserver_create(const struct opd_httpserver_params *p)
{
    struct opd_httpserver *s = NULL;
    int err = -EINVAL;

    if (!p || !p->handler || !p->address)
        goto out;
    err = -ENOMEM;
    s = opd_calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->listen_fd = -1;
    s->wake_fd = -1;
    s->who = opd_strdup(p->who ? p->who : "httpserver");
    s->handler = p->handler;
    s->ctx = p->ctx;
    s->max_conns = p->max_connections ? p->max_connections : DEFAULT_MAX_CONNS;
    s->max_request = p->max_request_bytes ? p->max_request_bytes : DEFAULT_MAX_REQUEST;
    s->idle_ns = p->idle_timeout_ns ? p->idle_timeout_ns : DEFAULT_IDLE_NS;
    s->conns = opd_calloc(s->max_conns, sizeof(*s->conns));
    s->pfds = opd_calloc(s->max_conns + 2, sizeof(*s->pfds));
    s->scratch = opd_malloc(s->max_request + 1);
    if (!s->who || !s->conns || !s->pfds || !s->scratch)
        goto out;
    for (size_t i = 0; i < s->max_conns; i++)
        s->conns[i].fd = -1;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        err = -errno;
        goto out;
    }
    err = bind_listen(s, p->address);
out:
    if (err) {
        opd_httpserver_destroy(s);
        errno = -err;
        return NULL;
    }
    return s;
}

int opd_httpserver_port(const struct opd_httpserver *s)
{
    return s ? s->port : -1;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    opd_free(c->in);
    opd_free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* Queues a complete response on c. body may be NULL. Returns 0 or -ENOMEM. */
static int conn_respond(struct conn *c, int status, const char *ctype, const char *extra,
                        const char *body, size_t body_len, bool head_only)
{
    char head[512];
    int hl;

    hl = snprintf(head, sizeof(head),
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n%s%s\r\n",
                  status, opd_http_reason(status), ctype, body_len, extra ? extra : "",
                  c->close_after ? "Connection: close\r\n" : "");
    if (hl < 0 || (size_t)hl >= sizeof(head))
        return -EINVAL;
    if (head_only)
        body_len = 0;
    c->out = opd_malloc((size_t)hl + body_len);
    if (!c->out)
        return -ENOMEM;
    memcpy(c->out, head, (size_t)hl);
    if (body_len)
        memcpy(c->out + hl, body, body_len);
    c->out_len = (size_t)hl + body_len;
    c->out_off = 0;
    return 0;
}

static int respond_error(struct conn *c, int status, const char *extra)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, opd_http_reason(status));

    c->close_after = true;
    return conn_respond(c, status, "text/plain; charset=utf-8", extra, body, (size_t)n, false);
}

static int run_handler(struct opd_httpserver *s, struct conn *c, const struct opd_http_request *req)
{
    struct opd_http_response resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    char *body = NULL;
    size_t len = 0;
    int err;

    resp.body = open_memstream(&body, &len);
    if (!resp.body)
        return respond_error(c, 500, NULL);
    s->handler(s->ctx, req, &resp);
    if (fclose(resp.body) != 0) {
        free(body); /* open_memstream's buffer comes from libc */
        return respond_error(c, 500, NULL);
    }
    err = conn_respond(c, resp.status, resp.content_type, NULL, body, len,
                       strcmp(req->method, "HEAD") == 0);
    free(body);
    return err;
}

/* Handles at most one complete request in c->in; leaves a response queued when it did.
 * Returns 0 (nothing or a response queued) or -1 to drop the connection at once. */
static int conn_process(struct opd_httpserver *s, struct conn *c)
{
    struct opd_http_request req;
    size_t total;
    int n;

    if (c->out || c->in_len == 0)
        return 0;
    memcpy(s->scratch, c->in, c->in_len);
    s->scratch[c->in_len] = '\0';
    n = opd_http_parse_request(s->scratch, c->in_len, &req);
    if (n == 0) {
        if (c->in_len >= s->max_request)
            return respond_error(c, 431, NULL) ? -1 : 0;
        return 0;
    }
    if (n < 0) {
        OPD_DEBUG(s->who, "bad request: %s", strerror(-n));
        return respond_error(c,
                             n == -EPROTONOSUPPORT ? 505
                             : n == -E2BIG         ? 431
                                                   : 400,
                             NULL)
                   ? -1
                   : 0;
    }
    if (req.chunked)
        return respond_error(c, 501, NULL) ? -1 : 0;
    total = (size_t)n + (size_t)(req.content_length > 0 ? req.content_length : 0);
    if (req.content_length > 0 && (uint64_t)req.content_length > s->max_request)
        return respond_error(c, 413, NULL) ? -1 : 0;
    if (total > s->max_request)
        return respond_error(c, 413, NULL) ? -1 : 0;
    if (c->in_len < total)
        return 0; /* the body is still arriving; the head is parsed again then */
    c->close_after = !req.keep_alive;
    if (strcmp(req.method, "GET") != 0 && strcmp(req.method, "HEAD") != 0) {
        if (respond_error(c, 405, "Allow: GET, HEAD\r\n"))
            return -1;
    } else if (run_handler(s, c, &req)) {
        return -1;
    }
    memmove(c->in, c->in + total, c->in_len - total);
    c->in_len -= total;
    c->req_start_ns = c->in_len ? now_ns() : 0;
    return 0;
}

static void conn_read(struct opd_httpserver *s, struct conn *c)
{
    ssize_t n;

    if (c->in_len >= s->max_request) {
        if (!c->out && conn_process(s, c))
            conn_close(c);
        return;
    }
    n = read(c->fd, c->in + c->in_len, s->max_request - c->in_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n < 0)
        return;
    if (c->in_len == 0)
        c->req_start_ns = now_ns();
    c->in_len += (size_t)n;
    c->last_ns = now_ns();
    if (conn_process(s, c))
        conn_close(c);
}

static void conn_write(struct opd_httpserver *s, struct conn *c)
{
    ssize_t n;

    while (c->out && c->out_off < c->out_len) {
        n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            conn_close(c);
            return;
        }
        c->out_off += (size_t)n;
        c->last_ns = now_ns();
    }
    opd_free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->close_after) {
        /* Half-close and let the client see EOF; we never read from it again. */
        shutdown(c->fd, SHUT_WR);
        conn_close(c);
        return;
    }
    /* A pipelined request may already be buffered. */
    if (conn_process(s, c))
        conn_close(c);
}

static void accept_all(struct opd_httpserver *s)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\nRetry-After: 1\r\n\r\n";

    for (;;) {
        struct conn *slot = NULL;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return; /* EAGAIN, or a transient error such as EMFILE: retried next tick */
        for (size_t i = 0; i < s->max_conns; i++)
            if (s->conns[i].fd < 0) {
                slot = &s->conns[i];
                break;
            }
        if (slot) {
            slot->in = opd_malloc(s->max_request + 1);
            if (!slot->in)
                slot = NULL;
        }
        if (!slot) {
            OPD_DEBUG(s->who, "connection refused: %zu connections open", s->max_conns);
            if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                OPD_DEBUG(s->who, "busy reply: %s", strerror(errno));
            close(fd);
            continue;
        }
        slot->fd = fd;
        slot->in_len = 0;
        slot->last_ns = now_ns();
    }
}

static void *serve(void *arg)
{
    struct opd_httpserver *s = arg;

    for (;;) {
        size_t np = 0;
        uint64_t now;

        s->pfds[np++] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};
        s->pfds[np++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < s->max_conns; i++) {
            struct conn *c = &s->conns[i];
            s->pfds[np++] = (struct pollfd){.fd = c->fd, .events = c->out ? POLLOUT : POLLIN};
        }
        if (poll(s->pfds, np, POLL_TICK_MS) < 0 && errno != EINTR) {
            OPD_ERR(s->who, "poll: %s", strerror(errno));
            break;
        }
        if (s->pfds[0].revents)
            break;
        for (size_t i = 0; i < s->max_conns; i++) {
            struct conn *c = &s->conns[i];
            short re = s->pfds[i + 2].revents;

            if (c->fd < 0 || s->pfds[i + 2].fd != c->fd || !re)
                continue;
            if (c->out && (re & (POLLOUT | POLLERR | POLLHUP)))
                conn_write(s, c);
            else if (!c->out && (re & (POLLIN | POLLERR | POLLHUP)))
                conn_read(s, c);
        }
        if (s->pfds[1].revents & POLLIN)
            accept_all(s);
        now = now_ns();
        for (size_t i = 0; i < s->max_conns; i++) {
            struct conn *c = &s->conns[i];
            /* Silent too long, or trickling one request in for too long (slowloris). */
            if (c->fd >= 0 && (now - c->last_ns > s->idle_ns ||
                               (c->req_start_ns && !c->out && now - c->req_start_ns > s->idle_ns)))
                conn_close(c);
        }
    }
    for (size_t i = 0; i < s->max_conns; i++)
        conn_close(&s->conns[i]);
    return NULL;
}

int opd_httpserver_start(struct opd_httpserver *s)
{
    int err;

    if (!s || s->running)
        return -EINVAL;
    err = pthread_create(&s->thread, NULL, serve, s);
    if (err)
        return -err;
    s->running = true;
    return 0;
}

void opd_httpserver_destroy(struct opd_httpserver *s)
{
    uint64_t one = 1;

    if (!s)
        return;
    if (s->running) {
        if (write(s->wake_fd, &one, sizeof(one)) < 0)
            OPD_WARN(s->who, "cannot wake the server thread: %s", strerror(errno));
        pthread_join(s->thread, NULL);
    }
    if (s->conns)
        for (size_t i = 0; i < s->max_conns; i++)
            conn_close(&s->conns[i]);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    opd_free(s->conns);
    opd_free(s->pfds);
    opd_free(s->scratch);
    opd_free(s->who);
    opd_free(s);
}
