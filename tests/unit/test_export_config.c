/* Export components' configuration: the Collector's defaults, and the cross-field checks
 * that turn a bad config into a clear error before anything starts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/component.h"
#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"
#include "collector/extensions/file_storage/file_storage.h"
#include "collector/mem.h"
#include "otlp/http/http_client.h"

extern const struct opd_factory opd_otlp_grpc_exporter_factory;
extern const struct opd_factory opd_otlp_http_exporter_factory;
extern const struct opd_factory opd_bearertokenauth_extension_factory;
extern const struct opd_factory opd_file_storage_extension_factory;

static void test_grpc_defaults(void **state)
{
    struct opd_otlp_grpc_config c;
    char err[256];

    memset(&c, 0, sizeof(c));
    assert_int_equal(opd_config_defaults(opd_otlp_grpc_config_map, &c), 0);
    assert_string_equal(c.compression, "gzip");
    assert_int_equal(c.timeout_ns, 5000000000LL);
    assert_true(c.sending_queue.enabled);
    assert_int_equal(c.sending_queue.num_consumers, 10);
    assert_int_equal(c.sending_queue.queue_size, 1000);
    assert_string_equal(c.sending_queue.sizer, "requests");
    assert_false(c.sending_queue.block_on_overflow);
    assert_null(c.sending_queue.storage);
    assert_true(c.retry_on_failure.enabled);
    assert_int_equal(c.retry_on_failure.initial_interval_ns, 5000000000LL);
    assert_int_equal(c.retry_on_failure.max_interval_ns, 30000000000LL);
    assert_int_equal(c.retry_on_failure.max_elapsed_time_ns, 300000000000LL);
    assert_true(c.retry_on_failure.multiplier == 1.5);
    assert_true(c.retry_on_failure.randomization_factor == 0.5);
    assert_false(c.tls.insecure);
    assert_false(c.tls.insecure_skip_verify);
    assert_true(c.max_request_bytes > 0 && c.max_request_bytes < 4 << 20);
    /* No endpoint: refused with a reason. */
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "endpoint"));
    c.endpoint = strdup("collector");
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "host:port"));
    free(c.endpoint);
    c.endpoint = strdup("[::1]:4317");
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), 0);
    c.tls.cert_file = strdup("/x.pem");
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key_file"));
    c.tls.key_file = strdup("/x.key");
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), 0);
    c.retry_on_failure.max_interval_ns = 1;
    assert_int_equal(opd_otlp_grpc_config_validate(&c, err, sizeof(err)), -EINVAL);
    opd_config_release(opd_otlp_grpc_config_map, &c);
}

static void test_http_defaults(void **state)
{
    const struct opd_factory *f = &opd_otlp_http_exporter_factory;
    void *c = calloc(1, f->config_size);
    char err[256];

    assert_string_equal(f->alias, "otlphttp");
    assert_int_equal(opd_config_defaults(f->config_map, c), 0);
    assert_int_equal(f->validate(c, err, sizeof(err)), -EINVAL);
    opd_config_release(f->config_map, c);
    free(c);
    assert_string_equal(opd_otlp_grpc_exporter_factory.alias, "otlp");
}

static void test_bearertokenauth_validate(void **state)
{
    struct {
        char *token, *filename, *scheme, *header;
    } c = {NULL, NULL, "Bearer", "authorization"};
    char err[128];
    const struct opd_factory *f = &opd_bearertokenauth_extension_factory;

    assert_int_equal(f->validate(&c, err, sizeof(err)), -EINVAL);
    c.token = "abc";
    assert_int_equal(f->validate(&c, err, sizeof(err)), 0);
    c.filename = "/run/token";
    assert_int_equal(f->validate(&c, err, sizeof(err)), -EINVAL);
    c.filename = NULL;
    c.token = "a\nb";
    assert_int_equal(f->validate(&c, err, sizeof(err)), -EINVAL);
}

static void test_file_storage_path(void **state)
{
    struct {
        char *directory;
        bool fsync, create;
        int64_t max;
    } c = {"/var/lib/otelprofd", true, false, 4096};
    struct opd_create_params p = {.id = "file_storage", .logname = "extension/file_storage"};
    const struct opd_factory *f = &opd_file_storage_extension_factory;
    struct opd_component *x;
    char path[64];
    bool fs;
    int64_t max;

    x = f->create(&p, &c);
    assert_non_null(x);
    assert_int_equal(opd_component_init_base(x, f, p.id), 0);
    assert_true(opd_is_file_storage(x));
    assert_int_equal(
        opd_file_storage_path(x, "exporter/otlp_grpc/a b", path, sizeof(path), &fs, &max), 0);
    assert_string_equal(path, "/var/lib/otelprofd/exporter_otlp_grpc_a_b.queue");
    assert_true(fs);
    assert_int_equal(max, 4096);
    assert_int_equal(
        opd_file_storage_path(x, "exporter/otlp_grpc/a-very-long-name-indeed", path, 30, &fs, &max),
        -ENAMETOOLONG);
    opd_component_destroy(x);
}

static void test_retry_after(void **state)
{
    /* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. */
    assert_int_equal(opd_http_parse_retry_after("120", 0), 120000000000LL);
    assert_int_equal(opd_http_parse_retry_after(" 0", 0), 0);
    assert_int_equal(opd_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770),
                     7000000000LL);
    assert_int_equal(opd_http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
    assert_int_equal(opd_http_parse_retry_after("soon", 0), -1);
    assert_int_equal(opd_http_parse_retry_after("-5", 0), -1);
    assert_int_equal(opd_http_parse_retry_after("12abc", 0), -1);
    assert_int_equal(opd_http_parse_retry_after("99999999999", 0), -1); /* > a week */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grpc_defaults),
        cmocka_unit_test(test_http_defaults),
        cmocka_unit_test(test_bearertokenauth_validate),
        cmocka_unit_test(test_file_storage_path),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
