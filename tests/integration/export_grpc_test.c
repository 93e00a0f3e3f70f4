/* otlp_grpc exporter against the independent gRPC receiver (shared/peer/otlp-sink):
 * each test drives an exporter instance directly (create → start → consume → shutdown)
 * and then checks what the peer decoded and what the exporter's metrics say. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/component.h"
#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/extensions/file_storage/file_storage.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/grpc/grpc_client.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/otlp_paths.h"
#include "otlp/profiles.h"
#include "tests/integration/export_peer.h"
#include "tests/unit/test_otlp_fixture.h"

extern const struct opd_factory opd_otlp_grpc_exporter_factory;

static char tmp[256];
static uint64_t fixture_samples;     /* samples as the exporter counts them */
static uint64_t fixture_sample_msgs; /* Sample messages, as the peer's summary counts */

/* ---- a tiny host with extensions ---------------------------------------------------- */

struct host {
    struct opd_host h;
    struct opd_component *ext[4];
    size_t n;
};

static struct opd_component *host_get(struct opd_host *h, const char *id)
{
    struct host *x = (struct host *)h;
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->ext[i]->id, id) == 0)
            return x->ext[i];
    return NULL;
}

static void add_ext(struct host *h, const struct opd_factory *f, const char *id, void *cfg)
{
    struct opd_create_params p = {.id = id, .logname = id};
    struct opd_component *c = f->create(&p, cfg);
    assert_non_null(c);
    assert_int_equal(opd_component_init_base(c, f, id), 0);
    assert_int_equal(c->ops->start(c, &h->h), 0);
    h->ext[h->n++] = c;
}

static void host_fini(struct host *h)
{
    for (size_t i = 0; i < h->n; i++)
        opd_component_destroy(h->ext[i]);
    h->n = 0;
}

/* ---- exporter under test ------------------------------------------------------------ */

struct exp {
    struct opd_otlp_grpc_config cfg;
    struct opd_telemetry *tel;
    struct opd_component *c;
    struct host host;
};

static void exp_init(struct exp *e, int port)
{
    char ep[64];

    memset(e, 0, sizeof(*e));
    e->host.h.get_extension = host_get;
    assert_int_equal(opd_config_defaults(opd_otlp_grpc_config_map, &e->cfg), 0);
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", port);
    e->cfg.endpoint = strdup(ep);
    e->cfg.tls.insecure = true;
    e->cfg.retry_on_failure.initial_interval_ns = 100000000;
    e->cfg.retry_on_failure.max_interval_ns = 400000000;
    e->cfg.timeout_ns = 3000000000LL;
    e->tel = opd_telemetry_create();
    e->host.h.telemetry = e->tel;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

static void exp_start(struct exp *e)
{
    struct opd_create_params p = {
        .id = "otlp_grpc/test", .logname = "exporter/otlp_grpc/test", .telemetry = e->tel};
    char err[256] = "";

    assert_int_equal(opd_otlp_grpc_exporter_factory.validate(&e->cfg, err, sizeof(err)), 0);
    e->c = opd_otlp_grpc_exporter_factory.create(&p, &e->cfg);
    assert_non_null(e->c);
    assert_int_equal(opd_component_init_base(e->c, &opd_otlp_grpc_exporter_factory, p.id), 0);
    assert_int_equal(e->c->ops->start(e->c, &e->host.h), 0);
}

static void exp_send(struct exp *e, int n)
{
    for (int i = 0; i < n; i++) {
        struct opd_batch *b = otlp_fixture_batch();
        assert_non_null(b);
        opd_component_consume(e->c, b);
    }
}

static int64_t m(struct exp *e, const char *name)
{
    return opd_metric_get(opd_telemetry_find(e->tel, name, "exporter=\"otlp_grpc/test\""));
}

static int64_t dropped(struct exp *e, const char *reason)
{
    char l[128];
    snprintf(l, sizeof(l), "exporter=\"otlp_grpc/test\",reason=\"%s\"", reason);
    return opd_metric_get(opd_telemetry_find(e->tel, "otelcol_exporter_dropped_profile_samples", l));
}

static void wait_metric(struct exp *e, const char *name, int64_t want, int ms)
{
    for (int i = 0; i < ms / 10 && m(e, name) < want; i++)
        usleep(10000);
}

static void exp_stop(struct exp *e, int deadline_ms)
{
    e->c->ops->shutdown(e->c, opd_grpc_now_ns() + (uint64_t)deadline_ms * 1000000ULL);
}

static void exp_fini(struct exp *e)
{
    opd_component_destroy(e->c);
    host_fini(&e->host);
    opd_config_release(opd_otlp_grpc_config_map, &e->cfg);
    opd_telemetry_destroy(e->tel);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_h2c_gzip(void **state)
{
    struct peer p;
    struct exp e;
    json_t *recs, *r;
    size_t i;

    assert_int_equal(peer_start(&p, tmp, "h2c", 0, NULL), 0);
    exp_init(&e, p.port);
    exp_start(&e);
    exp_send(&e, 3);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 3 * (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 3);
    assert_int_equal(peer_error_violations(recs), 0);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 3 * fixture_samples);
    json_array_foreach(recs, i, r)
    {
        json_t *g = json_object_get(r, "grpc"), *h = json_object_get(r, "headers");
        assert_true(json_is_true(json_object_get(r, "valid")));
        assert_string_equal(json_string_value(json_object_get(g, "encoding")), "gzip");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(g, "message"), "compressed_flag")),
            1);
        assert_string_equal(json_string_value(json_object_get(h, "te")), "trailers");
        assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                            "application/grpc");
        assert_non_null(json_string_value(json_object_get(h, "grpc-timeout")));
        assert_string_equal(json_string_value(json_object_get(h, ":path")),
                            OPD_OTLP_GRPC_PROFILES_METHOD);
        /* One long-lived connection carries every call. */
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(r, "connection"), "id")), 1);
    }
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_zstd_falls_back(void **state)
{
    struct peer p;
    struct exp e;
    json_t *recs;

    assert_int_equal(peer_start(&p, tmp, "zstd", 0, NULL), 0);
    exp_init(&e, p.port);
    set_str(&e.cfg.compression, "zstd");
    e.cfg.retry_on_failure.initial_interval_ns = 30000000000LL;
    e.cfg.retry_on_failure.max_interval_ns = 30000000000LL;
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    /* grpc-js accepts identity, deflate and gzip only: the zstd call is refused with
     * grpc-accept-encoding, and the exporter switches to gzip and resends. */
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    /* Resent at once with gzip, not after a retry backoff. */
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 1);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_tls_and_mtls(void **state)
{
    char cert[300], key[300], ca[300], ep[64];
    const char *flags[8];
    struct peer p;
    struct exp e;
    json_t *recs, *tls;

    snprintf(cert, sizeof(cert), "%s/server.pem", tmp);
    snprintf(key, sizeof(key), "%s/server.key", tmp);
    snprintf(ca, sizeof(ca), "%s/ca.pem", tmp);
    flags[0] = "--tls-cert";
    flags[1] = cert;
    flags[2] = "--tls-key";
    flags[3] = key;
    flags[4] = NULL;
    /* TLS, server verified against the test CA by host name. */
    assert_int_equal(peer_start(&p, tmp, "tls", 0, flags), 0);
    exp_init(&e, p.port);
    snprintf(ep, sizeof(ep), "localhost:%d", p.port);
    set_str(&e.cfg.endpoint, ep);
    e.cfg.tls.insecure = false;
    set_str(&e.cfg.tls.ca_file, ca);
    exp_start(&e);
    exp_send(&e, 2);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 2 * (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 2);
    assert_int_equal(peer_error_violations(recs), 0);
    tls = json_object_get(json_object_get(json_array_get(recs, 0), "connection"), "tls");
    assert_string_equal(json_string_value(json_object_get(tls, "alpn")), "h2");
    assert_string_equal(json_string_value(json_object_get(tls, "servername")), "localhost");
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);

    /* mTLS: the peer requires a client certificate signed by the CA. */
    flags[4] = "--tls-client-ca";
    flags[5] = ca;
    flags[6] = NULL;
    assert_int_equal(peer_start(&p, tmp, "mtls", 0, flags), 0);
    exp_init(&e, p.port);
    snprintf(ep, sizeof(ep), "localhost:%d", p.port);
    set_str(&e.cfg.endpoint, ep);
    e.cfg.tls.insecure = false;
    set_str(&e.cfg.tls.ca_file, ca);
    snprintf(cert, sizeof(cert), "%s/client.pem", tmp);
    snprintf(key, sizeof(key), "%s/client.key", tmp);
    set_str(&e.cfg.tls.cert_file, cert);
    set_str(&e.cfg.tls.key_file, key);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    tls = json_object_get(json_object_get(json_array_get(recs, 0), "connection"), "tls");
    char *subject = json_dumps(json_object_get(tls, "client_cert_subject"), JSON_ENCODE_ANY);
    assert_non_null(subject);
    assert_non_null(strstr(subject, "opd-client"));
    free(subject);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void client_error(int port, const char *host, const char *ca, const char *override,
                         const char *want)
{
    struct opd_grpc_client_opts o = {0};
    struct opd_grpc_result res;
    char ep[64];
    uint8_t frame[5] = {0};

    snprintf(ep, sizeof(ep), "%s:%d", host, port);
    o.endpoint = ep;
    o.who = "test";
    o.tls.ca_file = (char *)ca;
    o.tls.server_name_override = (char *) override;
    struct opd_grpc_client *c = opd_grpc_client_create(&o);
    assert_non_null(c);
    assert_int_equal(opd_grpc_client_call(c, OPD_OTLP_GRPC_PROFILES_METHOD, NULL, 0, frame, 5,
                                          opd_grpc_now_ns() + 3000000000ULL, &res),
                     -EAGAIN);
    assert_int_equal(res.code, OPD_GRPC_UNAVAILABLE);
    if (!strstr(res.message, want))
        fail_msg("error \"%s\" does not name \"%s\"", res.message, want);
    opd_free(res.body);
    opd_grpc_client_destroy(c);
}

static void test_tls_wrong_ca_and_name(void **state)
{
    char cert[300], key[300], ca[300], ca2[300], ep[64];
    const char *flags[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    struct peer p;
    struct exp e;
    json_t *recs;

    snprintf(cert, sizeof(cert), "%s/server.pem", tmp);
    snprintf(key, sizeof(key), "%s/server.key", tmp);
    snprintf(ca, sizeof(ca), "%s/ca.pem", tmp);
    snprintf(ca2, sizeof(ca2), "%s/ca2.pem", tmp);
    assert_int_equal(peer_start(&p, tmp, "badtls", 0, flags), 0);
    client_error(p.port, "localhost", ca2, NULL, "certificate verify failed");
    client_error(p.port, "localhost", ca, "wrong.example", "certificate verify failed");
    client_error(p.port, "localhost", ca, "wrong.example", "wrong.example");
    /* Through the exporter: it keeps retrying and drops nothing before its shutdown. */
    exp_init(&e, p.port);
    snprintf(ep, sizeof(ep), "localhost:%d", p.port);
    set_str(&e.cfg.endpoint, ep);
    e.cfg.tls.insecure = false;
    set_str(&e.cfg.tls.ca_file, ca2);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_retries", 2, 5000);
    assert_true(m(&e, "otelcol_exporter_send_retries") >= 2);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 0);
    exp_stop(&e, 100);
    assert_int_equal(dropped(&e, "shutdown"), fixture_samples);
    recs = peer_records(&p);
    assert_int_equal(peer_count(recs, "export"), 0);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_bearer_token(void **state)
{
    const char *flags[] = {"--require-header", "authorization=Bearer s3cret", NULL};
    struct peer p;
    struct exp e;
    json_t *recs;
    char tokfile[300];
    struct {
        char *token, *filename, *scheme, *header;
    } bcfg = {NULL, tokfile, "Bearer", "authorization"};
    FILE *f;

    snprintf(tokfile, sizeof(tokfile), "%s/token", tmp);
    f = fopen(tokfile, "w");
    assert_non_null(f);
    fputs("s3cret\n", f);
    fclose(f);
    assert_int_equal(peer_start(&p, tmp, "auth", 0, flags), 0);
    /* With the token from a file: delivered. */
    exp_init(&e, p.port);
    add_ext(&e.host, &opd_bearertokenauth_extension_factory, "bearertokenauth/t", &bcfg);
    set_str(&e.cfg.auth.authenticator, "bearertokenauth/t");
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    /* The file changes: the next request carries the new token (and is refused). */
    sleep(1);
    f = fopen(tokfile, "w");
    assert_non_null(f);
    fputs("rotated\n", f);
    fclose(f);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_failed_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    /* UNAUTHENTICATED is permanent: dropped, counted, not retried. */
    assert_int_equal(dropped(&e, "permanent"), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 0);
    exp_fini(&e);
    /* A plain configured header works the same way. */
    exp_init(&e, p.port);
    e.cfg.headers.keys = calloc(1, sizeof(char *));
    e.cfg.headers.values = calloc(1, sizeof(char *));
    e.cfg.headers.keys[0] = strdup("Authorization");
    e.cfg.headers.values[0] = strdup("Bearer s3cret");
    e.cfg.headers.n = 1;
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 2);
    assert_int_equal(peer_count_status(recs, "UNAUTHENTICATED"), 1);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_fail_first_retried(void **state)
{
    const char *flags[] = {"--fail-first", "3", NULL};
    struct peer p;
    struct exp e;
    json_t *recs;

    assert_int_equal(peer_start(&p, tmp, "failfirst", 0, flags), 0);
    exp_init(&e, p.port);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 15000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "UNAVAILABLE"), 3);
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 3);
    /* What the exporter says it sent is what the peer accepted. */
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    assert_int_equal(peer_ok_samples(recs), fixture_sample_msgs);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_retry_info_honoured(void **state)
{
    const char *flags[] = {"--fail-first",     "1",   "--fail-code", "RESOURCE_EXHAUSTED",
                           "--retry-after-ms", "700", NULL};
    struct peer p;
    struct exp e;
    json_t *recs;
    uint64_t t0;

    assert_int_equal(peer_start(&p, tmp, "retryinfo", 0, flags), 0);
    exp_init(&e, p.port);
    exp_start(&e);
    t0 = opd_grpc_now_ns();
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    /* RESOURCE_EXHAUSTED with RetryInfo is retryable, and not before the asked delay. */
    assert_true(opd_grpc_now_ns() - t0 >= 700000000ULL);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_permanent_dropped(void **state)
{
    const char *flags[] = {"--fail-first", "1", "--fail-code", "INVALID_ARGUMENT", NULL};
    struct peer p;
    struct exp e;
    json_t *recs;

    assert_int_equal(peer_start(&p, tmp, "perm", 0, flags), 0);
    exp_init(&e, p.port);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_failed_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count(recs, "export"), 1);
    assert_int_equal(dropped(&e, "permanent"), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 0);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 0);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_peer_down_then_up(void **state)
{
    struct peer p;
    struct exp e;
    json_t *recs;
    int port = peer_free_port();

    assert_true(port > 0);
    exp_init(&e, port);
    e.cfg.sending_queue.queue_size = 3;
    e.cfg.sending_queue.num_consumers = 1;
    exp_start(&e);
    /* One in flight (retrying), three queued, two overflow. */
    exp_send(&e, 1);
    for (int i = 0; i < 500 && m(&e, "otelcol_exporter_send_retries") < 1; i++)
        usleep(10000); /* the consumer holds the first request (retrying) */
    assert_int_equal(m(&e, "otelcol_exporter_queue_size"), 0);
    exp_send(&e, 5);
    assert_int_equal(m(&e, "otelcol_exporter_enqueue_failed_profile_samples"), 2 * fixture_samples);
    assert_int_equal(dropped(&e, "queue_full"), 2 * fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_queue_size"), 3);
    assert_int_equal(m(&e, "otelcol_exporter_queue_capacity"), 3);
    /* A 30 s outage: longer than any backoff step, shorter than max_elapsed_time. Nothing
     * queued may be dropped meanwhile. */
    sleep(30);
    assert_int_equal(dropped(&e, "queue_full"), 2 * fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    assert_int_equal(peer_start(&p, tmp, "downup", port, NULL), 0);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 4 * (int64_t)fixture_samples, 20000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 4);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 4 * fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    assert_int_equal(peer_error_violations(recs), 0);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_deadline_exceeded_retried(void **state)
{
    const char *flags[] = {"--delay-ms", "1500", NULL};
    struct peer p;
    struct exp e;
    json_t *recs;

    assert_int_equal(peer_start(&p, tmp, "delay", 0, flags), 0);
    exp_init(&e, p.port);
    e.cfg.timeout_ns = 300000000;
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_retries", 2, 10000);
    assert_true(m(&e, "otelcol_exporter_send_retries") >= 2);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    exp_stop(&e, 200);
    recs = peer_records(&p);
    /* The peer saw the calls and their client-side cancellation (grpc-timeout). */
    assert_true(peer_count(recs, "export") >= 2);
    json_decref(recs);
    usleep(1700000);
    recs = peer_records(&p);
    assert_true(peer_count(recs, "call_cancelled") >= 2);
    json_decref(recs);
    assert_int_equal(dropped(&e, "shutdown"), fixture_samples);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_partial_success(void **state)
{
    const char *flags[] = {"--partial-success", "2:too old", NULL};
    struct peer p;
    struct exp e;

    assert_int_equal(peer_start(&p, tmp, "partial", 0, flags), 0);
    exp_init(&e, p.port);
    exp_start(&e);
    exp_send(&e, 2);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 2 * (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    assert_int_equal(m(&e, "otelcol_exporter_partial_success_rejected_profiles"), 4);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_split_over_bound(void **state)
{
    struct peer p;
    struct exp e;
    json_t *recs, *r;
    struct opd_batch *b = otlp_fixture_synthetic(3000, 400, 24);
    uint64_t want = opd_batch_sample_count(b);
    size_t i, msgs = 0;

    for (size_t ri = 0; ri < b->n_resources; ri++)
        for (size_t j = 0; j < b->resources[ri].n_scopes; j++)
            for (size_t k = 0; k < b->resources[ri].scopes[j].n_profiles; k++)
                msgs += b->resources[ri].scopes[j].profiles[k].n_samples;
    assert_int_equal(peer_start(&p, tmp, "split", 0, NULL), 0);
    exp_init(&e, p.port);
    e.cfg.max_request_bytes = 131072;
    e.cfg.timeout_ns = 30000000000LL; /* the peer decodes the parts one by one */
    exp_start(&e);
    opd_component_consume(e.c, b);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)want, 90000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    /* Several requests, each under the bound uncompressed, each valid on its own. */
    assert_true(peer_count_status(recs, "OK") >= 4);
    assert_int_equal(peer_error_violations(recs), 0);
    /* Each part's dictionary holds only what its samples use, once. */
    assert_int_equal(peer_count_rule(recs, "orphaned_entry"), 0);
    assert_int_equal(peer_count_rule(recs, "duplicate_entry"), 0);
    assert_int_equal(peer_ok_samples(recs), msgs);
    json_array_foreach(recs, i, r)
    {
        json_int_t len = json_integer_value(
            json_object_get(json_object_get(json_object_get(r, "grpc"), "message"), "length"));
        assert_true(len > 0 && len <= 131072);
        assert_true(json_is_true(json_object_get(r, "valid")));
    }
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), want);
    assert_true(m(&e, "otelcol_exporter_split_requests") >= 3);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_reconnect_after_restart(void **state)
{
    struct peer p;
    struct exp e;
    json_t *recs;
    int port;

    assert_int_equal(peer_start(&p, tmp, "restart1", 0, NULL), 0);
    port = p.port;
    exp_init(&e, port);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    /* The peer goes away gracefully (GOAWAY) and comes back on the same port. */
    peer_stop(&p);
    assert_int_equal(peer_start(&p, tmp, "restart2", port, NULL), 0);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 2 * (int64_t)fixture_samples, 15000);
    exp_stop(&e, 5000);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 2 * fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_ipv6_endpoint(void **state)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct peer p;
    struct exp e;
    json_t *recs;
    char ep[64];
    int fd = socket(AF_INET6, SOCK_STREAM, 0);

    /* Only where the host has IPv6 loopback. */
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        skip();
    }
    close(fd);
    assert_int_equal(peer_start_on(&p, tmp, "ipv6", "[::1]", 0, NULL), 0);
    exp_init(&e, p.port);
    snprintf(ep, sizeof(ep), "[::1]:%d", p.port);
    set_str(&e.cfg.endpoint, ep);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(recs, 0), "headers"), ":authority")),
                        ep);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static void test_keepalive_detects_dead_peer(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    struct opd_grpc_client_opts o = {0};
    struct opd_grpc_result res;
    uint8_t frame[5] = {0};
    char ep[64];
    uint64_t t0;
    int ls = socket(AF_INET, SOCK_STREAM, 0);

    /* A peer that accepts TCP (the kernel completes the handshake) but never speaks. */
    assert_true(ls >= 0);
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 4), 0);
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", ntohs(a.sin_port));
    o.endpoint = ep;
    o.who = "test";
    o.tls.insecure = true;
    o.keepalive_time_ns = 200000000;
    o.keepalive_timeout_ns = 300000000;
    struct opd_grpc_client *c = opd_grpc_client_create(&o);
    assert_non_null(c);
    t0 = opd_grpc_now_ns();
    assert_int_equal(opd_grpc_client_call(c, OPD_OTLP_GRPC_PROFILES_METHOD, NULL, 0, frame, 5,
                                          t0 + 10000000000ULL, &res),
                     -EAGAIN);
    /* Found dead by the unanswered PING long before the call's own 10 s deadline. */
    assert_int_equal(res.code, OPD_GRPC_UNAVAILABLE);
    assert_non_null(strstr(res.message, "keepalive"));
    assert_true(opd_grpc_now_ns() - t0 < 3000000000ULL);
    opd_free(res.body);
    opd_grpc_client_destroy(c);
    close(ls);
}

/* The child: queues n batches for a dead endpoint, reports, then waits to be killed. */
static void persistent_child(int port, const char *dir, int n, int ready_fd)
{
    struct exp e;
    struct {
        char *directory;
        bool fsync, create;
        int64_t max;
    } fcfg = {(char *)dir, true, true, 1 << 30};

    exp_init(&e, port);
    add_ext(&e.host, &opd_file_storage_extension_factory, "file_storage/q", &fcfg);
    set_str(&e.cfg.sending_queue.storage, "file_storage/q");
    exp_start(&e);
    exp_send(&e, n);
    if (write(ready_fd, "k", 1) != 1)
        _exit(2);
    for (;;)
        pause();
}

static void test_persistent_kill9(void **state)
{
    char dir[300], qfile[600];
    int port = peer_free_port(), fds[2];
    struct peer p;
    struct exp e;
    json_t *recs;
    pid_t pid;
    char c;
    struct {
        char *directory;
        bool fsync, create;
        int64_t max;
    } fcfg = {dir, true, true, 1 << 30};
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/storage", tmp);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        persistent_child(port, dir, 4, fds[1]);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &c, 1), 1);
    close(fds[0]);
    usleep(200000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* A torn write at the tail, as a crash in the middle of an append leaves it. */
    snprintf(qfile, sizeof(qfile), "%s/exporter_otlp_grpc_test.queue", dir);
    f = fopen(qfile, "ab");
    assert_non_null(f);
    fwrite("\x4f\x50\x51\x31\x01\x00\x00\x00garbage", 1, 15, f);
    fclose(f);

    assert_int_equal(peer_start(&p, tmp, "persist", port, NULL), 0);
    exp_init(&e, port);
    add_ext(&e.host, &opd_file_storage_extension_factory, "file_storage/q", &fcfg);
    set_str(&e.cfg.sending_queue.storage, "file_storage/q");
    exp_start(&e);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 4 * (int64_t)fixture_samples, 20000);
    exp_stop(&e, 5000);
    recs = peer_records(&p);
    assert_int_equal(peer_count_status(recs, "OK"), 4);
    assert_int_equal(peer_error_violations(recs), 0);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 4 * fixture_samples);
    json_decref(recs);
    exp_fini(&e);
    peer_stop(&p);
}

static int group_setup(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();

    assert_non_null(b);
    fixture_samples = opd_batch_sample_count(b);
    for (size_t i = 0; i < b->n_resources; i++)
        for (size_t j = 0; j < b->resources[i].n_scopes; j++)
            for (size_t k = 0; k < b->resources[i].scopes[j].n_profiles; k++)
                fixture_sample_msgs += b->resources[i].scopes[j].profiles[k].n_samples;
    opd_batch_unref(b);
    snprintf(tmp, sizeof(tmp), "/tmp/opd-export-grpc-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return peer_make_certs(tmp);
}

static int group_teardown(void **state)
{
    char cmd[300];

    if (getenv("OPD_KEEP_TMP"))
        return 0;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h2c_gzip),
        cmocka_unit_test(test_zstd_falls_back),
        cmocka_unit_test(test_tls_and_mtls),
        cmocka_unit_test(test_tls_wrong_ca_and_name),
        cmocka_unit_test(test_bearer_token),
        cmocka_unit_test(test_fail_first_retried),
        cmocka_unit_test(test_retry_info_honoured),
        cmocka_unit_test(test_permanent_dropped),
        cmocka_unit_test(test_peer_down_then_up),
        cmocka_unit_test(test_deadline_exceeded_retried),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_persistent_kill9),
        cmocka_unit_test(test_split_over_bound),
        cmocka_unit_test(test_reconnect_after_restart),
        cmocka_unit_test(test_keepalive_detects_dead_peer),
        cmocka_unit_test(test_ipv6_endpoint),
    };

    signal(SIGPIPE, SIG_IGN);
    if (!peer_setup())
        return 77;
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        printf("SKIP: openssl command not found (needed for the test CA)\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
