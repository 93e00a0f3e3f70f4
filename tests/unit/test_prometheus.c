/* The prometheus exporter: the sliding window (top_n and "other", expiry as time moves,
 * the series bound, label escaping, OpenMetrics), the batch views it relies on (CPU time
 * per sample, leaf names, frame kinds, service fallback), and the component end to end:
 * consume a batch, scrape /metrics over HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/exporters/prometheus/profview.h"
#include "collector/mem.h"
#include "collector/exporters/prometheus/promwin.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"
#include "test_obs_util.h"

extern const struct opd_factory opd_prometheus_exporter_factory;

#define S 1000000000ull

static char *win_text(struct opd_promwin *w, uint64_t now, size_t top, bool om)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(opd_promwin_write(w, now, top, om, f), 0);
    fclose(f);
    return buf;
}

static void add(struct opd_promwin *w, uint64_t now, const char *svc, const char *fn, double s)
{
    struct opd_promwin_labels l = {svc, "ns", "team-a", fn};

    assert_true(opd_promwin_add(w, now, &l, s) >= 0);
}

static void test_window_top_n_other(void **state)
{
    struct opd_promwin *w = opd_promwin_create(60 * S, 12, 1000);
    char *t;

    for (int i = 0; i < 5; i++) {
        char fn[16];
        snprintf(fn, sizeof(fn), "f%d", i);
        add(w, 100 * S, "svc", fn, 1.0 + i); /* f4 = 5 s ... f0 = 1 s */
    }
    add(w, 100 * S, "svc", "f4", 0.5);
    add(w, 100 * S, "other-svc", "g", 2);
    t = win_text(w, 101 * S, 2, false);
    assert_non_null(strstr(t, "# TYPE otelprofd_function_cpu_seconds gauge\n"));
    assert_non_null(strstr(t, "{service_name=\"svc\",k8s_namespace_name=\"ns\",team=\"team-a\","
                              "function=\"f4\"} 5.5\n"));
    assert_non_null(strstr(t, "function=\"f3\"} 4\n"));
    assert_null(strstr(t, "function=\"f2\""));
    /* f2 + f1 + f0 = 3 + 2 + 1 */
    assert_non_null(strstr(t, "{service_name=\"svc\",k8s_namespace_name=\"ns\",team=\"team-a\","
                              "function=\"other\"} 6\n"));
    assert_non_null(strstr(t, "service_name=\"other-svc\",k8s_namespace_name=\"ns\","
                              "team=\"team-a\",function=\"g\"} 2\n"));
    assert_null(strstr(t, "service_name=\"other-svc\",k8s_namespace_name=\"ns\",team=\"team-a\","
                          "function=\"other\""));
    assert_non_null(strstr(t, "otelprofd_service_cpu_seconds{service_name=\"svc\","
                              "k8s_namespace_name=\"ns\",team=\"team-a\"} 15.5\n"));
    assert_null(strstr(t, "# UNIT"));
    free(t);
    t = win_text(w, 101 * S, 2, true);
    assert_non_null(strstr(t, "# UNIT otelprofd_function_cpu_seconds seconds\n"));
    free(t);
    opd_promwin_destroy(w);
}

static void test_window_slides_and_expires(void **state)
{
    struct opd_promwin *w = opd_promwin_create(60 * S, 12, 1000); /* 5 s slots */
    char *t;

    add(w, 1000 * S, "gone", "f", 1);
    add(w, 1030 * S, "live", "f", 1);
    assert_int_equal(opd_promwin_series(w, 1030 * S), 2);
    add(w, 1050 * S, "live", "f", 2);
    t = win_text(w, 1059 * S, 10, false);
    assert_non_null(strstr(t, "service_name=\"gone\""));
    assert_non_null(strstr(t, "service_name=\"live\",k8s_namespace_name=\"ns\","
                              "team=\"team-a\",function=\"f\"} 3\n"));
    free(t);
    /* 61 s after its only sample, the gone process's series has left the window. */
    t = win_text(w, 1061 * S, 10, false);
    assert_null(strstr(t, "service_name=\"gone\""));
    assert_non_null(strstr(t, "function=\"f\"} 3\n"));
    free(t);
    assert_int_equal(opd_promwin_series(w, 1061 * S), 1);
    /* The first "live" sample leaves too, then everything. */
    t = win_text(w, 1091 * S, 10, false);
    assert_non_null(strstr(t, "function=\"f\"} 2\n"));
    free(t);
    assert_int_equal(opd_promwin_series(w, 1200 * S), 0);
    t = win_text(w, 1200 * S, 10, false);
    assert_null(strstr(t, "service_name="));
    free(t);
    opd_promwin_destroy(w);
}

static void test_window_bound_and_escaping(void **state)
{
    struct opd_promwin *w = opd_promwin_create(60 * S, 6, 3);
    struct opd_promwin_labels l = {"s\"q\\", NULL, NULL, "a\nb"};
    char *t;

    assert_int_equal(opd_promwin_add(w, S, &l, 1), 0);
    add(w, S, "svc", "f1", 1);
    add(w, S, "svc", "f2", 1);
    /* The bound is reached: new functions go to the service's "other". */
    l.service_name = "svc";
    l.k8s_namespace_name = "ns";
    l.team = "team-a";
    l.function = "f3";
    assert_int_equal(opd_promwin_add(w, S, &l, 2), 1);
    l.function = "f4";
    assert_int_equal(opd_promwin_add(w, S, &l, 1), 1);
    assert_true(opd_promwin_series(w, S) <= 4);
    assert_true(opd_promwin_overflow_seconds(w) == 3.0);
    t = win_text(w, S, 10, false);
    assert_non_null(strstr(t, "service_name=\"s\\\"q\\\\\",k8s_namespace_name=\"\","
                              "team=\"\",function=\"a\\nb\"} 1\n"));
    assert_non_null(strstr(t, "service_name=\"svc\",k8s_namespace_name=\"ns\",team=\"team-a\","
                              "function=\"other\"} 3\n"));
    assert_null(strstr(t, "f3"));
    free(t);
    /* Non-positive time is ignored. */
    assert_int_equal(opd_promwin_add(w, S, &l, 0), 0);
    assert_int_equal(opd_promwin_add(w, S, &l, -1), 0);
    assert_null(opd_promwin_create(0, 12, 10));
    assert_null(opd_promwin_create(S, 0, 10));
    opd_promwin_destroy(w);
    opd_promwin_destroy(NULL);
}

/* Every allocation of the window failing in turn: a clean -ENOMEM or NULL each time, no
 * leak (the sanitizer build checks), and the window stays usable. */
static void test_window_out_of_memory(void **state)
{
    bool completed = false;

    for (long n = 0; n < 200 && !completed; n++) {
        struct opd_promwin *w;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int rc = 0;

        opd_mem_fail_countdown = n;
        w = opd_promwin_create(60 * S, 12, 3);
        if (!w) {
            opd_mem_fail_countdown = -1;
            assert_int_equal(errno, ENOMEM);
            continue;
        }
        for (int i = 0; i < 6 && rc >= 0; i++) {
            struct opd_promwin_labels l = {"svc", "ns", "t", i % 2 ? "a" : "b"};
            char fn[8];
            snprintf(fn, sizeof(fn), "f%d", i);
            l.function = fn;
            rc = opd_promwin_add(w, S + (uint64_t)i * S, &l, 1);
            assert_true(rc >= 0 || rc == -ENOMEM);
        }
        f = open_memstream(&buf, &len);
        if (rc >= 0) {
            rc = opd_promwin_write(w, 10 * S, 2, false, f);
            assert_true(rc == 0 || rc == -ENOMEM);
        }
        completed = opd_mem_fail_countdown >= 0 && rc >= 0;
        opd_mem_fail_countdown = -1;
        fclose(f);
        free(buf);
        /* Still usable after a failure. */
        add(w, 11 * S, "svc", "z", 1);
        opd_promwin_destroy(w);
    }
    assert_true(completed);
}

/* ---- batch views --------------------------------------------------------------------- */

static int32_t loc(struct opd_batch *b, const char *name, const char *kind)
{
    struct opd_function f = {.name_strindex = opd_dict_string(&b->dict, name)};
    struct opd_line line = {.function_index = opd_dict_function(&b->dict, &f)};
    int32_t attr = opd_dict_attr_str(&b->dict, "profile.frame.type", kind);
    struct opd_location l = {.lines = &line, .n_lines = 1, .attr_indices = &attr, .n_attr = 1};

    return opd_dict_location(&b->dict, &l);
}

/* A batch with one resource and one CPU profile (period 10 ms) holding samples of the
 * stacks given leaf first, each with the given weight. */
static struct opd_batch *cpu_batch(const char *svc, const char *team, int64_t period)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_scope *s;
    struct opd_profile *p;

    if (svc)
        opd_attrs_set_str(b, &r->attrs, "service.name", svc);
    opd_attrs_set_str(b, &r->attrs, "process.executable.name", "exe");
    if (team)
        opd_attrs_set_str(b, &r->attrs, "team", team);
    opd_attrs_set_str(b, &r->attrs, "k8s.namespace.name", "prod");
    s = opd_resource_add_scope(b, r, "t", "1");
    p = opd_scope_add_profile(b, s);
    p->sample_type.type_strindex = opd_dict_string(&b->dict, "samples");
    p->sample_type.unit_strindex = opd_dict_string(&b->dict, "count");
    p->period_type.type_strindex = opd_dict_string(&b->dict, "cpu");
    p->period_type.unit_strindex = opd_dict_string(&b->dict, "nanoseconds");
    p->period = period;
    return b;
}

static void add_sample(struct opd_batch *b, const int32_t *locs, size_t n, int64_t weight)
{
    struct opd_profile *p = &b->resources[0].scopes[0].profiles[0];
    struct opd_sample s = {
        .stack_index = opd_dict_stack(&b->dict, locs, n), .values = &weight, .n_values = 1};

    assert_int_equal(opd_profile_add_sample(b, p, &s), 0);
}

static void test_profview(void **state)
{
    struct opd_batch *b = cpu_batch(NULL, NULL, 10000000);
    struct opd_profile *p = &b->resources[0].scopes[0].profiles[0];
    int32_t stack[3];
    uint64_t ns = 0;
    char buf[128];

    stack[0] = loc(b, "leaf_fn", "kernel");
    stack[1] = loc(b, "mid", "cpython");
    stack[2] = loc(b, "root", "go");
    add_sample(b, stack, 3, 2);
    assert_true(opd_pv_profile_cpu(b, p, &ns));
    assert_int_equal(ns, 10000000);
    assert_string_equal(opd_pv_leaf_name(b, &p->samples[0], buf, sizeof(buf)), "leaf_fn");
    assert_int_equal(opd_pv_location_kind(&b->dict, &b->dict.locations[stack[0]]), OPD_PV_KERNEL);
    assert_int_equal(opd_pv_location_kind(&b->dict, &b->dict.locations[stack[1]]),
                     OPD_PV_INTERPRETED);
    assert_int_equal(opd_pv_location_kind(&b->dict, &b->dict.locations[stack[2]]), OPD_PV_GO);
    assert_string_equal(opd_pv_service_name(&b->resources[0], buf, sizeof(buf)),
                        "unknown_service:exe");
    /* The team processor's team.name wins over a plain team attribute. */
    assert_null(opd_pv_team(&b->resources[0]));
    opd_attrs_set_str(b, &b->resources[0].attrs, "team", "plain");
    assert_string_equal(opd_pv_team(&b->resources[0]), "plain");
    opd_attrs_set_str(b, &b->resources[0].attrs, "team.name", "core");
    assert_string_equal(opd_pv_team(&b->resources[0]), "core");

    /* cpu/nanoseconds values count nanoseconds directly; off-CPU is not CPU. */
    p->sample_type.type_strindex = opd_dict_string(&b->dict, "cpu");
    p->sample_type.unit_strindex = opd_dict_string(&b->dict, "nanoseconds");
    assert_true(opd_pv_profile_cpu(b, p, &ns));
    assert_int_equal(ns, 1);
    p->sample_type.type_strindex = opd_dict_string(&b->dict, "off_cpu");
    assert_false(opd_pv_profile_cpu(b, p, &ns));
    p->sample_type.type_strindex = opd_dict_string(&b->dict, "samples");
    p->period = 0;
    assert_false(opd_pv_profile_cpu(b, p, &ns));

    /* No stack, and an unsymbolized frame. */
    {
        struct opd_sample s = {.stack_index = 0};
        struct opd_location l = {.address = 0x1234};
        assert_string_equal(opd_pv_leaf_name(b, &s, buf, sizeof(buf)), "[unknown]");
        assert_string_equal(opd_pv_frame_name(&b->dict, &l, 0, buf, sizeof(buf)), "0x1234");
    }
    opd_batch_unref(b);
}

/* ---- the component -------------------------------------------------------------------- */

static void test_exporter_scrape(void **state)
{
    const struct opd_factory *f = &opd_prometheus_exporter_factory;
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_create_params cp = {
        .id = "prometheus", .logname = "exporter/prometheus", .telemetry = tel};
    char cfg[256] = {0}, addr[64], err[128], *resp;
    struct opd_component *c;
    struct opd_batch *b;
    int32_t a[2], z[1];
    int port = obs_free_port();

    assert_true(f->config_size <= sizeof(cfg));
    assert_int_equal(opd_config_defaults(f->config_map, cfg), 0);
    assert_string_equal(obs_cfg_str(f->config_map, cfg, "endpoint"), "localhost:9464");
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    obs_cfg_set_str(f->config_map, cfg, "endpoint", addr);
    assert_int_equal(f->validate(cfg, err, sizeof(err)), 0);
    c = f->create(&cp, cfg);
    assert_non_null(c);
    assert_int_equal(opd_component_init_base(c, f, "prometheus"), 0);
    assert_int_equal(c->ops->start(c, NULL), 0);

    b = cpu_batch("checkout", "payments", 50000000); /* 20 Hz: 0.05 s per sample */
    a[0] = loc(b, "sha256", "go");
    a[1] = loc(b, "main", "go");
    z[0] = loc(b, "memmove", "native");
    add_sample(b, a, 2, 40);
    add_sample(b, z, 1, 10);
    /* An off-CPU profile in the same batch is not counted. */
    {
        struct opd_profile *off = opd_scope_add_profile(b, &b->resources[0].scopes[0]);
        struct opd_sample s = {.stack_index = opd_dict_stack(&b->dict, z, 1)};
        int64_t v = 5000000000;
        off->sample_type.type_strindex = opd_dict_string(&b->dict, "off_cpu");
        off->sample_type.unit_strindex = opd_dict_string(&b->dict, "nanoseconds");
        s.values = &v;
        s.n_values = 1;
        opd_profile_add_sample(b, off, &s);
    }
    assert_int_equal(c->ops->consume(c, b), 0);

    resp = obs_http_get(port, "/metrics", "");
    assert_non_null(resp);
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(resp, "otelprofd_function_cpu_seconds{service_name=\"checkout\","
                                 "k8s_namespace_name=\"prod\",team=\"payments\","
                                 "function=\"sha256\"} 2\n"));
    assert_non_null(strstr(resp, "function=\"memmove\"} 0.5\n"));
    assert_non_null(strstr(resp, "otelprofd_service_cpu_seconds{service_name=\"checkout\","
                                 "k8s_namespace_name=\"prod\",team=\"payments\"} 2.5\n"));
    free(resp);
    resp = obs_http_get(port, "/metrics", "Accept: application/openmetrics-text\r\n");
    assert_non_null(strstr(resp, "application/openmetrics-text; version=1.0.0"));
    assert_non_null(strstr(resp, "# EOF\n"));
    free(resp);
    assert_int_equal(opd_metric_get(opd_telemetry_find(tel, "otelcol_exporter_sent_profile_samples",
                                                       "exporter=\"prometheus\"")),
                     50);
    assert_int_equal(c->ops->shutdown(c, 0), 0);
    opd_component_destroy(c);
    opd_config_release(f->config_map, cfg);
    opd_telemetry_destroy(tel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_top_n_other),
        cmocka_unit_test(test_window_slides_and_expires),
        cmocka_unit_test(test_window_bound_and_escaping),
        cmocka_unit_test(test_window_out_of_memory),
        cmocka_unit_test(test_profview),
        cmocka_unit_test(test_exporter_scrape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
