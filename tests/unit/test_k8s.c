/* Kubernetes metadata pieces that need no server: object decoding, watch stream framing
 * across arbitrary chunk splits, LIST bodies, the cache (indexes, grace period, relist
 * sync, bound), kubeconfig reading, image splitting and workload resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/k8s/k8s_auth.h"
#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_client.h"
#include "collector/k8s/k8s_scope.h"
#include "collector/k8s/k8s_select.h"
#include "collector/k8s/k8s_stream.h"
#include "collector/mem.h"

#define POD_JSON                                                                                   \
    "{\"metadata\":{\"name\":\"web-6b7f9c8d4-q2x7m\",\"namespace\":\"shop\",\"uid\":\"u1\","       \
    "\"resourceVersion\":\"7\",\"labels\":{\"pod-template-hash\":\"6b7f9c8d4\",\"app\":\"web\"},"  \
    "\"annotations\":{\"team\":\"web\"},\"ownerReferences\":[{\"kind\":\"Other\",\"name\":\"x\"}," \
    "{\"kind\":\"ReplicaSet\",\"name\":\"web-6b7f9c8d4\",\"controller\":true}]},"                  \
    "\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"nginx\",\"image\":"             \
    "\"reg:5000/shop/web:1.2\"},{\"name\":\"side\",\"image\":\"side\"}]},"                         \
    "\"status\":{\"startTime\":\"2026-11-25T08:00:00Z\",\"containerStatuses\":[{\"name\":"         \
    "\"nginx\",\"containerID\":\"containerd://abc123\",\"lastState\":{\"terminated\":"             \
    "{\"containerID\":\"containerd://old999\"}}}]}}"

static struct opd_k8s_object *decode(enum opd_k8s_kind kind, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    struct opd_k8s_object *o;

    assert_non_null(j);
    o = opd_k8s_object_decode(kind, j);
    json_decref(j);
    return o;
}

static struct opd_k8s_object *pod(const char *uid, const char *ns, const char *name,
                                  const char *cid)
{
    char buf[1024];

    snprintf(
        buf, sizeof(buf),
        "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"%s\"},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]},"
        "\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"containerID\":\"docker://%s\"}]}}",
        name, ns, uid, cid);
    return decode(OPD_K8S_POD, buf);
}

static void test_object_decode(void **state)
{
    struct opd_k8s_object *o = decode(OPD_K8S_POD, POD_JSON);

    assert_non_null(o);
    assert_string_equal(o->uid, "u1");
    assert_string_equal(o->ns, "shop");
    assert_string_equal(o->node_name, "node-1");
    assert_string_equal(o->start_time, "2026-11-25T08:00:00Z");
    /* the controller reference wins over the first one */
    assert_string_equal(o->owner_kind, "ReplicaSet");
    /* nginx, its previous (restarted) instance, side */
    assert_int_equal(o->n_containers, 3);
    assert_string_equal(o->containers[0].id, "abc123");
    assert_string_equal(o->containers[1].id, "old999");
    assert_string_equal(o->containers[1].name, "nginx");
    assert_string_equal(o->containers[2].id, "");
    assert_string_equal(opd_k8s_label(o, "app"), "web");
    assert_string_equal(opd_k8s_annotation(o, "team"), "web");
    assert_null(opd_k8s_label(o, "team"));
    assert_ptr_equal(opd_k8s_pod_container(o, "abc123"), &o->containers[0]);
    assert_null(opd_k8s_pod_container(o, ""));
    opd_k8s_object_unref(o);

    /* no uid, wrong types: rejected, not crashed on */
    assert_null(decode(OPD_K8S_POD, "{\"metadata\":{\"name\":\"x\"}}"));
    assert_int_equal(errno, EINVAL);
    assert_null(decode(OPD_K8S_POD, "{\"metadata\":[]}"));
    o = decode(OPD_K8S_POD, "{\"metadata\":{\"name\":\"x\",\"uid\":\"u\",\"labels\":[1],"
                            "\"ownerReferences\":{}},\"spec\":{\"containers\":[1,{\"x\":2}]}}");
    assert_non_null(o);
    assert_int_equal(o->n_labels, 0);
    assert_int_equal(o->n_containers, 0);
    opd_k8s_object_unref(o);
}

static void test_object_decode_oom(void **state)
{
    json_t *j = json_loads(POD_JSON, 0, NULL);

    for (long n = 0;; n++) {
        struct opd_k8s_object *o;

        opd_mem_fail_countdown = n;
        o = opd_k8s_object_decode(OPD_K8S_POD, j);
        opd_mem_fail_countdown = -1;
        if (o) {
            opd_k8s_object_unref(o);
            break;
        }
        assert_int_equal(errno, ENOMEM);
    }
    json_decref(j);
}

struct seen {
    int added, modified, deleted, bookmarks, errors, last_code;
    char last_rv[32], last_name[64];
};

static int record(void *arg, const struct opd_k8s_event *ev)
{
    struct seen *s = arg;

    snprintf(s->last_rv, sizeof(s->last_rv), "%s", ev->resource_version);
    switch (ev->type) {
    case OPD_K8S_ADDED:
        s->added++;
        break;
    case OPD_K8S_MODIFIED:
        s->modified++;
        break;
    case OPD_K8S_DELETED:
        s->deleted++;
        break;
    case OPD_K8S_BOOKMARK:
        s->bookmarks++;
        break;
    case OPD_K8S_ERROR:
        s->errors++;
        s->last_code = ev->code;
        return -ESTALE;
    }
    if (ev->obj)
        snprintf(s->last_name, sizeof(s->last_name), "%s", ev->obj->name);
    return 0;
}

static void test_stream_framing(void **state)
{
    char text[4096];
    size_t len;

    len = (size_t)snprintf(text, sizeof(text),
                           "{\"type\":\"ADDED\",\"object\":%s}\n"
                           "{\"type\":\"MODIFIED\",\"object\":%s}\n\n"
                           "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
                           "{\"resourceVersion\":\"42\"}}}\n"
                           "{\"type\":\"DELETED\",\"object\":%s}\n",
                           POD_JSON, POD_JSON, POD_JSON);
    /* Every chunk size from 1 byte to the whole: the same four events. */
    for (size_t step = 1; step <= len; step += (step < 64 ? 1 : 97)) {
        struct opd_k8s_stream s;
        struct seen seen = {0};

        opd_k8s_stream_init(&s, OPD_K8S_POD, 1 << 20, record, &seen);
        for (size_t off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;
            assert_int_equal(opd_k8s_stream_feed(&s, text + off, n), 0);
        }
        opd_k8s_stream_fini(&s);
        assert_int_equal(seen.added, 1);
        assert_int_equal(seen.modified, 1);
        assert_int_equal(seen.bookmarks, 1);
        assert_int_equal(seen.deleted, 1);
        assert_string_equal(seen.last_rv, "7");
        assert_string_equal(seen.last_name, "web-6b7f9c8d4-q2x7m");
    }
}

static void test_stream_errors(void **state)
{
    struct opd_k8s_stream s;
    struct seen seen = {0};
    const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                       "\"message\":\"too old resource version\"}}\n";
    char big[300];

    opd_k8s_stream_init(&s, OPD_K8S_POD, 1 << 20, record, &seen);
    assert_int_equal(opd_k8s_stream_feed(&s, gone, strlen(gone)), -ESTALE);
    assert_int_equal(seen.last_code, 410);
    opd_k8s_stream_fini(&s);

    opd_k8s_stream_init(&s, OPD_K8S_POD, 1 << 20, record, &seen);
    assert_int_equal(opd_k8s_stream_feed(&s, "{\"type\":\"NOPE\",\"object\":{}}\n", 29), -EPROTO);
    opd_k8s_stream_fini(&s);
    opd_k8s_stream_init(&s, OPD_K8S_POD, 1 << 20, record, &seen);
    assert_int_equal(opd_k8s_stream_feed(&s, "not json\n", 9), -EPROTO);
    opd_k8s_stream_fini(&s);

    /* A line longer than the bound is refused before it is buffered whole. */
    memset(big, 'x', sizeof(big));
    opd_k8s_stream_init(&s, OPD_K8S_POD, 256, record, &seen);
    assert_int_equal(opd_k8s_stream_feed(&s, big, 200), 0);
    assert_int_equal(opd_k8s_stream_feed(&s, big, 100), -EMSGSIZE);
    opd_k8s_stream_fini(&s);
}

static void test_list_decode(void **state)
{
    char body[4096];
    struct opd_k8s_list l = {0};

    snprintf(body, sizeof(body),
             "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"99\",\"continue\":\"c1\"},"
             "\"items\":[%s,{\"metadata\":{}}]}",
             POD_JSON);
    assert_int_equal(opd_k8s_list_decode(OPD_K8S_POD, body, strlen(body), &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.skipped, 1);
    assert_string_equal(l.resource_version, "99");
    assert_string_equal(l.cont, "c1");
    opd_k8s_list_fini(&l);

    strcpy(body, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":null}");
    assert_int_equal(opd_k8s_list_decode(OPD_K8S_POD, body, strlen(body), &l), 0);
    assert_int_equal(l.n, 0);
    assert_string_equal(l.cont, "");
    opd_k8s_list_fini(&l);

    assert_int_equal(opd_k8s_list_decode(OPD_K8S_POD, "[]", 2, &l), -EPROTO);
    opd_k8s_list_fini(&l);
}

static void test_cache_grace_and_sync(void **state)
{
    struct opd_k8s_cache *c = opd_k8s_cache_create(100, 1000);
    struct opd_k8s_object *a = pod("ua", "shop", "a", "c0a"), *b = pod("ub", "shop", "b", "c0b");
    struct opd_k8s_object *a2 = pod("ua", "shop", "a", "c1a"), *got;
    uint64_t tok;

    assert_int_equal(opd_k8s_cache_put(c, a), 0);
    assert_int_equal(opd_k8s_cache_put(c, b), 0);
    got = opd_k8s_cache_pod_by_container(c, "c0a");
    assert_ptr_equal(got, a);
    opd_k8s_object_unref(got);

    /* an update re-indexes: the old container id no longer finds the pod */
    assert_int_equal(opd_k8s_cache_put(c, a2), 0);
    assert_null(opd_k8s_cache_pod_by_container(c, "c0a"));
    got = opd_k8s_cache_by_name(c, OPD_K8S_POD, "shop", "a");
    assert_ptr_equal(got, a2);
    opd_k8s_object_unref(got);

    /* deleted: still found during the grace period, gone after it */
    opd_k8s_cache_delete(c, "ub", 5000);
    got = opd_k8s_cache_by_uid(c, "ub");
    assert_non_null(got);
    assert_int_equal(atomic_load(&got->deleted_ns), 5000);
    opd_k8s_object_unref(got);
    assert_int_equal(opd_k8s_cache_sweep(c, 5999), 0);
    assert_int_equal(opd_k8s_cache_sweep(c, 6000), 1);
    assert_null(opd_k8s_cache_by_uid(c, "ub"));

    /* a relist that does not return "ua" marks it deleted */
    assert_int_equal(opd_k8s_cache_put(c, b), 0);
    tok = opd_k8s_cache_sync_begin(c, OPD_K8S_POD, "shop");
    assert_int_equal(opd_k8s_cache_put(c, b), 0);
    opd_k8s_cache_sync_end(c, OPD_K8S_POD, "shop", tok, 7000);
    got = opd_k8s_cache_by_uid(c, "ua");
    assert_int_equal(atomic_load(&got->deleted_ns), 7000);
    opd_k8s_object_unref(got);
    got = opd_k8s_cache_by_uid(c, "ub");
    assert_int_equal(atomic_load(&got->deleted_ns), 0);
    opd_k8s_object_unref(got);

    opd_k8s_cache_destroy(c);
    opd_k8s_object_unref(a);
    opd_k8s_object_unref(a2);
    opd_k8s_object_unref(b);
}

static void test_cache_bound(void **state)
{
    struct opd_k8s_cache *c = opd_k8s_cache_create(2, 1000000);
    struct opd_k8s_object *p[3] = {pod("u0", "n", "p0", "c0"), pod("u1", "n", "p1", "c1"),
                                   pod("u2", "n", "p2", "c2")};
    struct opd_k8s_cache_stats st;

    assert_int_equal(opd_k8s_cache_put(c, p[0]), 0);
    assert_int_equal(opd_k8s_cache_put(c, p[1]), 0);
    assert_int_equal(opd_k8s_cache_put(c, p[2]), -ENOSPC);
    /* a deleted object makes room before its grace period ends */
    opd_k8s_cache_delete(c, "u0", 10);
    assert_int_equal(opd_k8s_cache_put(c, p[2]), 0);
    assert_null(opd_k8s_cache_by_uid(c, "u0"));
    opd_k8s_cache_get_stats(c, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.objects[OPD_K8S_POD], 2);
    opd_k8s_cache_destroy(c);
    for (int i = 0; i < 3; i++)
        opd_k8s_object_unref(p[i]);
}

static void test_image_split(void **state)
{
    char n[128], t[64];

    opd_k8s_image_split("registry.local:5000/shop/web:1.25.3", n, sizeof(n), t, sizeof(t));
    assert_string_equal(n, "registry.local:5000/shop/web");
    assert_string_equal(t, "1.25.3");
    opd_k8s_image_split("registry.local:5000/shop/web", n, sizeof(n), t, sizeof(t));
    assert_string_equal(n, "registry.local:5000/shop/web");
    assert_string_equal(t, "latest");
    opd_k8s_image_split("redis@sha256:abcd", n, sizeof(n), t, sizeof(t));
    assert_string_equal(n, "redis");
    assert_string_equal(t, "");
    opd_k8s_image_split("python:3.11-slim@sha256:ff", n, sizeof(n), t, sizeof(t));
    assert_string_equal(n, "python");
    assert_string_equal(t, "3.11-slim");
}

static void test_workload(void **state)
{
    struct opd_k8s_cache *c = opd_k8s_cache_create(10, 1000);
    struct opd_k8s_object *p = decode(OPD_K8S_POD, POD_JSON), *owner;
    struct opd_k8s_object *rs =
        decode(OPD_K8S_REPLICASET,
               "{\"metadata\":{\"name\":\"web-6b7f9c8d4\",\"namespace\":\"shop\",\"uid\":\"r1\","
               "\"ownerReferences\":[{\"kind\":\"Deployment\",\"name\":\"webdeploy\","
               "\"controller\":true}]}}");
    struct opd_k8s_object *jp = decode(
        OPD_K8S_POD, "{\"metadata\":{\"name\":\"report-29012345-x\",\"namespace\":\"a\",\"uid\":"
                     "\"j1\",\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"report-29012345\","
                     "\"controller\":true}]}}");
    const char *kind;
    char name[64];

    /* not watched: the naming rule */
    opd_k8s_resolve_workload(c, p, &kind, name, sizeof(name), &owner);
    assert_string_equal(kind, "Deployment");
    assert_string_equal(name, "web");
    assert_null(owner);
    /* watched: the ReplicaSet's own owner */
    assert_int_equal(opd_k8s_cache_put(c, rs), 0);
    opd_k8s_resolve_workload(c, p, &kind, name, sizeof(name), &owner);
    assert_string_equal(name, "webdeploy");
    assert_ptr_equal(owner, rs);
    opd_k8s_object_unref(owner);
    opd_k8s_resolve_workload(c, jp, &kind, name, sizeof(name), NULL);
    assert_string_equal(kind, "CronJob");
    assert_string_equal(name, "report");
    opd_k8s_cache_destroy(c);
    opd_k8s_object_unref(p);
    opd_k8s_object_unref(rs);
    opd_k8s_object_unref(jp);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_kubeconfig(void **state)
{
    char dir[] = "/tmp/opd-k8s-kc-XXXXXX", path[256], tokp[256], tok[64], err[256];
    struct opd_k8s_conn c;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config", dir);
    snprintf(tokp, sizeof(tokp), "%s/tok", dir);
    write_file(path, "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
                     "clusters:\n- name: other\n  cluster: {server: https://1.2.3.4}\n"
                     "- name: local\n  cluster:\n    server: https://127.0.0.1:6443/\n"
                     "    certificate-authority: ca.pem\n"
                     "    certificate-authority-data: LS0tLS1CRUdJTg==\n"
                     "contexts:\n- name: dev\n  context: {cluster: local, user: me}\n"
                     "users:\n- name: me\n  user: {tokenFile: tok}\n");
    write_file(tokp, "first-token\n");
    assert_int_equal(opd_k8s_conn_from_kubeconfig(&c, path, err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://127.0.0.1:6443");
    assert_non_null(strstr(c.ca_file, "/ca.pem"));
    assert_int_equal(c.ca_len, 10);
    assert_memory_equal(c.ca_data, "-----BEGIN", 10);
    assert_int_equal(opd_k8s_conn_token(&c, tok, sizeof(tok)), 11);
    assert_string_equal(tok, "first-token");
    /* rotation: the next request reads the new token */
    write_file(tokp, "second-token");
    assert_int_equal(opd_k8s_conn_token(&c, tok, sizeof(tok)), 12);
    assert_string_equal(tok, "second-token");
    opd_k8s_conn_fini(&c);

    write_file(path, "current-context: nope\ncontexts: []\n");
    assert_int_equal(opd_k8s_conn_from_kubeconfig(&c, path, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "nope"));
    write_file(path, "current-context: a\ncontexts:\n- {name: a, context: {cluster: c, user: u}}\n"
                     "clusters:\n- {name: c, cluster: {server: https://x}}\n"
                     "users:\n- {name: u, user: {exec: {command: aws}}}\n");
    assert_int_equal(opd_k8s_conn_from_kubeconfig(&c, path, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "exec"));
    unlink(path);
    unlink(tokp);
    rmdir(dir);
}

static void test_service_account_env(void **state)
{
    struct opd_k8s_conn c;
    char err[256];

    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(opd_k8s_conn_from_service_account(&c, "/nonexistent", true, err, sizeof(err)),
                     -ENOENT);
    assert_non_null(strstr(err, "KUBERNETES_SERVICE_HOST"));
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    assert_int_equal(opd_k8s_conn_from_service_account(&c, "/nonexistent", true, err, sizeof(err)),
                     0);
    assert_string_equal(c.server, "https://[fd00::1]:6443");
    assert_string_equal(c.token_file, "/nonexistent/token");
    assert_null(c.ca_file);
    opd_k8s_conn_fini(&c);
    unsetenv("KUBERNETES_SERVICE_HOST");
}

static struct opd_k8s_object *labelled(const char *uid, const char *ns, const char *labels)
{
    char buf[1024];

    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"p-%s\",\"namespace\":\"%s\",\"uid\":\"%s\","
             "\"labels\":%s}}",
             uid, ns, uid, labels);
    return decode(OPD_K8S_POD, buf);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_select_pods(void **state)
{
    struct opd_k8s_cache *c = opd_k8s_cache_create(10, 1000);
    struct opd_k8s_object *p[] = {
        labelled("a", "shop", "{\"app\":\"web\",\"tier\":\"front\"}"),
        labelled("b", "shop", "{\"app\":\"db\"}"),
        labelled("c", "other", "{\"app\":\"web\"}"),
        labelled("d", "shop", "{\"app\":\"web\",\"legacy\":\"1\"}"),
    };
    const char *const ns[] = {"shop"};
    struct opd_k8s_selector sel = {0};
    char err[256], **uids;
    size_t n;

    for (int i = 0; i < 4; i++)
        assert_int_equal(opd_k8s_cache_put(c, p[i]), 0);
    assert_int_equal(opd_k8s_selector_parse("app == web, !legacy", &sel, err, sizeof(err)), 0);
    assert_int_equal(opd_k8s_select_pods(c, ns, 1, &sel, &uids, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(uids[0], "a");
    opd_k8s_uids_free(uids, n);
    /* every namespace; a deleted pod in grace still counts */
    opd_k8s_cache_delete(c, "c", 5);
    assert_int_equal(opd_k8s_select_pods(c, NULL, 0, &sel, &uids, &n), 0);
    qsort(uids, n, sizeof(*uids), cmp_str);
    assert_int_equal(n, 2);
    assert_string_equal(uids[1], "c");
    opd_k8s_uids_free(uids, n);
    opd_k8s_selector_fini(&sel);

    assert_int_equal(opd_k8s_selector_parse("tier!=front,app", &sel, err, sizeof(err)), 0);
    assert_int_equal(opd_k8s_select_pods(c, ns, 1, &sel, &uids, &n), 0);
    qsort(uids, n, sizeof(*uids), cmp_str);
    assert_int_equal(n, 2);
    assert_string_equal(uids[0], "b");
    assert_string_equal(uids[1], "d");
    opd_k8s_uids_free(uids, n);
    opd_k8s_selector_fini(&sel);

    assert_int_equal(opd_k8s_selector_parse("app in (a,b)", &sel, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "pod_selector"));
    opd_k8s_selector_fini(&sel);
    assert_int_equal(opd_k8s_selector_parse("=x", &sel, err, sizeof(err)), -EINVAL);
    opd_k8s_selector_fini(&sel);
    opd_k8s_cache_destroy(c);
    for (int i = 0; i < 4; i++)
        opd_k8s_object_unref(p[i]);
}

static void test_pod_cgroups(void **state)
{
    char root[] = "/tmp/opd-k8s-cg-XXXXXX", cmd[1024], **paths;
    char *uids[] = {"1111-2222", "3333-4444", "5555"};
    size_t n;

    assert_non_null(mkdtemp(root));
    snprintf(cmd, sizeof(cmd),
             "cd %s && mkdir -p kubepods.slice/kubepods-besteffort.slice/"
             "kubepods-besteffort-pod1111_2222.slice/cri-containerd-ab.scope "
             "kubepods/burstable/pod3333-4444/cd system.slice/pod5555x.scope "
             "kubepods/pod1111-22223",
             root);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(opd_k8s_pod_cgroups(root, uids, 3, 6, &paths, &n), 0);
    qsort(paths, n, sizeof(*paths), cmp_str);
    assert_int_equal(n, 2);
    assert_string_equal(paths[0], "/kubepods.slice/kubepods-besteffort.slice/"
                                  "kubepods-besteffort-pod1111_2222.slice");
    assert_string_equal(paths[1], "/kubepods/burstable/pod3333-4444");
    opd_k8s_uids_free(paths, n);
    /* depth bound, and nothing to look for */
    assert_int_equal(opd_k8s_pod_cgroups(root, uids, 3, 2, &paths, &n), 0);
    assert_int_equal(n, 0);
    opd_k8s_uids_free(paths, n);
    assert_int_equal(opd_k8s_pod_cgroups("/nonexistent", uids, 3, 6, &paths, &n), 0);
    assert_int_equal(n, 0);
    assert_true(opd_k8s_cgroup_name_has_pod("kubepods-pod1111_2222.slice", "1111-2222"));
    assert_false(opd_k8s_cgroup_name_has_pod("pod1111-22223", "1111-2222"));
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_object_decode),
        cmocka_unit_test(test_object_decode_oom),
        cmocka_unit_test(test_stream_framing),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_list_decode),
        cmocka_unit_test(test_cache_grace_and_sync),
        cmocka_unit_test(test_cache_bound),
        cmocka_unit_test(test_image_split),
        cmocka_unit_test(test_workload),
        cmocka_unit_test(test_kubeconfig),
        cmocka_unit_test(test_service_account_env),
        cmocka_unit_test(test_select_pods),
        cmocka_unit_test(test_pod_cgroups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
