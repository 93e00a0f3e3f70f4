/* The gRPC client's HTTP/2 response handling, fed recorded server byte streams (no
 * socket): normal answers with trailers, trailers-only errors, resets, GOAWAY, HTTP
 * errors without grpc-status, truncation; whole and one byte at a time. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/mem.h"
#include "otlp/grpc/grpc_client.h"
#include "otlp/grpc/grpc_codec.h"

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void frame(struct buf *o, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
                  size_t len)
{
    uint8_t *h = o->b + o->n;
    h[0] = (uint8_t)(len >> 16);
    h[1] = (uint8_t)(len >> 8);
    h[2] = (uint8_t)len;
    h[3] = type;
    h[4] = flags;
    h[5] = (uint8_t)(stream >> 24 & 0x7f);
    h[6] = (uint8_t)(stream >> 16);
    h[7] = (uint8_t)(stream >> 8);
    h[8] = (uint8_t)stream;
    if (len)
        memcpy(h + 9, p, len);
    o->n += 9 + len;
}

/* HPACK literal header field without indexing, new name (RFC 7541 6.2.2). */
static size_t hdr(uint8_t *p, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), o = 0;
    p[o++] = 0x00;
    p[o++] = (uint8_t)nl;
    memcpy(p + o, name, nl);
    o += nl;
    p[o++] = (uint8_t)vl;
    memcpy(p + o, value, vl);
    return o + vl;
}

static void preface(struct buf *o)
{
    o->n = 0;
    frame(o, 0x4, 0, 0, NULL, 0);   /* SETTINGS */
    frame(o, 0x4, 0x1, 0, NULL, 0); /* SETTINGS ACK */
}

static void run(struct buf *o, int want_rc, int want_code, struct opd_grpc_result *res)
{
    struct opd_grpc_result r1;

    assert_int_equal(opd_grpc_client_replay(o->b, o->n, o->n, res), want_rc);
    assert_int_equal(res->code, want_code);
    /* Byte by byte must give the same outcome. */
    assert_int_equal(opd_grpc_client_replay(o->b, o->n, 1, &r1), want_rc);
    assert_int_equal(r1.code, want_code);
    assert_string_equal(r1.message, res->message);
    assert_int_equal(r1.body_len, res->body_len);
    opd_free(r1.body);
}

static void test_ok_with_partial_success(void **state)
{
    struct buf o;
    uint8_t h[256], d[64];
    size_t n;
    const uint8_t msg[] = {0, 0, 0, 0, 9, 0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 'o', 'l', 'd'};
    struct opd_grpc_result res;
    const uint8_t *m;
    size_t ml;
    uint8_t *owned;
    int64_t rej;
    char why[16];

    preface(&o);
    n = hdr(h, ":status", "200");
    n += hdr(h + n, "content-type", "application/grpc");
    n += hdr(h + n, "grpc-accept-encoding", "identity,deflate,gzip");
    frame(&o, 0x1, 0x4, 1, h, n); /* HEADERS, END_HEADERS */
    memcpy(d, msg, sizeof(msg));
    frame(&o, 0x0, 0, 1, d, sizeof(msg));
    n = hdr(h, "grpc-status", "0");
    frame(&o, 0x1, 0x5, 1, h, n); /* trailers: END_STREAM | END_HEADERS */
    run(&o, 0, OPD_GRPC_OK, &res);
    assert_false(res.transport_error);
    assert_string_equal(res.accept_encoding, "identity,deflate,gzip");
    assert_int_equal(opd_grpc_frame_decode(res.body, res.body_len, NULL, 1024, &m, &ml, &owned), 0);
    assert_int_equal(opd_grpc_partial_success_decode(m, ml, &rej, why, sizeof(why)), 0);
    assert_int_equal(rej, 2);
    assert_string_equal(why, "old");
    opd_free(res.body);
}

static void test_trailers_only_error(void **state)
{
    struct buf o;
    uint8_t h[256];
    size_t n;
    struct opd_grpc_result res;

    preface(&o);
    n = hdr(h, ":status", "200");
    n += hdr(h + n, "content-type", "application/grpc");
    n += hdr(h + n, "grpc-status", "16");
    n += hdr(h + n, "grpc-message", "missing%20token");
    frame(&o, 0x1, 0x5, 1, h, n);
    run(&o, 0, OPD_GRPC_UNAUTHENTICATED, &res);
    assert_string_equal(res.message, "missing token");
    assert_false(opd_grpc_code_retryable(res.code, res.has_retry_info));
    opd_free(res.body);
}

static void test_http_error_without_status(void **state)
{
    struct buf o;
    uint8_t h[64];
    size_t n;
    struct opd_grpc_result res;

    preface(&o);
    n = hdr(h, ":status", "503");
    frame(&o, 0x1, 0x5, 1, h, n);
    run(&o, 0, OPD_GRPC_UNAVAILABLE, &res);
    opd_free(res.body);
}

static void test_rst_and_goaway(void **state)
{
    struct buf o;
    const uint8_t refused[4] = {0, 0, 0, 7}, cancel[4] = {0, 0, 0, 8};
    const uint8_t goaway[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* last stream 0, NO_ERROR */
    struct opd_grpc_result res;

    preface(&o);
    frame(&o, 0x3, 0, 1, refused, 4);
    run(&o, 0, OPD_GRPC_UNAVAILABLE, &res);
    assert_true(res.transport_error);
    opd_free(res.body);
    preface(&o);
    frame(&o, 0x3, 0, 1, cancel, 4);
    run(&o, 0, OPD_GRPC_CANCELLED, &res);
    opd_free(res.body);
    /* GOAWAY below our stream: the call was never processed, safe to retry. */
    preface(&o);
    frame(&o, 0x7, 0, 0, goaway, 8);
    run(&o, 0, OPD_GRPC_UNAVAILABLE, &res);
    opd_free(res.body);
}

static void test_truncated_and_garbage(void **state)
{
    struct buf o;
    uint8_t h[64];
    size_t n;
    struct opd_grpc_result res;

    preface(&o);
    n = hdr(h, ":status", "200");
    frame(&o, 0x1, 0x4, 1, h, n);
    run(&o, -EPIPE, OPD_GRPC_UNAVAILABLE, &res);
    opd_free(res.body);
    /* Not HTTP/2 at all: the connection is dropped, the call fails as UNAVAILABLE. */
    memset(o.b, 0xff, 64);
    assert_true(opd_grpc_client_replay(o.b, 64, 64, &res) < 0);
    assert_int_equal(res.code, OPD_GRPC_UNAVAILABLE);
    opd_free(res.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_with_partial_success),
        cmocka_unit_test(test_trailers_only_error),
        cmocka_unit_test(test_http_error_without_status),
        cmocka_unit_test(test_rst_and_goaway),
        cmocka_unit_test(test_truncated_and_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
