/* gRPC codec: framing round trips per compression, hostile response frames, timeout and
 * grpc-message encodings, partial_success and RetryInfo decoding, the retry split. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/mem.h"
#include "otlp/grpc/grpc_codec.h"

static void roundtrip(enum opd_grpc_compression c)
{
    uint8_t msg[5000];
    uint8_t *frame = NULL, *owned = NULL;
    const uint8_t *out;
    size_t frame_len, out_len;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i % 7 == 0 ? i : 'a' + i % 3);
    assert_int_equal(opd_grpc_frame_encode(c, msg, sizeof(msg), &frame, &frame_len), 0);
    assert_int_equal(frame[0], c == OPD_GRPC_COMP_NONE ? 0 : 1);
    uint32_t n = (uint32_t)frame[1] << 24 | (uint32_t)frame[2] << 16 | frame[3] << 8 | frame[4];
    assert_int_equal(n + 5, frame_len);
    if (c != OPD_GRPC_COMP_NONE)
        assert_true(frame_len < sizeof(msg)); /* repetitive input must shrink */
    assert_int_equal(opd_grpc_frame_decode(frame, frame_len, opd_grpc_compression_name(c), 1 << 20,
                                           &out, &out_len, &owned),
                     0);
    assert_int_equal(out_len, sizeof(msg));
    assert_memory_equal(out, msg, sizeof(msg));
    /* A decompression bomb bound: refusing beyond max_len. */
    if (c != OPD_GRPC_COMP_NONE) {
        uint8_t *o2 = NULL;
        assert_int_equal(opd_grpc_frame_decode(frame, frame_len, opd_grpc_compression_name(c), 100,
                                               &out, &out_len, &o2),
                         -EMSGSIZE);
        assert_null(o2);
    }
    opd_free(owned);
    opd_free(frame);
}

static void test_frame_none(void **state)
{
    roundtrip(OPD_GRPC_COMP_NONE);
}

static void test_frame_gzip(void **state)
{
    roundtrip(OPD_GRPC_COMP_GZIP);
}

static void test_frame_zstd(void **state)
{
    roundtrip(OPD_GRPC_COMP_ZSTD);
}

static void test_frame_empty(void **state)
{
    uint8_t *frame = NULL, *owned = NULL;
    const uint8_t *out;
    size_t len, out_len = 99;

    assert_int_equal(opd_grpc_frame_encode(OPD_GRPC_COMP_NONE, NULL, 0, &frame, &len), 0);
    assert_int_equal(len, 5);
    assert_int_equal(opd_grpc_frame_decode(frame, len, NULL, 10, &out, &out_len, &owned), 0);
    assert_int_equal(out_len, 0);
    /* An empty body (trailers-only answer) is not an error either. */
    assert_int_equal(opd_grpc_frame_decode(frame, 0, NULL, 10, &out, &out_len, &owned), 0);
    opd_free(frame);
}

static void test_frame_hostile(void **state)
{
    const uint8_t *out;
    size_t out_len;
    uint8_t *owned = NULL;
    uint8_t truncated[] = {0, 0, 0, 0, 10, 1, 2};
    uint8_t short_prefix[] = {0, 0, 0};
    uint8_t bad_flag[] = {2, 0, 0, 0, 1, 7};
    uint8_t compressed_plain[] = {1, 0, 0, 0, 1, 7};
    uint8_t garbage_gzip[] = {1, 0, 0, 0, 4, 0x1f, 0x8b, 0xff, 0xff};

    assert_int_equal(
        opd_grpc_frame_decode(truncated, sizeof(truncated), NULL, 100, &out, &out_len, &owned),
        -EINVAL);
    assert_int_equal(opd_grpc_frame_decode(short_prefix, sizeof(short_prefix), NULL, 100, &out,
                                           &out_len, &owned),
                     -EINVAL);
    assert_int_equal(
        opd_grpc_frame_decode(bad_flag, sizeof(bad_flag), "gzip", 100, &out, &out_len, &owned),
        -EINVAL);
    assert_int_equal(opd_grpc_frame_decode(compressed_plain, sizeof(compressed_plain), NULL, 100,
                                           &out, &out_len, &owned),
                     -EINVAL);
    assert_int_equal(opd_grpc_frame_decode(compressed_plain, sizeof(compressed_plain), "snappy",
                                           100, &out, &out_len, &owned),
                     -ENOTSUP);
    assert_int_equal(opd_grpc_frame_decode(garbage_gzip, sizeof(garbage_gzip), "gzip", 100, &out,
                                           &out_len, &owned),
                     -EINVAL);
    assert_null(owned);
}

static void test_timeout_format(void **state)
{
    char b[16];

    opd_grpc_timeout_format(5000000000LL, b, sizeof(b));
    assert_string_equal(b, "5000000u");
    opd_grpc_timeout_format(250000000LL, b, sizeof(b));
    assert_string_equal(b, "250000u");
    opd_grpc_timeout_format(1, b, sizeof(b));
    assert_string_equal(b, "1n");
    opd_grpc_timeout_format(99999999, b, sizeof(b));
    assert_string_equal(b, "99999999n");
    opd_grpc_timeout_format(100000001, b, sizeof(b));
    assert_string_equal(b, "100001u"); /* rounded up, never shorter than asked */
    opd_grpc_timeout_format(3600LL * 1000000000LL * 1000, b, sizeof(b));
    assert_string_equal(b, "3600000S");
    opd_grpc_timeout_format(200000000LL * 1000000000LL, b, sizeof(b));
    assert_string_equal(b, "3333334M");
    opd_grpc_timeout_format(0, b, sizeof(b));
    assert_string_equal(b, "1n");
}

static void test_message_decode(void **state)
{
    char out[32];
    const char *in = "bad%20header%3A%zz%";

    opd_grpc_message_decode(in, strlen(in), out, sizeof(out));
    assert_string_equal(out, "bad header:%zz%");
    opd_grpc_message_decode("abcdef", 6, out, 4);
    assert_string_equal(out, "abc");
}

static void test_partial_success(void **state)
{
    /* {1: {1: 3, 2: "bad"}} */
    const uint8_t resp[] = {0x0a, 0x07, 0x08, 0x03, 0x12, 0x03, 'b', 'a', 'd'};
    const uint8_t empty[] = {0};
    const uint8_t broken[] = {0x0a, 0x09, 0x08};
    const uint8_t unknown[] = {0x10, 0x05, 0x0a, 0x02, 0x08, 0x07};
    int64_t rej = -1;
    char msg[16];

    assert_int_equal(opd_grpc_partial_success_decode(resp, sizeof(resp), &rej, msg, sizeof(msg)),
                     0);
    assert_int_equal(rej, 3);
    assert_string_equal(msg, "bad");
    assert_int_equal(opd_grpc_partial_success_decode(empty, 0, &rej, msg, sizeof(msg)), 0);
    assert_int_equal(rej, 0);
    assert_string_equal(msg, "");
    assert_int_equal(
        opd_grpc_partial_success_decode(broken, sizeof(broken), &rej, msg, sizeof(msg)), -EINVAL);
    assert_int_equal(
        opd_grpc_partial_success_decode(unknown, sizeof(unknown), &rej, msg, sizeof(msg)), 0);
    assert_int_equal(rej, 7);
}

static size_t b64(const uint8_t *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static void test_retry_info(void **state)
{
    static const char type[] = "type.googleapis.com/google.rpc.RetryInfo";
    uint8_t st[128];
    char enc[256];
    size_t n = 0, tl = sizeof(type) - 1;
    int64_t d = 0;

    /* google.rpc.Status{code 14, details [Any{type_url, value RetryInfo{Duration{1s,
     * 250ms}}}]} */
    st[n++] = 0x08;
    st[n++] = 14;
    st[n++] = 0x1a;
    st[n++] = (uint8_t)(2 + tl + 2 + 9);
    st[n++] = 0x0a;
    st[n++] = (uint8_t)tl;
    memcpy(st + n, type, tl);
    n += tl;
    st[n++] = 0x12;
    st[n++] = 9;
    st[n++] = 0x0a;
    st[n++] = 7;
    st[n++] = 0x08;
    st[n++] = 1;
    st[n++] = 0x10;
    st[n++] = 0x80; /* 250000000 = 0x0EE6B280 as varint: 80 e5 9a 77 */
    st[n++] = 0xe5;
    st[n++] = 0x9a;
    st[n++] = 0x77;
    size_t el = b64(st, n, enc);
    assert_int_equal(opd_grpc_retry_info_decode(enc, el, &d), 1);
    assert_int_equal(d, 1250000000LL);
    /* Without details: no RetryInfo. */
    el = b64(st, 2, enc);
    assert_int_equal(opd_grpc_retry_info_decode(enc, el, &d), 0);
    assert_int_equal(opd_grpc_retry_info_decode("!!!", 3, &d), -EINVAL);
    /* A cut-off message must fail cleanly. */
    el = b64(st, 10, enc);
    assert_int_equal(opd_grpc_retry_info_decode(enc, el, &d), -EINVAL);
}

static void test_codes(void **state)
{
    assert_true(opd_grpc_code_retryable(OPD_GRPC_UNAVAILABLE, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_DEADLINE_EXCEEDED, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_CANCELLED, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_ABORTED, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_OUT_OF_RANGE, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_DATA_LOSS, false));
    assert_false(opd_grpc_code_retryable(OPD_GRPC_RESOURCE_EXHAUSTED, false));
    assert_true(opd_grpc_code_retryable(OPD_GRPC_RESOURCE_EXHAUSTED, true));
    assert_false(opd_grpc_code_retryable(OPD_GRPC_INVALID_ARGUMENT, true));
    assert_false(opd_grpc_code_retryable(OPD_GRPC_UNAUTHENTICATED, false));
    assert_false(opd_grpc_code_retryable(OPD_GRPC_PERMISSION_DENIED, false));
    assert_false(opd_grpc_code_retryable(OPD_GRPC_INTERNAL, false));
    assert_int_equal(opd_grpc_code_from_http(503), OPD_GRPC_UNAVAILABLE);
    assert_int_equal(opd_grpc_code_from_http(401), OPD_GRPC_UNAUTHENTICATED);
    assert_int_equal(opd_grpc_code_from_http(415), OPD_GRPC_UNKNOWN);
    assert_string_equal(opd_grpc_code_name(14), "UNAVAILABLE");
    assert_string_equal(opd_grpc_code_name(99), "UNKNOWN_CODE");
    assert_true(opd_grpc_encoding_listed("identity,deflate,gzip", "gzip"));
    assert_false(opd_grpc_encoding_listed("identity,deflate,gzip", "zstd"));
    assert_false(opd_grpc_encoding_listed("identity,gzipx", "gzip"));
    assert_int_equal(opd_grpc_compression_parse("zstd"), OPD_GRPC_COMP_ZSTD);
    assert_int_equal(opd_grpc_compression_parse("none"), OPD_GRPC_COMP_NONE);
    assert_int_equal(opd_grpc_compression_parse("brotli"), -EINVAL);
}

/* Our compressed bodies must be what the reference tools decode. */
static void tool_decodes(enum opd_grpc_compression c, const char *tool)
{
    char cmd[512], in[] = "/tmp/opd-codec-XXXXXX", plain[] = "/tmp/opd-plain-XXXXXX";
    uint8_t msg[3000], *out;
    size_t out_len;
    FILE *f;
    int fd;

    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    if (system(cmd) != 0)
        skip();
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 % 13);
    assert_int_equal(opd_grpc_compress(c, msg, sizeof(msg), 0, &out, &out_len), 0);
    fd = mkstemp(in);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    assert_int_equal(fwrite(out, 1, out_len, f), out_len);
    fclose(f);
    opd_free(out);
    fd = mkstemp(plain);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    fwrite(msg, 1, sizeof(msg), f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -d -c < %s | cmp -s - %s", tool, in, plain);
    assert_int_equal(system(cmd), 0);
    unlink(in);
    unlink(plain);
}

static void test_gzip_tool_decodes(void **state)
{
    tool_decodes(OPD_GRPC_COMP_GZIP, "gzip");
}

static void test_zstd_tool_decodes(void **state)
{
    tool_decodes(OPD_GRPC_COMP_ZSTD, "zstd");
}

static void test_encode_nomem(void **state)
{
    uint8_t msg[100] = {1};
    uint8_t *frame = (uint8_t *)1;
    size_t len;

    opd_mem_fail_countdown = 0;
    assert_int_equal(opd_grpc_frame_encode(OPD_GRPC_COMP_GZIP, msg, sizeof(msg), &frame, &len),
                     -ENOMEM);
    opd_mem_fail_countdown = -1;
    assert_null(frame);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_none),        cmocka_unit_test(test_frame_gzip),
        cmocka_unit_test(test_frame_zstd),        cmocka_unit_test(test_frame_empty),
        cmocka_unit_test(test_frame_hostile),     cmocka_unit_test(test_timeout_format),
        cmocka_unit_test(test_message_decode),    cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_retry_info),        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_encode_nomem),      cmocka_unit_test(test_gzip_tool_decodes),
        cmocka_unit_test(test_zstd_tool_decodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
