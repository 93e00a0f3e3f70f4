/* otlp_http exporter against a small real HTTP server (export_http_server.py): delivery
 * in protobuf and JSON with gzip, 503 with Retry-After honoured and retried, permanent
 * 4xx dropped, bearer token, TLS with a test CA, partial success. Every body the server
 * stored is decoded again and checked against the invariants. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "collector/component.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/grpc/grpc_client.h"
#include "otlp/profiles.h"
#include "tests/integration/export_peer.h"
#include "tests/unit/test_otlp_fixture.h"

extern const struct opd_factory opd_otlp_http_exporter_factory;

static char tmp[256];
static uint64_t fixture_samples;

struct server {
    pid_t pid;
    int port;
    char dir[300];
};

static int server_start(struct server *s, const char *name, const char *const *flags)
{
    char script[600], portfile[400];
    const char *argv[32];
    size_t n = 0;

    memset(s, 0, sizeof(*s));
    snprintf(script, sizeof(script), "%s/tests/integration/export_http_server.py",
             getenv("OPD_SOURCE_DIR"));
    snprintf(s->dir, sizeof(s->dir), "%s/%s", tmp, name);
    snprintf(portfile, sizeof(portfile), "%s/%s.port", tmp, name);
    argv[n++] = "python3";
    argv[n++] = script;
    argv[n++] = "--out";
    argv[n++] = s->dir;
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    for (size_t i = 0; flags && flags[i] && n < 30; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &s->port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        usleep(50000);
    }
    return -1;
}

static void server_stop(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

static json_t *server_records(struct server *s)
{
    char path[400];
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/requests.jsonl", s->dir);
    f = fopen(path, "r");
    if (!f)
        return arr;
    while (getline(&line, &cap, f) > 0) {
        json_t *r = json_loads(line, 0, NULL);
        if (r)
            json_array_append_new(arr, r);
    }
    free(line);
    fclose(f);
    return arr;
}

/* Decodes every stored 200 body; returns the samples they hold, checking invariants. */
static uint64_t server_delivered(json_t *recs, bool json)
{
    uint64_t total = 0;
    size_t i;
    json_t *r;

    json_array_foreach(recs, i, r)
    {
        const char *file = json_string_value(json_object_get(r, "file"));
        char err[256] = "";
        size_t len;
        char *buf;
        struct opd_batch *b;
        if (!file)
            continue;
        buf = otlp_read_file(file, &len);
        assert_non_null(buf);
        b = json ? opd_json_decode(buf, len, err, sizeof(err))
                 : opd_proto_decode((const uint8_t *)buf, len, err, sizeof(err));
        if (!b)
            fail_msg("stored body %s does not decode: %s", file, err);
        assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
        total += opd_batch_sample_count(b);
        opd_batch_unref(b);
        free(buf);
    }
    return total;
}

static size_t count_status(json_t *recs, int status)
{
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        if (json_integer_value(json_object_get(r, "status")) == status)
            n++;
    }
    return n;
}

/* ---- exporter ------------------------------------------------------------------------- */

struct host {
    struct opd_host h;
    struct opd_component *ext;
};

static struct opd_component *host_get(struct opd_host *h, const char *id)
{
    struct host *x = (struct host *)h;
    return x->ext && strcmp(x->ext->id, id) == 0 ? x->ext : NULL;
}

struct exp {
    void *cfg;
    struct opd_telemetry *tel;
    struct opd_component *c;
    struct host host;
};

/* The otlp_http config struct is private to the exporter: set options through a YAML-free
 * path, the config map, by name. */
static void *field(void *cfg, const char *path)
{
    const struct opd_config_map *map = opd_otlp_http_exporter_factory.config_map;
    char buf[128], *save = NULL, *tok;
    uint8_t *base = cfg;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        const struct opd_config_map *e = map;
        while (e->type != OPD_CFG_END && strcmp(e->name, tok) != 0)
            e++;
        assert_int_not_equal(e->type, OPD_CFG_END);
        base += e->offset;
        map = e->sub;
    }
    return base;
}

static void set_s(struct exp *e, const char *path, const char *v)
{
    char **p = field(e->cfg, path);
    free(*p);
    *p = strdup(v);
}

static void set_header(struct exp *e, const char *k, const char *v)
{
    struct opd_strmap *h = field(e->cfg, "headers");

    h->keys = realloc(h->keys, (h->n + 1) * sizeof(char *));
    h->values = realloc(h->values, (h->n + 1) * sizeof(char *));
    h->keys[h->n] = strdup(k);
    h->values[h->n] = strdup(v);
    h->n++;
}

static void exp_init(struct exp *e, const char *url)
{
    memset(e, 0, sizeof(*e));
    e->cfg = calloc(1, opd_otlp_http_exporter_factory.config_size);
    assert_int_equal(opd_config_defaults(opd_otlp_http_exporter_factory.config_map, e->cfg), 0);
    set_s(e, "endpoint", url);
    *(int64_t *)field(e->cfg, "retry_on_failure.initial_interval") = 50000000;
    *(int64_t *)field(e->cfg, "retry_on_failure.max_interval") = 200000000;
    e->tel = opd_telemetry_create();
    e->host.h.get_extension = host_get;
}

static void exp_start(struct exp *e)
{
    struct opd_create_params p = {
        .id = "otlp_http/test", .logname = "exporter/otlp_http/test", .telemetry = e->tel};
    char err[256] = "";

    if (opd_otlp_http_exporter_factory.validate(e->cfg, err, sizeof(err)))
        fail_msg("config: %s", err);
    e->c = opd_otlp_http_exporter_factory.create(&p, e->cfg);
    assert_non_null(e->c);
    assert_int_equal(opd_component_init_base(e->c, &opd_otlp_http_exporter_factory, p.id), 0);
    assert_int_equal(e->c->ops->start(e->c, &e->host.h), 0);
}

static void exp_send(struct exp *e, int n)
{
    for (int i = 0; i < n; i++)
        opd_component_consume(e->c, otlp_fixture_batch());
}

static int64_t m(struct exp *e, const char *name)
{
    return opd_metric_get(opd_telemetry_find(e->tel, name, "exporter=\"otlp_http/test\""));
}

static void wait_metric(struct exp *e, const char *name, int64_t want, int ms)
{
    for (int i = 0; i < ms / 10 && m(e, name) < want; i++)
        usleep(10000);
}

static void exp_fini(struct exp *e)
{
    e->c->ops->shutdown(e->c, opd_grpc_now_ns() + 3000000000ULL);
    opd_component_destroy(e->c);
    if (e->host.ext)
        opd_component_destroy(e->host.ext);
    opd_config_release(opd_otlp_http_exporter_factory.config_map, e->cfg);
    free(e->cfg);
    opd_telemetry_destroy(e->tel);
}

static void url_of(struct server *s, const char *scheme, const char *host, char *buf, size_t len)
{
    snprintf(buf, len, "%s://%s:%d", scheme, host, s->port);
}

static void test_proto_gzip(void **state)
{
    struct server s;
    struct exp e;
    char url[128];
    json_t *recs, *r;
    size_t i;

    assert_int_equal(server_start(&s, "proto", NULL), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    exp_start(&e);
    exp_send(&e, 3);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 3 * (int64_t)fixture_samples, 10000);
    recs = server_records(&s);
    assert_int_equal(count_status(recs, 200), 3);
    json_array_foreach(recs, i, r)
    {
        json_t *h = json_object_get(r, "headers");
        assert_string_equal(json_string_value(json_object_get(r, "path")),
                            "/v1development/profiles");
        assert_string_equal(json_string_value(json_object_get(h, "content-type")),
                            "application/x-protobuf");
        assert_string_equal(json_string_value(json_object_get(h, "content-encoding")), "gzip");
        assert_true(json_integer_value(json_object_get(r, "wire_bytes")) <
                    json_integer_value(json_object_get(r, "bytes")));
    }
    assert_int_equal(server_delivered(recs, false), 3 * fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 3 * fixture_samples);
    json_decref(recs);
    exp_fini(&e);
    server_stop(&s);
}

static void test_json_retry_after(void **state)
{
    const char *flags[] = {"--fail-first", "2", "--fail-status", "503", "--retry-after", "1", NULL};
    struct server s;
    struct exp e;
    char url[128];
    json_t *recs;
    uint64_t t0;

    assert_int_equal(server_start(&s, "json", flags), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    set_s(&e, "encoding", "json");
    set_s(&e, "compression", "none");
    exp_start(&e);
    t0 = opd_grpc_now_ns();
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    /* Two 503s with Retry-After: 1 → at least two seconds, though backoff alone is ~50 ms. */
    assert_true(opd_grpc_now_ns() - t0 >= 2000000000ULL);
    recs = server_records(&s);
    assert_int_equal(count_status(recs, 503), 2);
    assert_int_equal(count_status(recs, 200), 1);
    assert_int_equal(server_delivered(recs, true), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 2);
    json_decref(recs);
    exp_fini(&e);
    server_stop(&s);
}

static void test_429_retried_400_dropped(void **state)
{
    const char *f429[] = {"--fail-first", "1", "--fail-status", "429", NULL};
    const char *f400[] = {"--fail-first", "1", "--fail-status", "400", NULL};
    struct server s;
    struct exp e;
    char url[128];

    assert_int_equal(server_start(&s, "s429", f429), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 1);
    exp_fini(&e);
    server_stop(&s);

    assert_int_equal(server_start(&s, "s400", f400), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_failed_profile_samples", (int64_t)fixture_samples, 10000);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), fixture_samples);
    assert_int_equal(m(&e, "otelcol_exporter_send_retries"), 0);
    exp_fini(&e);
    server_stop(&s);
}

static void test_bearer_and_tls(void **state)
{
    char cert[300], key[300], ca[300], url[128];
    const char *flags[] = {
        "--require-header", "Authorization=Bearer tok", "--tls-cert", cert, "--tls-key", key, NULL};
    struct {
        char *token, *filename, *scheme, *header;
    } bcfg = {"tok", NULL, "Bearer", "authorization"};
    struct opd_create_params bp = {.id = "bearertokenauth/h", .logname = "extension/b"};
    struct server s;
    struct exp e;
    json_t *recs;

    snprintf(cert, sizeof(cert), "%s/server.pem", tmp);
    snprintf(key, sizeof(key), "%s/server.key", tmp);
    snprintf(ca, sizeof(ca), "%s/ca.pem", tmp);
    assert_int_equal(server_start(&s, "tls", flags), 0);
    url_of(&s, "https", "localhost", url, sizeof(url));
    exp_init(&e, url);
    set_s(&e, "tls.ca_file", ca);
    set_s(&e, "auth.authenticator", "bearertokenauth/h");
    e.host.ext = opd_bearertokenauth_extension_factory.create(&bp, &bcfg);
    assert_non_null(e.host.ext);
    assert_int_equal(
        opd_component_init_base(e.host.ext, &opd_bearertokenauth_extension_factory, bp.id), 0);
    exp_start(&e);
    exp_send(&e, 2);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", 2 * (int64_t)fixture_samples, 10000);
    recs = server_records(&s);
    assert_int_equal(count_status(recs, 200), 2);
    assert_int_equal(server_delivered(recs, false), 2 * fixture_samples);
    json_decref(recs);
    exp_fini(&e);
    /* Without the token: 401 is permanent. */
    exp_init(&e, url);
    set_s(&e, "tls.ca_file", ca);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_failed_profile_samples", (int64_t)fixture_samples, 10000);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), fixture_samples);
    exp_fini(&e);
    /* tls.server_name_override decides the name verified: one in the certificate works
     * whatever the URL says, one that is not never does. */
    url_of(&s, "https", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    set_s(&e, "tls.ca_file", ca);
    set_s(&e, "tls.server_name_override", "localhost");
    set_header(&e, "Authorization", "Bearer tok");
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), fixture_samples);
    exp_fini(&e);
    exp_init(&e, url);
    set_s(&e, "tls.ca_file", ca);
    set_s(&e, "tls.server_name_override", "wrong.example");
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_retries", 2, 5000);
    assert_true(m(&e, "otelcol_exporter_send_retries") >= 2);
    assert_int_equal(m(&e, "otelcol_exporter_sent_profile_samples"), 0);
    exp_fini(&e);
    url_of(&s, "https", "localhost", url, sizeof(url));
    /* A CA that did not sign the server: never delivered, never dropped while retrying. */
    snprintf(ca, sizeof(ca), "%s/ca2.pem", tmp);
    exp_init(&e, url);
    set_s(&e, "tls.ca_file", ca);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_send_retries", 2, 5000);
    assert_true(m(&e, "otelcol_exporter_send_retries") >= 2);
    assert_int_equal(m(&e, "otelcol_exporter_send_failed_profile_samples"), 0);
    exp_fini(&e);
    server_stop(&s);
}

static void test_partial_success(void **state)
{
    const char *flags[] = {"--partial-success", "3:stale", NULL};
    struct server s;
    struct exp e;
    char url[128];

    assert_int_equal(server_start(&s, "partial", flags), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    exp_fini(&e);
    exp_init(&e, url);
    set_s(&e, "encoding", "json");
    exp_start(&e);
    exp_send(&e, 1);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)fixture_samples, 10000);
    assert_int_equal(m(&e, "otelcol_exporter_partial_success_rejected_profiles"), 3);
    exp_fini(&e);
    server_stop(&s);
}

static void test_split_json(void **state)
{
    struct server s;
    struct exp e;
    char url[128];
    json_t *recs, *r;
    struct opd_batch *b = otlp_fixture_synthetic(2000, 300, 20);
    uint64_t want = opd_batch_sample_count(b);
    size_t i;

    assert_int_equal(server_start(&s, "split", NULL), 0);
    url_of(&s, "http", "127.0.0.1", url, sizeof(url));
    exp_init(&e, url);
    set_s(&e, "encoding", "json");
    *(int64_t *)field(e.cfg, "max_request_bytes") = 65536;
    exp_start(&e);
    opd_component_consume(e.c, b);
    wait_metric(&e, "otelcol_exporter_sent_profile_samples", (int64_t)want, 20000);
    recs = server_records(&s);
    /* Several JSON bodies, each under the bound, each decoding to a valid request. */
    assert_true(count_status(recs, 200) >= 3);
    json_array_foreach(recs, i, r)
    {
        assert_true(json_integer_value(json_object_get(r, "bytes")) <= 65536);
    }
    assert_int_equal(server_delivered(recs, true), want);
    json_decref(recs);
    exp_fini(&e);
    server_stop(&s);
}

static int group_setup(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();

    fixture_samples = opd_batch_sample_count(b);
    opd_batch_unref(b);
    snprintf(tmp, sizeof(tmp), "/tmp/opd-export-http-XXXXXX");
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
        cmocka_unit_test(test_proto_gzip),
        cmocka_unit_test(test_json_retry_after),
        cmocka_unit_test(test_429_retried_400_dropped),
        cmocka_unit_test(test_bearer_and_tls),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_split_json),
    };

    signal(SIGPIPE, SIG_IGN);
    if (!getenv("OPD_SOURCE_DIR")) {
        printf("SKIP: OPD_SOURCE_DIR is not set (run through ctest)\n");
        return 77;
    }
    if (system("command -v python3 >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1")) {
        printf("SKIP: python3 and openssl are needed for the test server\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
