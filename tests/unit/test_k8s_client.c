/* The Kubernetes metadata client against a real peer: tests/integration/k8s/
 * fake_apiserver.py over TLS (CA and server certificate made here with openssl), bearer
 * token checked per request. Drives list (in one-item chunks), watch with bookmarks,
 * 410 Gone relists, dropped connections, token rotation, the node filter, a namespaced
 * Role (403 for anything cluster-wide) and in-cluster service-account settings.
 * Skipped (77) when python3 or openssl is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/k8s/k8s_client.h"

#define WEB_CID    "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d5e2f8a1c0b9e8d7c6b5a4f3e2d1c0b9a"
#define REPORT_CID "1e4f7a2b5c8d0e3f6a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e7f0a3b6c9d2e5f"
#define CACHE_CID  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"

static char dir[64];
static char src[512];

struct server {
    pid_t pid;
    int port;
};

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int run(const char *cmd)
{
    char full[2048];

    snprintf(full, sizeof(full), "cd %s && (%s) >/dev/null 2>&1", dir, cmd);
    return system(full);
}

/* Servers still running, killed at exit so a failed assertion leaves no orphan behind. */
static pid_t running[8];

static void kill_running(void)
{
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
        if (running[i] > 0) {
            kill(running[i], SIGTERM);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
}

static void track(pid_t pid, pid_t old)
{
    for (size_t i = 0; i < sizeof(running) / sizeof(running[0]); i++)
        if (running[i] == old) {
            running[i] = pid;
            return;
        }
}

static void start_server(struct server *s, const char *extra)
{
    char portfile[256], cmd[4096];
    FILE *f;

    snprintf(portfile, sizeof(portfile), "%s/port-%d", dir, rand());
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        snprintf(cmd, sizeof(cmd),
                 "exec python3 %s/tests/integration/k8s/fake_apiserver.py --fixture "
                 "%s/tests/data/k8s/cluster.json --port-file %s --cert %s/srv.crt --key "
                 "%s/srv.key --tokens %s/accepted --bookmark-interval 0.2 %s",
                 src, src, portfile, dir, dir, dir, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    track(s->pid, 0);
    for (int i = 0; i < 200; i++) {
        f = fopen(portfile, "r");
        if (f) {
            assert_int_equal(fscanf(f, "%d", &s->port), 1);
            fclose(f);
            return;
        }
        usleep(50000);
    }
    fail_msg("fake API server did not start");
}

static void stop_server(struct server *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    track(0, s->pid);
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
    FILE *f = arg;

    return f ? fwrite(p, sz, n, f) : sz * n;
}

/* POST (body != NULL) or GET a control endpoint over TLS; the answer goes to out. */
static void control(const struct server *s, const char *path, const char *body, FILE *out)
{
    CURL *h = curl_easy_init();
    char url[256], ca[256];
    long code = 0;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", s->port, path);
    snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    assert_int_equal(code, 200);
    curl_easy_cleanup(h);
}

static void write_kubeconfig(const struct server *s)
{
    char text[1024];

    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
             "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:%d\n"
             "    certificate-authority: ca.crt\n"
             "contexts:\n- name: test\n  context: {cluster: fake, user: profiler}\n"
             "users:\n- name: profiler\n  user: {tokenFile: token}\n",
             s->port);
    write_file("kubeconfig", text);
}

static int setup(void **state)
{
    const char *env = getenv("OPD_SOURCE_DIR");

    snprintf(src, sizeof(src), "%s", env ? env : ".");
    snprintf(dir, sizeof(dir), "/tmp/opd-k8s-client-XXXXXX");
    if (!mkdtemp(dir) || system("command -v python3 >/dev/null && command -v openssl >/dev/null"))
        return -1;
    if (run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
            "-keyout ca.key -out ca.crt -days 1 -subj /CN=opd-test-ca") ||
        run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key "
            "-out srv.csr -subj /CN=127.0.0.1") ||
        run("printf 'subjectAltName=IP:127.0.0.1\\n' >ext && openssl x509 -req -in srv.csr -CA "
            "ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 1 -extfile ext"))
        return -1;
    write_file("accepted", "token-one\n");
    write_file("token", "token-one\n");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    kill_running();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct opd_k8s_settings base_settings(void)
{
    static char kc[256];
    struct opd_k8s_settings s = {
        .auth_type = "kubeConfig",
        .kubeconfig = kc,
        .owners = true,
        .namespace_metadata = true,
        .backoff_initial_ns = 50000000,
        .backoff_max_ns = 200000000,
        .watch_timeout_s = 2,
        .list_limit = 1, /* every LIST is chunked */
        .grace_ns = 60000000000ull,
    };

    snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
    return s;
}

/* Polls until the pod with container id cid carries annotation key = want (NULL: until
 * the pod is deleted or gone). */
static bool wait_for(struct opd_k8s_client *c, const char *cid, const char *key, const char *want)
{
    for (int i = 0; i < 200; i++) {
        struct opd_k8s_object *o = opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), cid);
        const char *v = o ? opd_k8s_annotation(o, key) : NULL;
        bool ok = want ? v && strcmp(v, want) == 0 : !o || atomic_load(&o->deleted_ns) != 0;

        opd_k8s_object_unref(o);
        if (ok)
            return true;
        usleep(50000);
    }
    return false;
}

static const char *web_pod(const char *team)
{
    static char buf[1024];

    snprintf(
        buf, sizeof(buf),
        "{\"kind\":\"pods\",\"type\":\"MODIFIED\",\"object\":{\"metadata\":{"
        "\"name\":\"web-6b7f9c8d4-q2x7m\",\"namespace\":\"shop\","
        "\"uid\":\"5f0c2a1e-8b3d-4c6e-9f7a-1b2c3d4e5f60\",\"annotations\":{\"team\":\"%s\"}},"
        "\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"nginx\",\"image\":\"x\"}]},"
        "\"status\":{\"containerStatuses\":[{\"name\":\"nginx\",\"containerID\":"
        "\"containerd://" WEB_CID "\"}]}}}",
        team);
    return buf;
}

static void test_list_watch_relist(void **state)
{
    struct server srv;
    struct opd_k8s_settings s = base_settings();
    struct opd_k8s_client *c;
    struct opd_k8s_client_stats st;
    struct opd_k8s_object *o;
    char err[256];

    start_server(&srv, "");
    write_kubeconfig(&srv);
    s.node = "node-1";
    s.workloads = true;
    c = opd_k8s_client_acquire(&s, "test/k8s", NULL, err, sizeof(err));
    assert_non_null(c);
    /* equal settings share the client */
    assert_ptr_equal(opd_k8s_client_acquire(&s, "other", NULL, err, sizeof(err)), c);
    opd_k8s_client_release(c);
    assert_int_equal(opd_k8s_client_wait_synced(c, 10000000000ull), 0);

    o = opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), WEB_CID);
    assert_non_null(o);
    assert_string_equal(o->name, "web-6b7f9c8d4-q2x7m");
    assert_string_equal(opd_k8s_annotation(o, "team"), "web-frontend");
    opd_k8s_object_unref(o);
    /* the node filter keeps node-2's pod out */
    assert_null(opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), CACHE_CID));
    o = opd_k8s_cache_by_name(opd_k8s_client_cache(c), OPD_K8S_REPLICASET, "shop", "web-6b7f9c8d4");
    assert_non_null(o);
    opd_k8s_object_unref(o);
    o = opd_k8s_cache_by_name(opd_k8s_client_cache(c), OPD_K8S_STATEFULSET, "shop", "cache");
    assert_non_null(o);
    assert_string_equal(opd_k8s_annotation(o, "team.example.com/owner"), "storage-team");
    opd_k8s_object_unref(o);
    o = opd_k8s_cache_by_name(opd_k8s_client_cache(c), OPD_K8S_NAMESPACE, "", "analytics");
    assert_non_null(o);
    assert_string_equal(opd_k8s_label(o, "team"), "data-eng");
    opd_k8s_object_unref(o);

    /* watch: a change arrives */
    control(&srv, "/_control/apply", web_pod("changed-1"), NULL);
    assert_true(wait_for(c, WEB_CID, "team", "changed-1"));
    usleep(600000);
    opd_k8s_client_get_stats(c, &st);
    assert_true(st.bookmarks > 0);
    assert_true(st.lists >= 6); /* one item per page: several pages per kind */

    /* 410: the history is compacted under the open watches; the client relists and a
     * pod deleted meanwhile is marked deleted but kept for the grace period */
    control(&srv, "/_control/compact", "{}", NULL);
    control(&srv, "/_control/apply",
            "{\"kind\":\"pods\",\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":"
            "\"report-29012345-7xk2p\",\"namespace\":\"analytics\"}}}",
            NULL);
    assert_true(wait_for(c, REPORT_CID, NULL, NULL));
    o = opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), REPORT_CID);
    assert_non_null(o); /* in grace */
    opd_k8s_object_unref(o);
    for (int i = 0; i < 100; i++) {
        opd_k8s_client_get_stats(c, &st);
        if (st.relists > 0)
            break;
        usleep(50000);
    }
    assert_true(st.relists > 0);

    /* dropped connections: the client reconnects and keeps following */
    control(&srv, "/_control/drop", "{}", NULL);
    usleep(100000);
    control(&srv, "/_control/apply", web_pod("changed-2"), NULL);
    assert_true(wait_for(c, WEB_CID, "team", "changed-2"));

    /* token rotation: the server stops accepting the old token; the client is refused
     * until its token file is rotated too, then recovers */
    write_file("accepted", "token-two\n");
    control(&srv, "/_control/drop", "{}", NULL);
    control(&srv, "/_control/apply", web_pod("changed-3"), NULL);
    for (int i = 0; i < 100; i++) {
        opd_k8s_client_get_stats(c, &st);
        if (st.auth_errors > 0)
            break;
        usleep(50000);
    }
    assert_true(st.auth_errors > 0);
    write_file("token", "token-two\n");
    assert_true(wait_for(c, WEB_CID, "team", "changed-3"));

    opd_k8s_client_release(c);
    stop_server(&srv);
    write_file("accepted", "token-one\n");
    write_file("token", "token-one\n");
}

static void test_namespaced_role(void **state)
{
    struct server srv;
    struct opd_k8s_settings s = base_settings();
    const char *const ns[] = {"shop"};
    struct opd_k8s_client *c;
    struct opd_k8s_object *o;
    char err[256], line[4096];
    FILE *f = tmpfile();
    size_t n;

    start_server(&srv, "--namespaced shop");
    write_kubeconfig(&srv);
    s.namespaces = ns;
    s.n_namespaces = 1;
    s.namespace_metadata = false;
    c = opd_k8s_client_acquire(&s, "test/k8s-ns", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(opd_k8s_client_wait_synced(c, 10000000000ull), 0);
    o = opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), CACHE_CID);
    assert_non_null(o);
    opd_k8s_object_unref(o);
    assert_null(opd_k8s_cache_pod_by_container(opd_k8s_client_cache(c), REPORT_CID));
    opd_k8s_client_release(c);

    /* every request went to a namespaced endpoint (the server would answer 403 else) */
    control(&srv, "/_control/requests", NULL, f);
    rewind(f);
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    assert_non_null(strstr(line, "/api/v1/namespaces/shop/pods"));
    assert_non_null(strstr(line, "/apis/apps/v1/namespaces/shop/replicasets"));
    assert_non_null(strstr(line, "/apis/batch/v1/namespaces/shop/jobs"));
    assert_null(strstr(line, "\"/api/v1/pods"));
    stop_server(&srv);
}

static void test_service_account(void **state)
{
    struct server srv;
    struct opd_k8s_settings s = base_settings();
    struct opd_k8s_client *c;
    char err[256], port[16], sa[128];

    start_server(&srv, "");
    snprintf(port, sizeof(port), "%d", srv.port);
    snprintf(sa, sizeof(sa), "%s/sa", dir);
    assert_int_equal(run("mkdir sa && cp ca.crt sa/ca.crt && cp token sa/token"), 0);
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", port, 1);
    s.auth_type = "serviceAccount";
    s.sa_dir = sa;
    s.kubeconfig = NULL;
    c = opd_k8s_client_acquire(&s, "test/k8s-sa", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(opd_k8s_client_wait_synced(c, 10000000000ull), 0);
    assert_true(wait_for(c, WEB_CID, "team", "web-frontend"));
    opd_k8s_client_release(c);

    /* a wrong token never syncs */
    write_file("sa/token", "wrong\n");
    s.watch_timeout_s = 3; /* other settings: a new client */
    c = opd_k8s_client_acquire(&s, "test/k8s-sa", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(opd_k8s_client_wait_synced(c, 500000000ull), -ETIMEDOUT);
    opd_k8s_client_release(c);

    s.auth_type = "bogus";
    assert_null(opd_k8s_client_acquire(&s, "test", NULL, err, sizeof(err)));
    assert_int_equal(errno, EINVAL);
    unsetenv("KUBERNETES_SERVICE_HOST");
    stop_server(&srv);
}

/* A kubeconfig user with an embedded client certificate and key (the *-data fields), and
 * no token: the server requires the certificate. */
static void test_client_certificate(void **state)
{
    struct server srv;
    struct opd_k8s_settings s = base_settings();
    struct opd_k8s_client *c;
    char err[256], text[16384], cert[4096], key[4096];
    FILE *f;
    size_t n;

    assert_int_equal(run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                         "-keyout cli.key -out cli.csr -subj /CN=profiler && openssl x509 -req "
                         "-in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt "
                         "-days 1 && base64 -w0 cli.crt >cli.crt.b64 && base64 -w0 cli.key "
                         ">cli.key.b64"),
                     0);
    snprintf(text, sizeof(text), "%s/cli.crt.b64", dir);
    f = fopen(text, "r");
    n = fread(cert, 1, sizeof(cert) - 1, f);
    cert[n] = '\0';
    fclose(f);
    snprintf(text, sizeof(text), "%s/cli.key.b64", dir);
    f = fopen(text, "r");
    n = fread(key, 1, sizeof(key) - 1, f);
    key[n] = '\0';
    fclose(f);
    snprintf(text, sizeof(text), "--client-ca %s/ca.crt", dir);
    start_server(&srv, text);
    write_file("accepted", ""); /* tokens are not accepted: only the certificate counts */
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
             "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:%d\n"
             "    certificate-authority: ca.crt\n"
             "contexts:\n- name: test\n  context: {cluster: fake, user: cert}\n"
             "users:\n- name: cert\n  user:\n    client-certificate-data: %s\n"
             "    client-key-data: %s\n",
             srv.port, cert, key);
    write_file("kubeconfig", text);
    c = opd_k8s_client_acquire(&s, "test/k8s-cert", NULL, err, sizeof(err));
    if (!c)
        fail_msg("acquire: %s", err);
    assert_int_equal(opd_k8s_client_wait_synced(c, 10000000000ull), 0);
    assert_true(wait_for(c, WEB_CID, "team", "web-frontend"));
    opd_k8s_client_release(c);
    stop_server(&srv);
    write_file("accepted", "token-one\n");
}

/* The API server is not there when the client starts: requests fail and are retried with
 * backoff until it comes up, then the client syncs without being restarted. */
static void test_server_comes_up_later(void **state)
{
    struct server srv = {0};
    struct opd_k8s_settings s = base_settings();
    struct opd_k8s_client_stats st;
    struct opd_k8s_client *c;
    char err[256], extra[64];
    int port;

    /* a free port: take one from a server, then stop it */
    start_server(&srv, "");
    port = srv.port;
    stop_server(&srv);
    write_kubeconfig(&srv);
    s.watch_timeout_s = 4; /* settings of their own: a new client */
    c = opd_k8s_client_acquire(&s, "test/k8s-late", NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(opd_k8s_client_wait_synced(c, 600000000ull), -ETIMEDOUT);
    opd_k8s_client_get_stats(c, &st);
    assert_true(st.errors >= 2); /* tried, backed off, tried again */
    snprintf(extra, sizeof(extra), "--port %d", port);
    start_server(&srv, extra);
    assert_int_equal(srv.port, port);
    assert_int_equal(opd_k8s_client_wait_synced(c, 10000000000ull), 0);
    assert_true(wait_for(c, WEB_CID, "team", "web-frontend"));
    opd_k8s_client_release(c);
    stop_server(&srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_watch_relist),     cmocka_unit_test(test_namespaced_role),
        cmocka_unit_test(test_service_account),       cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_server_comes_up_later),
    };

    if (system("command -v python3 >/dev/null && command -v openssl >/dev/null") != 0) {
        printf("skip: python3 or openssl missing\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    atexit(kill_running);
    return cmocka_run_group_tests(tests, setup, teardown);
}
