/* OTLP/JSON codec: the Collector's protobuf JSON mapping, round trips, the recorded
 * example file, lenient-but-typed input, hostile input, fault injection. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/mem.h"
#include "otlp/profiles.h"
#include "tests/unit/test_otlp_fixture.h"

static struct opd_batch *decode_ok(const char *js)
{
    char err[256];
    struct opd_batch *b = opd_json_decode(js, strlen(js), err, sizeof(err));

    if (!b)
        fail_msg("decode failed: %s", err);
    return b;
}

static void expect_reject(const char *js, const char *needle)
{
    char err[256] = "";
    struct opd_batch *b;

    errno = 0;
    b = opd_json_decode(js, strlen(js), err, sizeof(err));
    if (b)
        fail_msg("accepted %s", js);
    assert_int_equal(errno, EINVAL);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_roundtrip(void **state)
{
    struct opd_batch *b = otlp_fixture_rich(), *d;
    char *js, *js2;
    size_t len, len2;

    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    assert_int_equal(strlen(js), len);
    assert_null(strchr(js, '\n'));
    d = decode_ok(js);
    otlp_assert_batch_equal(b, d);
    /* encoding is deterministic: decode → encode gives the same bytes */
    assert_int_equal(opd_json_encode(d, &js2, &len2), 0);
    assert_string_equal(js, js2);
    free(js);
    free(js2);
    opd_batch_unref(d);
    opd_batch_unref(b);

    b = otlp_fixture_synthetic(1000, 100, 10);
    assert_non_null(b);
    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    d = decode_ok(js);
    otlp_assert_batch_equal(b, d);
    free(js);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

static void expect_in(const char *js, const char *needle)
{
    if (!strstr(js, needle))
        fail_msg("output lacks %s", needle);
}

/* The protobuf JSON mapping as the Collector writes it. */
static void test_mapping(void **state)
{
    struct opd_batch *b = otlp_fixture_rich();
    char *js;
    size_t len;

    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    expect_in(js, "{\"resourceProfiles\":[{\"resource\":{\"attributes\":[{\"key\":\"process.pid\","
                  "\"value\":{\"intValue\":\"4242\"}}");
    expect_in(js, "\"dictionary\":{\"mappingTable\":[{},{\"memoryStart\":\"18446744071578845184\"");
    expect_in(js, "\"locationTable\":[{},");
    expect_in(js, "\"functionTable\":[{},");
    expect_in(js, "\"stringTable\":[\"\",\"samples\",\"count\",\"cpu\",\"nanoseconds\"");
    expect_in(js,
              "\"attributeTable\":[{},{\"keyStrindex\":5,\"value\":{\"stringValue\":\"kernel\"}}");
    expect_in(js, "\"stackTable\":[{},{\"locationIndices\":[1,2,3,4]}");
    /* trace and span ids in hex, the zero link as {} */
    expect_in(js, "\"linkTable\":[{},{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                  "\"spanId\":\"00f067aa0ba902b7\"}]");
    expect_in(js, "\"profileId\":\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\"");
    /* 64-bit integers as strings, 32-bit as numbers */
    expect_in(js, "\"values\":[\"1\",\"1\"],\"timestampsUnixNano\":[\"1764060000000001000\","
                  "\"1764060000050001000\"]");
    expect_in(js, "\"timeUnixNano\":\"1764060000000000000\",\"durationNano\":\"5000000000\"");
    expect_in(js, "\"periodType\":{\"typeStrindex\":3,\"unitStrindex\":4},\"period\":\"50000000\"");
    expect_in(js, "\"address\":\"18446744071593525371\"");
    expect_in(js, "\"fileOffset\":\"4096\"");
    expect_in(js, "\"originalPayloadFormat\":\"pprof\",\"originalPayload\":\"H4sA/xA=\"");
    expect_in(js, "{\"doubleValue\":0.25}");
    expect_in(js, "{\"boolValue\":true}");
    expect_in(js, "{\"bytesValue\":\"H4sA/xA=\"}");
    expect_in(js, "\"droppedAttributesCount\":3");
    expect_in(js,
              "\"scope\":{\"name\":\"otelprofd\",\"version\":\"0.1.0\",\"attributes\":[{\"key\":"
              "\"otelprofd.mode\",\"value\":{\"stringValue\":\"system\"}}],"
              "\"droppedAttributesCount\":1}");
    /* default values are left out */
    assert_null(strstr(js, "\"stackIndex\":0"));
    assert_null(strstr(js, "\"linkIndex\":0"));
    assert_null(strstr(js, "Strindex\":0"));
    assert_null(strstr(js, "\"fileOffset\":\"0\""));
    assert_null(strstr(js, "resource_profiles"));
    free(js);
    opd_batch_unref(b);
}

static void test_sample_file(void **state)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    char path[4096], err[256];
    char *data, *line, *next, *js;
    size_t len, lines = 0, jl;
    uint64_t samples = 0;

    snprintf(path, sizeof(path), "%s/tests/data/otlp/sample.jsonl", src ? src : ".");
    data = otlp_read_file(path, &len);
    if (!data)
        fail_msg("cannot read %s", path);
    for (line = data; line && *line; line = next) {
        struct opd_batch *b;
        size_t i;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        b = opd_json_decode(line, strlen(line), err, sizeof(err));
        if (!b)
            fail_msg("line %zu: %s", lines + 1, err);
        if (opd_batch_check(b, err, sizeof(err)))
            fail_msg("line %zu: %s", lines + 1, err);
        samples += opd_batch_sample_count(b);
        /* kernel and native frames, thread names, build ids */
        assert_true(opd_dict_attr_str(&b->dict, "profile.frame.type", "kernel") <
                    (int32_t)b->dict.n_attributes);
        for (i = 0; i < b->n_resources; i++)
            assert_non_null(opd_attrs_get(&b->resources[i].attrs, "process.pid"));
        assert_int_equal(opd_json_encode(b, &js, &jl), 0);
        assert_string_equal(js, line);
        free(js);
        opd_batch_unref(b);
        lines++;
    }
    assert_int_equal(lines, 3);
    assert_true(samples > 20);
    free(data);
}

/* Protobuf JSON parsers accept 64-bit integers as numbers, proto field names, null for
 * defaults, and skip unknown fields. */
static void test_lenient_input(void **state)
{
    const char *js =
        "{\"resource_profiles\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":"
        "{\"intValue\":12}},{\"keyStrindex\":3,\"value\":{\"stringValueStrindex\":4}}],"
        "\"unknownThing\":[1,2,3]},\"scopeProfiles\":[{\"scope\":null,\"profiles\":[{"
        "\"sample_type\":{\"type_strindex\":1,\"unitStrindex\":2},\"timeUnixNano\":1764060000,"
        "\"durationNano\":\"5\",\"period\":10.0,\"samples\":[{\"stack_index\":1,"
        "\"values\":[3,\"4\"],\"timestampsUnixNano\":[1,\"2\"],\"future\":{}}]}]}]}],"
        "\"dictionary\":{\"string_table\":[\"\",\"samples\",\"count\",\"service.name\",\"web\"],"
        "\"locationTable\":[{},{\"address\":4096}],\"stackTable\":[{},{\"locationIndices\":[1]}],"
        "\"extra\":true},\"futureTopLevel\":\"x\"}\n";
    struct opd_batch *b = decode_ok(js);
    const struct opd_profile *p;
    const struct opd_value *v;

    assert_int_equal(b->n_resources, 1);
    v = opd_attrs_get(&b->resources[0].attrs, "k");
    assert_non_null(v);
    assert_int_equal(v->u.i, 12);
    v = opd_attrs_get(&b->resources[0].attrs, "service.name");
    assert_non_null(v);
    assert_string_equal(v->u.str, "web");
    p = &b->resources[0].scopes[0].profiles[0];
    assert_string_equal(opd_dict_str(&b->dict, p->sample_type.type_strindex), "samples");
    assert_int_equal(p->time_unix_nano, 1764060000);
    assert_int_equal(p->duration_nano, 5);
    assert_int_equal(p->period, 10);
    assert_int_equal(p->samples[0].n_values, 2);
    assert_int_equal(p->samples[0].values[1], 4);
    assert_int_equal(p->samples[0].timestamps[1], 2);
    assert_int_equal(
        b->dict.locations[b->dict.stacks[p->samples[0].stack_index].location_indices[0]].address,
        4096);
    /* absent tables stand for their zero entry alone */
    assert_int_equal(b->dict.n_functions, 1);
    assert_int_equal(b->dict.n_links, 1);
    assert_int_equal(opd_batch_check(b, NULL, 0), 0);
    opd_batch_unref(b);

    b = decode_ok("{}");
    assert_int_equal(b->n_resources, 0);
    assert_int_equal(b->dict.n_strings, 1);
    opd_batch_unref(b);
}

static void test_wrong_types(void **state)
{
    expect_reject("", "invalid JSON");
    expect_reject("{\"resourceProfiles\":[", "invalid JSON");
    expect_reject("[]", "must be a JSON object");
    expect_reject("{\"resourceProfiles\":{}}", "resourceProfiles: expected an array");
    expect_reject("{\"resourceProfiles\":[7]}", "resourceProfiles[0]: expected an object");
    expect_reject("{\"dictionary\":[]}", "dictionary: expected an object");
    expect_reject("{\"dictionary\":{\"stringTable\":[\"\",5]}}",
                  "stringTable[1]: expected a string");
    expect_reject("{\"dictionary\":{\"stringTable\":[\"x\"]}}", "string_table[0]");
    expect_reject("{\"dictionary\":{\"linkTable\":[{},{\"traceId\":\"xyz\"}]}}",
                  "traceId: expected 32 hex digits");
    expect_reject("{\"dictionary\":{\"mappingTable\":[{},{\"memoryStart\":\"-1\"}]}}",
                  "memoryStart: expected an unsigned 64-bit integer");
    expect_reject("{\"dictionary\":{\"mappingTable\":[{},{\"memoryStart\":\"12abc\"}]}}",
                  "memoryStart");
    expect_reject("{\"dictionary\":{\"functionTable\":[{},{\"nameStrindex\":4294967296}]}}",
                  "nameStrindex: expected a 32-bit integer");
    expect_reject("{\"dictionary\":{\"functionTable\":[{},{\"nameStrindex\":3}]}}",
                  "function[1] name index 3 out of range");
    expect_reject("{\"dictionary\":{\"attributeTable\":[{},{\"value\":{\"boolValue\":\"yes\"}}]}}",
                  "boolValue: expected true or false");
    expect_reject("{\"dictionary\":{\"attributeTable\":[{},{\"value\":{\"arrayValue\":{}}}]}}",
                  "not supported");
    expect_reject("{\"dictionary\":{\"attributeTable\":[{},{\"value\":{\"bytesValue\":\"@@\"}}]}}",
                  "invalid base64");
    expect_reject("{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":[{\"samples\":"
                  "[{\"stackIndex\":5,\"values\":[\"1\"]}]}]}]}]}",
                  "stack index 5 out of range");
    expect_reject("{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":[{\"samples\":"
                  "[{\"values\":[true]}]}]}]}]}",
                  "values[0]: expected a 64-bit integer");
    expect_reject("{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":[{\"timeUnixNano\":"
                  "1.5}]}]}]}",
                  "timeUnixNano");
    expect_reject("{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":[{\"profileId\":"
                  "\"abcd\"}]}]}]}",
                  "profileId: expected 32 hex digits");
    expect_reject("{\"resourceProfiles\":[{\"resource\":{\"attributes\":[{\"keyStrindex\":2}]}}]}",
                  "keyStrindex: not an index of stringTable");
}

static void test_doubles_and_utf8(void **state)
{
    struct opd_batch *b = opd_batch_create(), *d;
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_value v = {.type = OPD_VAL_DOUBLE};
    const struct opd_value *got;
    char *js;
    size_t len;

    v.u.d = NAN;
    assert_int_equal(opd_attrs_set(b, &r->attrs, "nan", &v), 0);
    v.u.d = -INFINITY;
    assert_int_equal(opd_attrs_set(b, &r->attrs, "ninf", &v), 0);
    /* a symbol name that is not UTF-8 */
    assert_int_equal(opd_dict_string(&b->dict, "caf\xe9_\xff"), 1);
    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    expect_in(js, "{\"doubleValue\":\"NaN\"}");
    expect_in(js, "{\"doubleValue\":\"-Infinity\"}");
    expect_in(js, "\"caf\xef\xbf\xbd_\xef\xbf\xbd\"");
    d = decode_ok(js);
    got = opd_attrs_get(&d->resources[0].attrs, "nan");
    assert_true(got && isnan(got->u.d));
    got = opd_attrs_get(&d->resources[0].attrs, "ninf");
    assert_true(got && isinf(got->u.d) && got->u.d < 0);
    free(js);
    opd_batch_unref(d);
    opd_batch_unref(b);
}

static void test_truncated(void **state)
{
    struct opd_batch *b = otlp_fixture_batch(), *d;
    char *js;
    size_t len, i;

    assert_non_null(b);
    assert_int_equal(opd_json_encode(b, &js, &len), 0);
    for (i = 0; i < len; i++) {
        d = opd_json_decode(js, i, NULL, 0);
        /* every proper prefix of a JSON object is incomplete */
        assert_null(d);
        assert_int_equal(errno, EINVAL);
    }
    free(js);
    opd_batch_unref(b);
}

static void test_fault_injection(void **state)
{
    struct opd_batch *b = otlp_fixture_rich(), *d;
    char *js, *ref;
    size_t len, ref_len;
    long n;
    int rc;

    assert_int_equal(opd_json_encode(b, &ref, &ref_len), 0);
    for (n = 0;; n++) {
        opd_mem_fail_countdown = n;
        rc = opd_json_encode(b, &js, &len);
        opd_mem_fail_countdown = -1;
        if (!rc)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_null(js);
    }
    assert_true(n > 100);
    assert_string_equal(js, ref);
    free(js);
    for (n = 0;; n++) {
        char err[128];

        opd_mem_fail_countdown = n;
        d = opd_json_decode(ref, ref_len, err, sizeof(err));
        opd_mem_fail_countdown = -1;
        if (d)
            break;
        if (errno != ENOMEM || strcmp(err, "out of memory"))
            fail_msg("allocation %ld: errno %d, %s", n, errno, err);
    }
    assert_true(n > 100);
    otlp_assert_batch_equal(b, d);
    opd_batch_unref(d);
    free(ref);
    opd_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),   cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_sample_file), cmocka_unit_test(test_lenient_input),
        cmocka_unit_test(test_wrong_types), cmocka_unit_test(test_doubles_and_utf8),
        cmocka_unit_test(test_truncated),   cmocka_unit_test(test_fault_injection),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
