/* Protobuf codec: round trips, v1.10 wire layout, hostile input, fault injection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/mem.h"
#include "otlp/profiles.h"
#include "otlp/proto/profiles_service.pb-c.h"
#include "tests/unit/test_otlp_fixture.h"

static void test_roundtrip(void **state)
{
    struct opd_batch *b = otlp_fixture_rich(), *d;
    uint8_t *buf;
    size_t len;
    char err[256];

    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    assert_true(len > 100);
    d = opd_proto_decode(buf, len, err, sizeof(err));
    if (!d)
        fail_msg("decode: %s", err);
    otlp_assert_batch_equal(b, d);
    assert_int_equal(opd_batch_check(d, NULL, 0), 0);
    assert_int_equal(atomic_load(&d->refs), 1);
    free(buf);
    opd_batch_unref(d);
    opd_batch_unref(b);

    b = otlp_fixture_synthetic(2000, 200, 12);
    assert_non_null(b);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    d = opd_proto_decode(buf, len, err, sizeof(err));
    assert_non_null(d);
    otlp_assert_batch_equal(b, d);
    free(buf);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

/* An all-zero profile id is invalid; like the Collector, treat it as absent. */
static void test_zero_profile_id(void **state)
{
    struct opd_batch *b = otlp_fixture_batch(), *d;
    struct opd_profile *p;
    char *js;
    uint8_t *buf;
    size_t len;

    assert_non_null(b);
    p = &b->resources[0].scopes[0].profiles[0];
    p->has_profile_id = true;
    memset(p->profile_id, 0, 16);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    d = opd_proto_decode(buf, len, NULL, 0);
    assert_non_null(d);
    assert_false(d->resources[0].scopes[0].profiles[0].has_profile_id);
    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    assert_null(strstr(js, "profileId"));
    free(js);
    free(buf);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

/* protobuf strings must be UTF-8: bytes from ELF files and paths are repaired on encode. */
static void test_invalid_utf8_repaired(void **state)
{
    struct opd_batch *b = opd_batch_create(), *d;
    struct opd_resource *r = opd_batch_add_resource(b);
    const struct opd_value *v;
    uint8_t *buf;
    size_t len;

    assert_int_equal(opd_dict_string(&b->dict, "caf\xe9"), 1);
    assert_int_equal(opd_dict_string(&b->dict, "ok"), 2);
    assert_int_equal(opd_attrs_set_str(b, &r->attrs, "process.executable.path", "/opt/\xff/bin"),
                     0);
    assert_non_null(opd_resource_add_scope(b, r, "otelprofd\xc3", NULL));
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    /* the batch itself is untouched */
    assert_string_equal(b->dict.strings[1], "caf\xe9");
    d = opd_proto_decode(buf, len, NULL, 0);
    assert_non_null(d);
    assert_string_equal(d->dict.strings[1], "caf\xef\xbf\xbd");
    assert_string_equal(d->dict.strings[2], "ok");
    v = opd_attrs_get(&d->resources[0].attrs, "process.executable.path");
    assert_non_null(v);
    assert_string_equal(v->u.str, "/opt/\xef\xbf\xbd/bin");
    assert_string_equal(d->resources[0].scopes[0].name, "otelprofd\xef\xbf\xbd");
    free(buf);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

static void test_empty(void **state)
{
    struct opd_batch *b = opd_batch_create(), *d;
    uint8_t *buf;
    size_t len;

    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    d = opd_proto_decode(buf, len, NULL, 0);
    assert_non_null(d);
    otlp_assert_batch_equal(b, d);
    free(buf);
    opd_batch_unref(d);
    /* zero bytes is a valid empty request: every table holds its zero entry */
    d = opd_proto_decode((const uint8_t *)"", 0, NULL, 0);
    assert_non_null(d);
    otlp_assert_batch_equal(b, d);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

/* v1.10 Sample numbering: stack_index 1, attribute_indices 2, link_index 3, values 4,
 * timestamps 5 (packed). */
static void test_wire_layout(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_profile *p;
    struct opd_scope *s;
    int32_t loc, st, attr;
    int64_t v = 7;
    uint64_t ts = 0x0102030405060708ULL;
    struct opd_location l = {.address = 0x10};
    struct opd_sample smp = {.values = &v, .n_values = 1, .timestamps = &ts, .n_timestamps = 1};
    static const uint8_t want[] = {0x08, 0x01, 0x12, 0x01, 0x01, 0x1a - 0x02, 0x01,
                                   0x22, 0x01, 0x07, 0x2a, 0x08, 0x08,        0x07,
                                   0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    uint8_t tid[16] = {1}, sid[8] = {2};
    uint8_t *buf;
    size_t len;

    loc = opd_dict_location(&b->dict, &l);
    st = opd_dict_stack(&b->dict, &loc, 1);
    attr = opd_dict_attr_str(&b->dict, "thread.name", "t");
    smp.stack_index = st;
    smp.attr_indices = &attr;
    smp.n_attr = 1;
    smp.link_index = opd_dict_link(&b->dict, tid, sid);
    assert_int_equal(st, 1);
    assert_int_equal(attr, 1);
    assert_int_equal(smp.link_index, 1);
    s = opd_resource_add_scope(b, opd_batch_add_resource(b), "s", NULL);
    p = opd_scope_add_profile(b, s);
    assert_int_equal(opd_profile_add_sample(b, p, &smp), 0);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    /* sample: 08 01 | 12 01 01 | 18 01 | 22 01 07 | 2a 08 <fixed64 LE> */
    assert_non_null(memmem(buf, len, want, sizeof(want)));
    /* dictionary (request field 2), zero link written as an empty message: 22 00 */
    assert_int_equal(buf[0], 0x0a); /* resource_profiles first */
    free(buf);
    opd_batch_unref(b);
}

static void test_dedup_on_decode(void **state)
{
    struct opd_batch *b = otlp_fixture_batch(), *d;
    struct opd_profile *p;
    int32_t st;
    uint8_t *buf;
    size_t len, n;

    assert_non_null(b);
    p = &b->resources[0].scopes[0].profiles[0];
    st = p->sample_type.type_strindex;
    n = b->dict.n_strings;
    /* a producer that does not deduplicate: the last string repeats "samples" */
    b->dict.strings[n - 1] = b->dict.strings[st];
    p->sample_type.type_strindex = (int32_t)n - 1;
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    d = opd_proto_decode(buf, len, NULL, 0);
    assert_non_null(d);
    assert_int_equal(d->dict.n_strings, n - 1);
    p = &d->resources[0].scopes[0].profiles[0];
    assert_int_equal(p->sample_type.type_strindex, st);
    assert_string_equal(opd_dict_str(&d->dict, p->sample_type.type_strindex), "samples");
    assert_int_equal(opd_batch_check(d, NULL, 0), 0);
    free(buf);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

static void expect_reject(const uint8_t *buf, size_t len, const char *needle)
{
    char err[256] = "";
    struct opd_batch *d;

    errno = 0;
    d = opd_proto_decode(buf, len, err, sizeof(err));
    if (d)
        fail_msg("accepted input that should fail with \"%s\"", needle);
    assert_int_equal(errno, EINVAL);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_hostile_indices(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();
    struct opd_sample *s;
    uint8_t *buf;
    size_t len;
    int32_t saved;
    const char *s0;
    /* request { dictionary { link_table { trace_id: 3 bytes } } } */
    static const uint8_t bad_link[] = {0x12, 0x07, 0x22, 0x05, 0x0a, 0x03, 0x01, 0x02, 0x03};
    /* request { dictionary { attribute_table { value { string_value_strindex: 9 } } } } */
    static const uint8_t bad_strindex[] = {0x12, 0x06, 0x32, 0x04, 0x12, 0x02, 0x40, 0x09};
    /* request { dictionary { attribute_table { value { array_value {} } } } } */
    static const uint8_t array_value[] = {0x12, 0x06, 0x32, 0x04, 0x12, 0x02, 0x2a, 0x00};

    assert_non_null(b);
    s = &b->resources[0].scopes[0].profiles[0].samples[1];

    saved = s->stack_index;
    s->stack_index = 100000;
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    expect_reject(buf, len, "stack index 100000 out of range");
    free(buf);
    s->stack_index = saved;

    saved = b->dict.stacks[1].n;
    ((int32_t *)b->dict.stacks[1].location_indices)[0] = -5;
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    expect_reject(buf, len, "location index -5");
    free(buf);
    ((int32_t *)b->dict.stacks[1].location_indices)[0] = 1;

    b->dict.locations[2].mapping_index = 77;
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    expect_reject(buf, len, "mapping index 77");
    free(buf);
    b->dict.locations[2].mapping_index = 0;

    s0 = b->dict.strings[0];
    b->dict.strings[0] = "not empty";
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    expect_reject(buf, len, "string_table[0]");
    free(buf);
    b->dict.strings[0] = s0;

    expect_reject(bad_link, sizeof(bad_link), "trace_id must be 0 or 16 bytes");
    expect_reject(bad_strindex, sizeof(bad_strindex), "string_value_strindex 9");
    expect_reject(array_value, sizeof(array_value), "not supported");
    expect_reject((const uint8_t *)"\x0a\xff\xff\xff\xff\x0f", 6, "malformed protobuf");
    opd_batch_unref(b);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    do {
        p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Wraps the message in buf[at..end) in a length-delimited field, building backwards. */
static size_t wrap(uint8_t *buf, size_t at, size_t end, uint8_t tag)
{
    uint8_t hdr[11];
    size_t n;

    hdr[0] = tag;
    n = 1 + put_varint(hdr + 1, end - at);
    assert_true(at >= n);
    memcpy(buf + at - n, hdr, n);
    return at - n;
}

/* Nested AnyValue arrays would make protoc-c recurse until the stack overflows. */
static void test_deep_nesting(void **state)
{
    size_t cap = 4 << 20, end = cap, at = cap, i;
    uint8_t *buf = malloc(cap);

    assert_non_null(buf);
    for (i = 0; i < 100000; i++) {
        at = wrap(buf, at, end, 0x0a); /* ArrayValue.values */
        at = wrap(buf, at, end, 0x2a); /* AnyValue.array_value */
    }
    at = wrap(buf, at, end, 0x12); /* KeyValueAndUnit.value */
    at = wrap(buf, at, end, 0x32); /* ProfilesDictionary.attribute_table */
    at = wrap(buf, at, end, 0x12); /* request.dictionary */
    expect_reject(buf + at, end - at, "nested deeper than");
    free(buf);
}

static void test_key_strindex_resolved(void **state)
{
    Opentelemetry__Proto__Collector__Profiles__V1development__ExportProfilesServiceRequest req =
        OPENTELEMETRY__PROTO__COLLECTOR__PROFILES__V1DEVELOPMENT__EXPORT_PROFILES_SERVICE_REQUEST__INIT;
    Opentelemetry__Proto__Profiles__V1development__ProfilesDictionary dict =
        OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__PROFILES_DICTIONARY__INIT;
    Opentelemetry__Proto__Profiles__V1development__ResourceProfiles rp =
        OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__RESOURCE_PROFILES__INIT;
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Common__V1__KeyValue kv =
        OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    Opentelemetry__Proto__Common__V1__AnyValue av =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    Opentelemetry__Proto__Profiles__V1development__ResourceProfiles *rps[1] = {&rp};
    Opentelemetry__Proto__Common__V1__KeyValue *kvs[1] = {&kv};
    char *strings[3] = {"", "service.name", "checkout"};
    struct opd_batch *d;
    const struct opd_value *v;
    uint8_t buf[256];
    size_t len;

    dict.n_string_table = 3;
    dict.string_table = strings;
    av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE_STRINDEX;
    av.string_value_strindex = 2;
    kv.key_strindex = 1;
    kv.value = &av;
    res.n_attributes = 1;
    res.attributes = kvs;
    rp.resource = &res;
    req.n_resource_profiles = 1;
    req.resource_profiles = rps;
    req.dictionary = &dict;
    len = protobuf_c_message_pack(&req.base, buf);
    d = opd_proto_decode(buf, len, NULL, 0);
    assert_non_null(d);
    v = opd_attrs_get(&d->resources[0].attrs, "service.name");
    assert_non_null(v);
    assert_int_equal(v->type, OPD_VAL_STR);
    assert_string_equal(v->u.str, "checkout");
    opd_batch_unref(d);
    /* out of range key_strindex */
    kv.key_strindex = 3;
    len = protobuf_c_message_pack(&req.base, buf);
    expect_reject(buf, len, "key_strindex 3 out of range");
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

/* Whatever decodes must re-encode, and one round normalizes it (invalid UTF-8 repaired,
 * duplicates that repair created merged): encode → decode is then a fixed point. */
static void assert_reencodes(const struct opd_batch *d)
{
    struct opd_batch *d2, *d3;
    uint8_t *again;
    size_t alen;

    assert_int_equal(opd_proto_encode(d, &again, &alen), 0);
    d2 = opd_proto_decode(again, alen, NULL, 0);
    assert_non_null(d2);
    free(again);
    assert_int_equal(opd_proto_encode(d2, &again, &alen), 0);
    d3 = opd_proto_decode(again, alen, NULL, 0);
    assert_non_null(d3);
    otlp_assert_batch_equal(d2, d3);
    opd_batch_unref(d3);
    opd_batch_unref(d2);
    free(again);
}

static void test_truncated_and_mutated(void **state)
{
    struct opd_batch *b = otlp_fixture_batch(), *d;
    uint8_t *buf, *mut;
    size_t len, i;
    int k;

    assert_non_null(b);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    for (i = 0; i < len; i++) {
        d = opd_proto_decode(buf, i, NULL, 0);
        if (d) /* a prefix can be a shorter valid message */
            assert_reencodes(d);
        opd_batch_unref(d);
    }
    mut = malloc(len);
    assert_non_null(mut);
    for (i = 0; i < 3000; i++) {
        memcpy(mut, buf, len);
        for (k = 0; k < 1 + (int)(next_rand() % 4); k++)
            mut[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
        d = opd_proto_decode(mut, len, NULL, 0);
        if (d)
            assert_reencodes(d);
        opd_batch_unref(d);
    }
    free(mut);
    free(buf);
    opd_batch_unref(b);
}

static void test_fault_injection(void **state)
{
    struct opd_batch *b = otlp_fixture_rich(), *d;
    uint8_t *buf, *ref;
    size_t len, ref_len;
    long n;
    int rc;

    assert_int_equal(opd_proto_encode(b, &ref, &ref_len), 0);
    for (n = 0;; n++) {
        opd_mem_fail_countdown = n;
        rc = opd_proto_encode(b, &buf, &len);
        opd_mem_fail_countdown = -1;
        if (!rc)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_null(buf);
    }
    assert_true(n >= 2); /* scratch arena and output buffer */
    assert_int_equal(len, ref_len);
    assert_memory_equal(buf, ref, len);
    free(buf);
    for (n = 0;; n++) {
        char err[128];

        opd_mem_fail_countdown = n;
        d = opd_proto_decode(ref, ref_len, err, sizeof(err));
        opd_mem_fail_countdown = -1;
        if (d)
            break;
        if (errno != ENOMEM || strcmp(err, "out of memory"))
            fail_msg("allocation %ld: errno %d, %s", n, errno, err);
    }
    assert_true(n > 20);
    otlp_assert_batch_equal(b, d);
    opd_batch_unref(d);
    free(ref);
    opd_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_wire_layout),
        cmocka_unit_test(test_dedup_on_decode),
        cmocka_unit_test(test_hostile_indices),
        cmocka_unit_test(test_key_strindex_resolved),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_truncated_and_mutated),
        cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_zero_profile_id),
        cmocka_unit_test(test_invalid_utf8_repaired),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
