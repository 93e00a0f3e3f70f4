/* Self-telemetry: the exposition (counter suffixes, grouping, HELP escaping, process
 * metrics, OpenMetrics), the loss-accounting equation over counters registered the way
 * the receiver, processors and exporter helper register them, and the HTTP endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/engine/selftelemetry.h"
#include "collector/telemetry.h"
#include "test_obs_util.h"

static struct opd_metric *counter(struct opd_telemetry *t, const char *name, const char *labels,
                                  int64_t v)
{
    struct opd_metric *m = opd_telemetry_metric(t, OPD_METRIC_COUNTER, name, labels, "h");

    assert_non_null(m);
    opd_metric_add(m, v);
    return m;
}

static char *render(struct opd_telemetry *t, bool om)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    assert_int_equal(opd_selftelemetry_write(t, om, f), 0);
    fclose(f);
    return buf;
}

static void test_exposition(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    struct opd_metric *g;
    char *text;

    counter(t, "otelcol_exporter_sent_profile_samples", "exporter=\"a\"", 5);
    g = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelcol_exporter_queue_size", "exporter=\"a\"",
                             "Queue\nsize \\ now");
    opd_metric_set(g, 3);
    counter(t, "otelcol_exporter_sent_profile_samples", "exporter=\"b\"", 7);
    counter(t, "already_total", "", 1);

    text = render(t, false);
    /* One family head, both series under it, _total on the wire. */
    assert_non_null(strstr(text, "# TYPE otelcol_exporter_sent_profile_samples_total counter\n"
                                 "otelcol_exporter_sent_profile_samples_total{exporter=\"a\"} 5\n"
                                 "otelcol_exporter_sent_profile_samples_total{exporter=\"b\"} 7\n"));
    assert_non_null(strstr(text, "# HELP otelcol_exporter_queue_size Queue\\nsize \\\\ now\n"));
    assert_non_null(strstr(text, "otelcol_exporter_queue_size{exporter=\"a\"} 3\n"));
    assert_non_null(strstr(text, "# TYPE already_total counter\nalready_total 1\n"));
    assert_non_null(strstr(text, "# TYPE otelcol_process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(text, "otelcol_process_memory_rss_bytes "));
    assert_non_null(strstr(text, "otelcol_process_uptime_seconds_total "));
    assert_null(strstr(text, "# EOF"));
    free(text);

    text = render(t, true);
    /* OpenMetrics: the family is named without _total, its samples with it. */
    assert_non_null(strstr(text, "# TYPE otelcol_exporter_sent_profile_samples counter\n"));
    assert_non_null(strstr(text, "otelcol_exporter_sent_profile_samples_total{exporter=\"b\"} 7\n"));
    assert_non_null(strstr(text, "# TYPE already counter\nalready_total 1\n"));
    assert_int_equal(strcmp(text + strlen(text) - 6, "# EOF\n"), 0);
    free(text);
    opd_telemetry_destroy(t);
}

static int64_t dropped(const struct opd_loss_row *r, const char *reason)
{
    for (size_t i = 0; i < r->n_dropped; i++)
        if (strcmp(r->dropped[i].reason, reason) == 0)
            return r->dropped[i].n;
    return -1;
}

/* Every drop reason at once, with the counters named and labelled as their owners do:
 * 1000 taken in the kernel; 50 idle, 40 out of scope, 10 map full; 30 filtered by comm in
 * user space; 15 dropped by a processor, 12 refused by another (memory limit) and 8 by
 * the redaction processor (its own counter); then
 * exporter "otlp_grpc" gets 835 (the receiver's refused counter says nothing more):
 * 700 sent, 60 queue full, 40 permanent, 20 retries exhausted, 5 at shutdown, 10 queued.
 * Exporter "file" gets the same 835 and sends 830, 5 at shutdown. */
static void test_loss_equation(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    struct opd_loss_row rows[4];
    const struct opd_loss_row *g, *f;
    struct opd_metric *q;
    size_t n;
    char *text;

    counter(t, "otelprofd_profiling_samples_taken", "receiver=\"profiling\"", 1000);
    counter(t, "otelprofd_profiling_samples_recorded", "receiver=\"profiling\"", 900);
    counter(t, "otelprofd_profiling_samples_idle", "receiver=\"profiling\"", 50);
    counter(t, "otelprofd_profiling_samples_lost", "receiver=\"profiling\",reason=\"filtered\"",
            40);
    counter(t, "otelprofd_profiling_samples_lost", "receiver=\"profiling\",reason=\"map_full\"",
            10);
    /* Recorded, though incomplete: not a drop. */
    counter(t, "otelprofd_profiling_samples_lost",
            "receiver=\"profiling\",reason=\"user_stack_failed\"", 99);
    counter(t, "otelprofd_profiling_samples_comm_filtered", "receiver=\"profiling\"", 30);
    counter(t, "otelcol_receiver_accepted_profile_samples", "receiver=\"profiling\"", 850);
    counter(t, "otelcol_receiver_refused_profile_samples", "receiver=\"profiling\"", 20);
    counter(t, "otelprofd_processor_dropped_profiles",
            "processor=\"redaction\",reason=\"processor_filtered\"", 15);
    counter(t, "otelprofd_processor_dropped_profiles",
            "processor=\"memory_limiter\",reason=\"memory_limit\"", 12);
    /* The redaction processor's own counter of the samples it dropped. */
    counter(t, "otelprofd_redaction_dropped_samples", "processor=\"redaction\"", 8);
    /* Same suffix without a processor label: not a processor drop. */
    counter(t, "otelprofd_other_dropped_samples", "", 1000);

    counter(t, "otelcol_exporter_sent_profile_samples", "exporter=\"otlp_grpc\"", 700);
    counter(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"otlp_grpc\",reason=\"queue_full\"",
            60);
    counter(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"otlp_grpc\",reason=\"permanent\"",
            40);
    counter(t, "otelcol_exporter_dropped_profile_samples",
            "exporter=\"otlp_grpc\",reason=\"retries_exhausted\"", 20);
    counter(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"otlp_grpc\",reason=\"shutdown\"",
            5);
    q = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelcol_exporter_queue_size",
                             "exporter=\"otlp_grpc\"", "q");
    opd_metric_set(q, 10);
    counter(t, "otelcol_exporter_sent_profile_samples", "exporter=\"file\"", 830);
    counter(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"file\",reason=\"shutdown\"", 5);

    n = opd_loss_compute(t, rows, 4);
    assert_int_equal(n, 2);
    g = strcmp(rows[0].exporter, "otlp_grpc") == 0 ? &rows[0] : &rows[1];
    f = g == &rows[0] ? &rows[1] : &rows[0];
    assert_string_equal(f->exporter, "file");
    assert_int_equal(g->entered, 1000);
    assert_int_equal(g->delivered, 700);
    assert_int_equal(g->pending, 10);
    assert_int_equal(dropped(g, "idle"), 50);
    assert_int_equal(dropped(g, "filtered"), 40);
    assert_int_equal(dropped(g, "map_full"), 10);
    assert_int_equal(dropped(g, "comm_filtered"), 30);
    assert_int_equal(dropped(g, "memory_limit"), 12);
    assert_int_equal(dropped(g, "redaction"), 8);
    assert_int_equal(dropped(g, "other"), -1);
    assert_int_equal(dropped(g, "refused"), -1);
    assert_int_equal(dropped(g, "processor_filtered"), 15);
    assert_int_equal(dropped(g, "queue_full"), 60);
    assert_int_equal(dropped(g, "permanent"), 40);
    assert_int_equal(dropped(g, "retries_exhausted"), 20);
    assert_int_equal(dropped(g, "shutdown"), 5);
    assert_int_equal(dropped(g, "user_stack_failed"), -1);
    assert_int_equal(g->unaccounted, 0);
    assert_int_equal(f->delivered, 830);
    assert_int_equal(f->unaccounted, 0);

    /* A sample lost without a counter shows up as unaccounted. */
    counter(t, "otelprofd_profiling_samples_taken", "receiver=\"profiling\"", 1);
    n = opd_loss_compute(t, rows, 4);
    assert_int_equal(rows[0].unaccounted, 1);
    assert_int_equal(rows[1].unaccounted, 1);

    text = render(t, false);
    assert_non_null(strstr(text, "otelprofd_loss_samples_entered_total 1001\n"));
    assert_non_null(strstr(text,
                           "otelprofd_loss_samples_dropped_total{exporter=\"otlp_grpc\",reason="
                           "\"queue_full\"} 60\n"));
    assert_non_null(strstr(text, "otelprofd_loss_samples_unaccounted{exporter=\"file\"} 1\n"));
    free(text);

    /* Fewer rows than exporters: the count says how many there are. */
    assert_int_equal(opd_loss_compute(t, rows, 1), 2);
    opd_telemetry_destroy(t);
}

static void test_loss_other_receiver(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    struct opd_loss_row row;

    /* A receiver without a kernel counter brings in what it accepted and refused; the
     * refused batch reached the exporter, which dropped it as queue_full. */
    counter(t, "otelcol_receiver_accepted_profile_samples", "receiver=\"otlpjsonfile\"", 40);
    counter(t, "otelcol_receiver_refused_profile_samples", "receiver=\"otlpjsonfile\"", 2);
    counter(t, "otelcol_exporter_sent_profile_samples", "exporter=\"debug\"", 40);
    counter(t, "otelcol_exporter_dropped_profile_samples", "exporter=\"debug\",reason=\"queue_full\"", 2);
    assert_int_equal(opd_loss_compute(t, &row, 1), 1);
    assert_int_equal(row.entered, 42);
    assert_int_equal(dropped(&row, "refused"), -1);
    assert_int_equal(dropped(&row, "queue_full"), 2);
    assert_int_equal(row.unaccounted, 0);
    opd_telemetry_destroy(t);
}

static void test_endpoint(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    struct opd_selftelemetry *st;
    char *resp;

    counter(t, "otelcol_receiver_accepted_profile_samples", "receiver=\"r\"", 3);
    assert_null(opd_selftelemetry_start("bad address", t));
    assert_int_equal(errno, EINVAL);
    st = opd_selftelemetry_start("127.0.0.1:0", t);
    assert_non_null(st);
    resp = obs_http_get(opd_selftelemetry_port(st), "/metrics", "");
    assert_non_null(resp);
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK"));
    assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8"));
    assert_non_null(strstr(resp, "otelcol_receiver_accepted_profile_samples_total{receiver=\"r\"} 3"));
    free(resp);
    resp = obs_http_get(opd_selftelemetry_port(st), "/metrics",
                        "Accept: application/openmetrics-text; version=1.0.0\r\n");
    assert_non_null(strstr(resp, "Content-Type: application/openmetrics-text"));
    assert_non_null(strstr(resp, "# EOF\n"));
    free(resp);
    resp = obs_http_get(opd_selftelemetry_port(st), "/nope", "");
    assert_non_null(strstr(resp, "404"));
    free(resp);
    opd_selftelemetry_stop(st);
    opd_selftelemetry_stop(NULL);
    opd_telemetry_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_loss_equation),
        cmocka_unit_test(test_loss_other_receiver),
        cmocka_unit_test(test_endpoint),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
