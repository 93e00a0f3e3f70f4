/* The health board (states, attempts, threshold, window, forget) and the health_check
 * extension answering over HTTP: 200 with every component, 503 naming the culprit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/component.h"
#include "collector/engine/health.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "test_obs_util.h"

extern const struct opd_factory opd_health_check_extension_factory;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char *evaluate(const struct opd_health_policy *p, uint64_t now, bool all, bool *healthy)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    *healthy = opd_health_evaluate(p, now, all, f);
    fclose(f);
    return buf;
}

static int reset(void **state)
{
    opd_health_reset();
    return 0;
}

static void test_states(void **state)
{
    struct opd_health_policy p = {.window_ns = 0, .failure_threshold = 1};
    bool ok;
    char *j;

    j = evaluate(&p, now_ns(), true, &ok);
    assert_true(ok);
    assert_string_equal(j, "{\"healthy\":true,\"components\":[]}");
    free(j);

    assert_int_equal(opd_health_report("receiver/profiling", false, "starting"), 0);
    j = evaluate(&p, now_ns(), false, &ok);
    assert_false(ok);
    assert_non_null(strstr(j, "\"component\":\"receiver/profiling\",\"healthy\":false,"
                              "\"message\":\"starting\""));
    free(j);

    assert_int_equal(opd_health_report("receiver/profiling", true, "attached to 4 CPUs"), 0);
    j = evaluate(&p, now_ns(), false, &ok);
    assert_true(ok);
    assert_null(strstr(j, "receiver/profiling")); /* only the unhealthy are listed */
    free(j);
    j = evaluate(&p, now_ns(), true, &ok);
    assert_non_null(strstr(j, "attached to 4 CPUs"));
    free(j);

    /* Quotes and control characters in a message stay valid JSON. */
    opd_health_report("receiver/profiling", false, "bad \"x\"\n\\");
    j = evaluate(&p, now_ns(), false, &ok);
    assert_non_null(strstr(j, "\"message\":\"bad \\\"x\\\"\\n\\\\\""));
    free(j);
    opd_health_forget("receiver/profiling");
    assert_true(opd_health_evaluate(&p, now_ns(), false, NULL));
}

static void test_attempts_threshold_and_window(void **state)
{
    struct opd_health_policy p = {.window_ns = 60ull * 1000000000ull, .failure_threshold = 2};
    const char *e = "exporter/otlp_grpc";
    bool ok;
    char *j;

    opd_health_report_attempt(e, true, NULL);
    assert_true(opd_health_evaluate(&p, now_ns(), false, NULL));
    opd_health_report_attempt(e, false, "connection refused");
    /* One failure is under the threshold of two. */
    assert_true(opd_health_evaluate(&p, now_ns(), false, NULL));
    opd_health_report_attempt(e, false, "connection refused");
    j = evaluate(&p, now_ns(), false, &ok);
    assert_false(ok);
    assert_non_null(strstr(j, "\"consecutive_failures\":2"));
    assert_non_null(strstr(j, "connection refused"));
    free(j);
    /* Outside the window the failure no longer counts. */
    assert_true(opd_health_evaluate(&p, now_ns() + 61ull * 1000000000ull, false, NULL));
    /* A success clears it at once. */
    opd_health_report_attempt(e, true, NULL);
    assert_true(opd_health_evaluate(&p, now_ns(), false, NULL));

    /* Two exporters: one failing is enough. */
    p.failure_threshold = 1;
    opd_health_report_attempt("exporter/b", true, NULL);
    opd_health_report_attempt("exporter/c", false, "permanent: 400");
    j = evaluate(&p, now_ns(), false, &ok);
    assert_false(ok);
    assert_non_null(strstr(j, "exporter/c"));
    assert_null(strstr(j, "exporter/b"));
    free(j);
}

static void test_out_of_memory(void **state)
{
    struct opd_health_policy p = {.failure_threshold = 1};

    opd_mem_fail_countdown = 0;
    assert_int_equal(opd_health_report("receiver/x", false, "m"), -ENOMEM);
    opd_mem_fail_countdown = -1;
    /* The entry was not created, so nothing is unhealthy; a later report works. */
    assert_true(opd_health_evaluate(&p, now_ns(), false, NULL));
    for (long n = 0; n < 3; n++) {
        opd_mem_fail_countdown = n;
        int rc = opd_health_report("receiver/x", false, "attach failed");
        opd_mem_fail_countdown = -1;
        assert_true(rc == 0 || rc == -ENOMEM);
    }
    assert_int_equal(opd_health_report("receiver/x", false, "attach failed"), 0);
    assert_false(opd_health_evaluate(&p, now_ns(), false, NULL));
}

/* Binds the extension's config defaults, then sets endpoint and path. */
static struct opd_component *make_extension(void *cfg, const char *endpoint, const char *path)
{
    const struct opd_factory *f = &opd_health_check_extension_factory;
    struct opd_create_params cp = {.id = "health_check", .logname = "extension/health_check"};
    struct opd_component *c;
    char err[128];

    assert_int_equal(opd_config_defaults(f->config_map, cfg), 0);
    assert_string_equal(obs_cfg_str(f->config_map, cfg, "endpoint"), "localhost:13133");
    assert_string_equal(obs_cfg_str(f->config_map, cfg, "path"), "/");
    obs_cfg_set_str(f->config_map, cfg, "endpoint", endpoint);
    obs_cfg_set_str(f->config_map, cfg, "path", path);
    assert_int_equal(f->validate(cfg, err, sizeof(err)), 0);
    c = f->create(&cp, cfg);
    assert_non_null(c);
    assert_int_equal(opd_component_init_base(c, f, "health_check"), 0);
    return c;
}

static void test_extension_http(void **state)
{
    const struct opd_factory *f = &opd_health_check_extension_factory;
    char cfg[256] = {0}, addr[64], *resp;
    struct opd_component *c;
    int port = obs_free_port();

    assert_true(f->config_size <= sizeof(cfg));
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    c = make_extension(cfg, addr, "/health/status");
    assert_int_equal(c->ops->start(c, NULL), 0);

    opd_health_report("receiver/profiling", true, "attached");
    opd_health_report_attempt("exporter/otlp_grpc", true, NULL);
    resp = obs_http_get(port, "/health/status", "");
    assert_non_null(resp);
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(resp, "\"status\":\"Server available\""));
    assert_non_null(strstr(resp, "receiver/profiling"));
    free(resp);

    opd_health_report_attempt("exporter/otlp_grpc", false, "UNAVAILABLE: connection refused");
    resp = obs_http_get(port, "/health/status", "");
    assert_non_null(strstr(resp, "HTTP/1.1 503 Service Unavailable"));
    assert_non_null(strstr(resp, "Content-Type: application/json"));
    assert_non_null(strstr(resp, "\"component\":\"exporter/otlp_grpc\""));
    assert_non_null(strstr(resp, "UNAVAILABLE: connection refused"));
    assert_null(strstr(resp, "receiver/profiling")); /* healthy ones are not culprits */
    free(resp);

    resp = obs_http_get(port, "/", "");
    assert_non_null(strstr(resp, "404 Not Found"));
    free(resp);

    assert_int_equal(c->ops->shutdown(c, 0), 0);
    assert_int_equal(c->ops->shutdown(c, 0), 0); /* idempotent */
    opd_component_destroy(c);
    opd_config_release(f->config_map, cfg);
}

/* Without any component reporting, the extension reads the self-telemetry. */
static void test_extension_reads_telemetry(void **state)
{
    const struct opd_factory *f = &opd_health_check_extension_factory;
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_host host = {.telemetry = tel};
    struct opd_metric *cpus, *retries, *sent;
    char cfg[256] = {0}, addr[64], *resp;
    struct opd_component *c;
    int port = obs_free_port();

    cpus = opd_telemetry_metric(tel, OPD_METRIC_GAUGE, "otelprofd_profiling_cpus_attached",
                                "receiver=\"profiling\"", "");
    retries = opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelcol_exporter_send_retries",
                                   "exporter=\"otlp_grpc\"", "");
    sent = opd_telemetry_metric(tel, OPD_METRIC_COUNTER, "otelcol_exporter_sent_profile_samples",
                                "exporter=\"otlp_grpc\"", "");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    c = make_extension(cfg, addr, "/");
    assert_int_equal(c->ops->start(c, &host), 0);

    /* Not attached yet. */
    resp = obs_http_get(port, "/", "");
    assert_non_null(strstr(resp, "503"));
    assert_non_null(strstr(resp, "\"component\":\"receiver/profiling\""));
    assert_non_null(strstr(resp, "eBPF programs not attached"));
    free(resp);
    opd_metric_set(cpus, 2);
    resp = obs_http_get(port, "/", "");
    assert_non_null(strstr(resp, "200 OK"));
    assert_non_null(strstr(resp, "attached to 2 CPU(s)"));
    free(resp);

    /* The exporter retries without delivering: unhealthy; once it delivers: healthy. */
    opd_metric_add(retries, 3);
    resp = obs_http_get(port, "/", "");
    assert_non_null(strstr(resp, "503"));
    assert_non_null(strstr(resp, "\"component\":\"exporter/otlp_grpc\""));
    free(resp);
    resp = obs_http_get(port, "/", ""); /* nothing changed: still the last verdict */
    assert_non_null(strstr(resp, "503"));
    free(resp);
    opd_metric_add(sent, 10);
    resp = obs_http_get(port, "/", "");
    assert_non_null(strstr(resp, "200 OK"));
    free(resp);

    c->ops->shutdown(c, 0);
    opd_component_destroy(c);
    opd_config_release(f->config_map, cfg);
    opd_telemetry_destroy(tel);
}

static void test_extension_validate(void **state)
{
    const struct opd_factory *f = &opd_health_check_extension_factory;
    char cfg[256] = {0}, err[128];

    assert_true(f->config_size <= sizeof(cfg));
    assert_int_equal(opd_config_defaults(f->config_map, cfg), 0);
    obs_cfg_set_str(f->config_map, cfg, "endpoint", "no-port");
    assert_int_equal(f->validate(cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "no-port"));
    obs_cfg_set_str(f->config_map, cfg, "endpoint", "localhost:1");
    obs_cfg_set_str(f->config_map, cfg, "path", "health");
    assert_int_equal(f->validate(cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "must start with '/'"));
    opd_config_release(f->config_map, cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_states, reset),
        cmocka_unit_test_setup(test_attempts_threshold_and_window, reset),
        cmocka_unit_test_setup(test_out_of_memory, reset),
        cmocka_unit_test_setup(test_extension_http, reset),
        cmocka_unit_test_setup(test_extension_reads_telemetry, reset),
        cmocka_unit_test_setup(test_extension_validate, reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
