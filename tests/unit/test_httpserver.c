/* The HTTP/1.1 request parser (table of good and bad heads) and the server over real
 * loopback sockets: GET/HEAD, 404 from the handler, 405, keep-alive with pipelining,
 * bodies, oversized heads, bad requests, the connection limit and the idle timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/httpserver/httpserver.h"

/* ---- parser ---------------------------------------------------------------------------- */

struct pcase {
    const char *in;
    int want; /* > 0: head length expected == strlen(in) - tail; 0 need more; < 0 error */
    size_t tail;
    const char *method, *path, *query;
    bool keep_alive;
    int64_t content_length;
};

static const struct pcase pcases[] = {
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "GET", "/metrics", "", true, -1},
    {"GET /m?a=1&b HTTP/1.1\r\n\r\n", 1, 0, "GET", "/m", "a=1&b", true, -1},
    {"HEAD / HTTP/1.0\r\n\r\n", 1, 0, "HEAD", "/", "", false, -1},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, 0, "GET", "/", "", true, -1},
    {"GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", 1, 0, "GET", "/", "", false, -1},
    {"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 1, 3, "POST", "/x", "", true, 3},
    {"GET / HTTP/1.1\r\nX:   spaced value  \r\n\r\nGET", 1, 3, "GET", "/", "", true, -1},
    {"GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\n", 0, 0, NULL, NULL, NULL, false, 0},
    {"", 0, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/2.0\r\n\r\n", -EPROTONOSUPPORT, 0, NULL, NULL, NULL, false, 0},
    {"GET / FTP/1.1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET http://x/ HTTP/1.1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"G(T / HTTP/1.1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {" / HTTP/1.1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET /\x01 HTTP/1.1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nNo colon\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL, false, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -EINVAL, 0, NULL, NULL,
     NULL, false, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", -EINVAL, 0, NULL, NULL, NULL,
     false, 0},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", -EINVAL, 0, NULL,
     NULL, NULL, false, 0},
};

static void test_parse_table(void **state)
{
    for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
        const struct pcase *c = &pcases[i];
        struct opd_http_request req;
        char buf[512];
        size_t len = strlen(c->in);
        int n;

        memcpy(buf, c->in, len + 1);
        n = opd_http_parse_request(buf, len, &req);
        if (c->want > 0) {
            if (n != (int)(len - c->tail))
                fail_msg("case %zu: got %d want %zu", i, n, len - c->tail);
            assert_string_equal(req.method, c->method);
            assert_string_equal(req.path, c->path);
            assert_string_equal(req.query, c->query);
            assert_int_equal(req.keep_alive, c->keep_alive);
            assert_int_equal(req.content_length, c->content_length);
        } else if (n != c->want) {
            fail_msg("case %zu (%s): got %d want %d", i, c->in, n, c->want);
        }
    }
}

static void test_parse_headers_and_accept(void **state)
{
    char buf[] = "GET /metrics HTTP/1.1\r\nhOsT: a\r\nAccept: application/openmetrics-text;"
                 "version=1.0.0,text/plain;q=0.5\r\nX-Empty:\r\n\r\n";
    struct opd_http_request req;

    assert_true(opd_http_parse_request(buf, strlen(buf), &req) > 0);
    assert_string_equal(opd_http_header(&req, "Host"), "a");
    assert_string_equal(opd_http_header(&req, "x-empty"), "");
    assert_null(opd_http_header(&req, "Missing"));
    assert_true(opd_http_wants_openmetrics(&req));

    char b2[] = "GET / HTTP/1.1\r\nAccept: application/openmetrics-text;q=0,text/plain\r\n\r\n";
    assert_true(opd_http_parse_request(b2, strlen(b2), &req) > 0);
    assert_false(opd_http_wants_openmetrics(&req));
    char b3[] = "GET / HTTP/1.1\r\nAccept: text/plain\r\n\r\n";
    assert_true(opd_http_parse_request(b3, strlen(b3), &req) > 0);
    assert_false(opd_http_wants_openmetrics(&req));
}

static void test_parse_too_many_headers(void **state)
{
    char buf[4096];
    size_t len = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    struct opd_http_request req;

    for (int i = 0; i < OPD_HTTP_MAX_HEADERS + 1; i++)
        len += (size_t)sprintf(buf + len, "H%d: v\r\n", i);
    len += (size_t)sprintf(buf + len, "\r\n");
    assert_int_equal(opd_http_parse_request(buf, len, &req), -E2BIG);
}

static void test_split_address(void **state)
{
    char h[64], p[16];

    assert_int_equal(opd_http_split_address("localhost:8888", h, sizeof(h), p, sizeof(p)), 0);
    assert_string_equal(h, "localhost");
    assert_string_equal(p, "8888");
    assert_int_equal(opd_http_split_address(":9464", h, sizeof(h), p, sizeof(p)), 0);
    assert_string_equal(h, "");
    assert_int_equal(opd_http_split_address("[::1]:80", h, sizeof(h), p, sizeof(p)), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(opd_http_split_address("::1:80", h, sizeof(h), p, sizeof(p)), -EINVAL);
    assert_int_equal(opd_http_split_address("host", h, sizeof(h), p, sizeof(p)), -EINVAL);
    assert_int_equal(opd_http_split_address("host:", h, sizeof(h), p, sizeof(p)), -EINVAL);
    assert_int_equal(opd_http_split_address("host:99999", h, sizeof(h), p, sizeof(p)), -EINVAL);
    assert_int_equal(opd_http_split_address("host:8x", h, sizeof(h), p, sizeof(p)), -EINVAL);
}

/* ---- server ---------------------------------------------------------------------------- */

static int handled;

static void handler(void *ctx, const struct opd_http_request *req, struct opd_http_response *r)
{
    handled++;
    if (strcmp(req->path, "/hello") == 0) {
        r->content_type = "text/plain";
        fprintf(r->body, "hello %s", req->query);
    } else {
        r->status = 404;
        fputs("nope", r->body);
    }
}

static struct opd_httpserver *start(size_t max_conns, uint64_t idle_ns)
{
    struct opd_httpserver_params p = {.who = "test/http",
                                      .address = "127.0.0.1:0",
                                      .handler = handler,
                                      .max_connections = max_conns,
                                      .max_request_bytes = 1024,
                                      .idle_timeout_ns = idle_ns};
    struct opd_httpserver *s = opd_httpserver_create(&p);

    assert_non_null(s);
    assert_true(opd_httpserver_port(s) > 0);
    assert_int_equal(opd_httpserver_start(s), 0);
    return s;
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Reads until the peer closes or want bytes of "\r\n\r\n"-terminated heads plus bodies
 * are in; simply reads with a timeout until EOF or the expected text count appears. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle, int count,
                         int timeout_ms)
{
    size_t len = 0;

    buf[0] = '\0';
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int seen = 0;
        ssize_t n;

        for (const char *s = buf; needle && (s = strstr(s, needle)); s++)
            seen++;
        if (needle && seen >= count)
            return len;
        if (poll(&p, 1, timeout_ms) <= 0)
            return len;
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            return len;
        len += (size_t)n;
        buf[len] = '\0';
    }
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_server_get_head_404_405(void **state)
{
    struct opd_httpserver *s = start(4, 0);
    char buf[4096];
    int fd;

    fd = dial(opd_httpserver_port(s));
    send_str(fd, "GET /hello?x HTTP/1.1\r\nHost: t\r\n\r\n");
    read_until(fd, buf, sizeof(buf), "hello x", 1, 2000);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 7\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/plain\r\n"));

    /* Same connection: HEAD has the length but no body. */
    send_str(fd, "HEAD /hello HTTP/1.1\r\n\r\n");
    read_until(fd, buf, sizeof(buf), "\r\n\r\n", 1, 2000);
    assert_non_null(strstr(buf, "Content-Length: 6\r\n"));
    assert_null(strstr(buf, "hello"));

    send_str(fd, "GET /other HTTP/1.1\r\n\r\n");
    read_until(fd, buf, sizeof(buf), "nope", 1, 2000);
    assert_non_null(strstr(buf, "404 Not Found"));

    send_str(fd, "DELETE /hello HTTP/1.1\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "405 Method Not Allowed"));
    assert_non_null(strstr(buf, "Allow: GET, HEAD"));
    assert_non_null(strstr(buf, "Connection: close"));
    close(fd);
    opd_httpserver_destroy(s);
}

static void test_server_pipelining_and_body(void **state)
{
    struct opd_httpserver *s = start(4, 0);
    char buf[8192];
    int fd = dial(opd_httpserver_port(s));

    /* Two requests in one segment, the first with a body split across writes. */
    send_str(fd, "GET /hello?1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nab");
    usleep(50000);
    send_str(fd, "cdeGET /hello?2 HTTP/1.1\r\nConnection: close\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "hello 1"));
    assert_non_null(strstr(buf, "hello 2"));
    assert_true(strstr(buf, "hello 1") < strstr(buf, "hello 2"));
    close(fd);
    opd_httpserver_destroy(s);
}

static void test_server_rejects(void **state)
{
    struct opd_httpserver *s = start(4, 0);
    char buf[4096], big[2048];
    int fd;

    fd = dial(opd_httpserver_port(s));
    send_str(fd, "GARBAGE\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "400 Bad Request"));
    close(fd);

    fd = dial(opd_httpserver_port(s));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    send_str(fd, "GET /hello HTTP/1.1\r\nX: ");
    send_str(fd, big);
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "431 "));
    close(fd);

    fd = dial(opd_httpserver_port(s));
    send_str(fd, "POST /hello HTTP/1.1\r\nContent-Length: 100000\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "413 "));
    close(fd);

    fd = dial(opd_httpserver_port(s));
    send_str(fd, "POST /hello HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "501 "));
    close(fd);

    fd = dial(opd_httpserver_port(s));
    send_str(fd, "GET / HTTP/3.0\r\n\r\n");
    read_until(fd, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "505 "));
    close(fd);
    opd_httpserver_destroy(s);
}

static void test_server_connection_limit_and_idle(void **state)
{
    struct opd_httpserver *s = start(2, 300000000ull); /* 2 connections, 0.3 s idle */
    char buf[4096];
    int a, b, c;

    a = dial(opd_httpserver_port(s));
    b = dial(opd_httpserver_port(s));
    usleep(100000);
    c = dial(opd_httpserver_port(s));
    read_until(c, buf, sizeof(buf), NULL, 0, 2000);
    assert_non_null(strstr(buf, "503 Service Unavailable"));
    close(c);
    /* The silent connections are closed after the idle timeout... */
    assert_int_equal(read_until(a, buf, sizeof(buf), NULL, 0, 3000), 0);
    assert_int_equal(read_until(b, buf, sizeof(buf), NULL, 0, 3000), 0);
    close(a);
    close(b);
    /* A client trickling a request in, one byte at a time, is cut off as well. */
    {
        const char *req = "GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        int slow = dial(opd_httpserver_port(s));
        bool cut = false;

        for (size_t i = 0; req[i] && !cut; i++) {
            cut = send(slow, &req[i], 1, MSG_NOSIGNAL) != 1;
            usleep(50000);
        }
        /* 2.6 s of trickling against a 0.3 s budget (checked every 0.5 s). */
        assert_true(cut);
        close(slow);
    }
    /* ...which frees their slots. */
    c = dial(opd_httpserver_port(s));
    send_str(c, "GET /hello HTTP/1.1\r\n\r\n");
    read_until(c, buf, sizeof(buf), "hello", 1, 2000);
    assert_non_null(strstr(buf, "200 OK"));
    close(c);
    opd_httpserver_destroy(s);
}

static void test_server_bad_address(void **state)
{
    struct opd_httpserver_params p = {.address = "nonsense", .handler = handler};
    struct opd_httpserver *s, *t;

    assert_null(opd_httpserver_create(&p));
    assert_int_equal(errno, EINVAL);
    p.address = "127.0.0.1:0";
    s = opd_httpserver_create(&p);
    assert_non_null(s);
    /* The same port twice: the second bind fails before anything runs. */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", opd_httpserver_port(s));
    p.address = addr;
    t = opd_httpserver_create(&p);
    assert_null(t);
    assert_int_equal(errno, EADDRINUSE);
    opd_httpserver_destroy(s);
    opd_httpserver_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_headers_and_accept),
        cmocka_unit_test(test_parse_too_many_headers),
        cmocka_unit_test(test_split_address),
        cmocka_unit_test(test_server_get_head_404_405),
        cmocka_unit_test(test_server_pipelining_and_body),
        cmocka_unit_test(test_server_rejects),
        cmocka_unit_test(test_server_connection_limit_and_idle),
        cmocka_unit_test(test_server_bad_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
