/* processors k8sattributes, team and resource on batches built through the otlp API,
 * with a metadata cache filled from tests/data/k8s/cluster.json (the fake API server's
 * fixture): association rules, metadata, label/annotation rules, service.name, config
 * errors; team sources in order; resource actions. */
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

#include "collector/component.h"
#include "collector/k8s/k8s_cache.h"
#include "collector/mem.h"
#include "collector/processors/k8sattributes/k8sattr.h"
#include "collector/processors/team/team.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

#define WEB_CID    "9b1deb4d3b7d4bad9bdd2b0d7b3dcb6d5e2f8a1c0b9e8d7c6b5a4f3e2d1c0b9a"
#define REPORT_CID "1e4f7a2b5c8d0e3f6a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e7f0a3b6c9d2e5f"
#define CACHE_UID  "e1e2e3e4-f5f6-4a7b-8c9d-0e1f2a3b4c5d"

#define LIST(...)                                                                                  \
    ((struct opd_strlist){(char *[]){__VA_ARGS__},                                                 \
                          sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

static struct opd_k8s_cache *fixture_cache(void)
{
    static const char *const kinds[OPD_K8S_NKINDS] = {
        "pods", "replicasets", "jobs", "namespaces", "deployments", "statefulsets", "daemonsets"};
    const char *src = getenv("OPD_SOURCE_DIR");
    struct opd_k8s_cache *c = opd_k8s_cache_create(100, 1000000000);
    char path[1024];
    json_t *root;

    snprintf(path, sizeof(path), "%s/tests/data/k8s/cluster.json", src ? src : ".");
    root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    for (int k = 0; k < OPD_K8S_NKINDS; k++) {
        json_t *items = json_object_get(root, kinds[k]), *it;
        size_t i;

        json_array_foreach(items, i, it)
        {
            struct opd_k8s_object *o = opd_k8s_object_decode((enum opd_k8s_kind)k, it);

            assert_non_null(o);
            assert_int_equal(opd_k8s_cache_put(c, o), 0);
            opd_k8s_object_unref(o);
        }
    }
    json_decref(root);
    return c;
}

/* A batch with one resource per given set of attributes (key, value pairs, NULL ends). */
static struct opd_batch *batch_of(const char *const *const *resources, size_t n)
{
    struct opd_batch *b = opd_batch_create();

    for (size_t i = 0; i < n; i++) {
        struct opd_resource *r = opd_batch_add_resource(b);

        for (const char *const *kv = resources[i]; kv[0]; kv += 2)
            assert_int_equal(opd_attrs_set_str(b, &r->attrs, kv[0], kv[1]), 0);
    }
    return b;
}

static const char *attr(const struct opd_batch *b, size_t i, const char *key)
{
    const struct opd_value *v = opd_attrs_get(&b->resources[i].attrs, key);

    return v && v->type == OPD_VAL_STR ? v->u.str : NULL;
}

static struct opd_k8sattr_cfg default_k8sattr(void)
{
    static struct opd_k8sattr_source_cfg by_cid = {"resource_attribute", "container.id"};
    static struct opd_k8sattr_source_cfg by_uid = {"resource_attribute", "k8s.pod.uid"};
    static struct opd_k8sattr_assoc_cfg assoc[2];
    struct opd_k8sattr_cfg c = {0};

    assoc[0].sources = (struct opd_seclist){&by_cid, 1};
    assoc[1].sources = (struct opd_seclist){&by_uid, 1};
    c.pod_association = (struct opd_seclist){assoc, 2};
    static char *metadata[] = {
        "k8s.namespace.name",  "k8s.pod.name",        "k8s.pod.uid",          "k8s.pod.start_time",
        "k8s.node.name",       "k8s.container.name",  "container.image.name", "container.image.tag",
        "k8s.deployment.name", "k8s.replicaset.name", "k8s.statefulset.name", "k8s.job.name",
        "k8s.cronjob.name",    "service.name"};

    /* static: the config outlives this function */
    c.extract.metadata = (struct opd_strlist){metadata, sizeof(metadata) / sizeof(char *)};
    return c;
}

static void test_k8sattr_metadata(void **state)
{
    struct opd_k8s_cache *cache = fixture_cache();
    struct opd_k8sattr_cfg c = default_k8sattr();
    struct opd_k8sattr_field_cfg fields[] = {
        {.key = "tier"},
        {.tag_name = "app.$1", .key_regex = "app\\.kubernetes\\.io/(.*)"},
        {.tag_name = "ns.mark", .key = "kubernetes.io/metadata.name", .from = "namespace"},
    };
    struct opd_k8sattr_rules r = {0};
    struct opd_k8sattr_counts cnt = {0};
    char err[256];
    const char *web[] = {
        "container.id", WEB_CID, "service.name", "nginx", "process.executable.name", "nginx", NULL};
    const char *report[] = {"container.id", REPORT_CID, "service.name", "explicit", NULL};
    const char *sts[] = {"k8s.pod.uid", CACHE_UID, NULL};
    const char *unknown[] = {"container.id", "ffff", "k8s.pod.uid", CACHE_UID, NULL};
    const char *none[] = {"host.name", "h", NULL};
    const char *const *res[] = {web, report, sts, unknown, none};
    struct opd_batch *b = batch_of(res, 5);

    c.extract.labels = (struct opd_seclist){fields, 2};
    c.extract.annotations = (struct opd_seclist){NULL, 0};
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), 0);
    assert_int_equal(opd_k8sattr_apply(&r, cache, b, &cnt), 0);
    assert_string_equal(attr(b, 0, "k8s.pod.name"), "web-6b7f9c8d4-q2x7m");
    assert_string_equal(attr(b, 0, "k8s.namespace.name"), "shop");
    assert_string_equal(attr(b, 0, "k8s.container.name"), "nginx");
    assert_string_equal(attr(b, 0, "container.image.name"), "registry.local:5000/shop/web");
    assert_string_equal(attr(b, 0, "container.image.tag"), "1.25.3");
    assert_string_equal(attr(b, 0, "k8s.deployment.name"), "web");
    assert_string_equal(attr(b, 0, "k8s.replicaset.name"), "web-6b7f9c8d4");
    assert_string_equal(attr(b, 0, "k8s.pod.start_time"), "2026-11-25T08:00:00Z");
    /* service.name that was only the executable's name gives way to the label */
    assert_string_equal(attr(b, 0, "service.name"), "storefront");
    assert_string_equal(attr(b, 0, "k8s.pod.labels.tier"), "frontend");
    assert_string_equal(attr(b, 0, "app.name"), "storefront");
    assert_string_equal(attr(b, 0, "app.version"), "1.25.3");
    assert_null(attr(b, 0, "k8s.statefulset.name"));
    /* an explicit service.name stays; CronJob through the watched Job */
    assert_string_equal(attr(b, 1, "service.name"), "explicit");
    assert_string_equal(attr(b, 1, "k8s.cronjob.name"), "report");
    assert_string_equal(attr(b, 1, "k8s.job.name"), "report-29012345");
    /* association by pod uid, no container known: no container attributes */
    assert_string_equal(attr(b, 2, "k8s.statefulset.name"), "cache");
    assert_string_equal(attr(b, 2, "k8s.node.name"), "node-2");
    assert_null(attr(b, 2, "k8s.container.name"));
    /* the container.id rule decides for resource 3 and finds nothing: the uid rule after
     * it is not tried, as in the Collector */
    assert_null(attr(b, 3, "k8s.pod.name"));
    assert_null(attr(b, 4, "k8s.pod.name"));
    assert_int_equal(cnt.matched, 3);
    assert_int_equal(cnt.missed, 1);
    assert_int_equal(cnt.no_identity, 1);
    opd_k8sattr_rules_fini(&r);
    opd_batch_unref(b);

    /* labels of the namespace, and of the workloads when they are watched */
    {
        struct opd_k8sattr_field_cfg wl[] = {
            {.key = "tier", .from = "statefulset"},
            {.key = "app.kubernetes.io/part-of", .from = "deployment"},
            {.key = "job-name", .from = "job"}, /* the Job has no such label: nothing */
        };

        c.extract.labels = (struct opd_seclist){wl, 3};
        memset(&r, 0, sizeof(r));
        assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), 0);
        b = batch_of(res, 3);
        assert_int_equal(opd_k8sattr_apply(&r, cache, b, &cnt), 0);
        assert_string_equal(attr(b, 0, "k8s.deployment.labels.app.kubernetes.io/part-of"), "shop");
        assert_null(attr(b, 0, "k8s.statefulset.labels.tier"));
        assert_string_equal(attr(b, 2, "k8s.statefulset.labels.tier"), "data");
        assert_null(attr(b, 1, "k8s.job.labels.job-name"));
        opd_k8sattr_rules_fini(&r);
        opd_batch_unref(b);
    }
    c.extract.labels = (struct opd_seclist){&fields[2], 1};
    memset(&r, 0, sizeof(r));
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), 0);
    b = batch_of(res, 1);
    assert_int_equal(opd_k8sattr_apply(&r, cache, b, &cnt), 0);
    assert_string_equal(attr(b, 0, "ns.mark"), "shop");
    opd_k8sattr_rules_fini(&r);
    opd_batch_unref(b);
    opd_k8s_cache_destroy(cache);
}

static void test_k8sattr_config_errors(void **state)
{
    struct opd_k8sattr_cfg c = default_k8sattr();
    struct opd_k8sattr_field_cfg bad_re = {.key_regex = "(["};
    struct opd_k8sattr_field_cfg both = {.key = "a", .key_regex = "b"};
    struct opd_k8sattr_source_cfg by_ip = {"resource_attribute", "k8s.pod.ip"};
    struct opd_k8sattr_assoc_cfg assoc = {.sources = {&by_ip, 1}};
    struct opd_k8sattr_rules r = {0};
    char err[256];

    c.extract.metadata = LIST("k8s.pod.name", "k8s.bogus");
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "k8s.bogus"));
    opd_k8sattr_rules_fini(&r);
    c = default_k8sattr();
    c.extract.labels = (struct opd_seclist){&bad_re, 1};
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "key_regex"));
    opd_k8sattr_rules_fini(&r);
    c.extract.labels = (struct opd_seclist){&both, 1};
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    opd_k8sattr_rules_fini(&r);
    c = default_k8sattr();
    c.pod_association = (struct opd_seclist){&assoc, 1};
    assert_int_equal(opd_k8sattr_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "pod_association::0"));
    opd_k8sattr_rules_fini(&r);
}

static struct opd_team_cfg team_cfg(void)
{
    static struct opd_team_rule_cfg rules[] = {
        {.ns = "^shop$", .team = "shop-rule"},
        {.service = "^batch-", .team = "batch-rule"},
    };
    struct opd_team_cfg c = {
        .attribute = "team.name", .source_attribute = "team.source", .default_team = "unowned"};

    static char *keys[] = {"team.example.com/owner", "team"};

    c.keys = (struct opd_strlist){keys, 2};
    c.rules = (struct opd_seclist){rules, 2};
    return c;
}

static void test_team_sources(void **state)
{
    struct opd_k8s_cache *cache = fixture_cache();
    struct opd_team_cfg c = team_cfg();
    struct opd_team_rules r = {0};
    uint64_t counts[OPD_TEAM_NSOURCES] = {0};
    char err[256];
    const char *web[] = {"container.id", WEB_CID, NULL};
    const char *report[] = {"container.id", REPORT_CID, NULL};
    const char *sts[] = {"k8s.pod.uid", CACHE_UID, NULL};
    const char *preset[] = {"team.name", "given", NULL};
    const char *batchsvc[] = {"service.name", "batch-nightly", NULL};
    const char *nothing[] = {"host.name", "h", NULL};
    const char *const *res[] = {web, report, sts, preset, batchsvc, nothing};
    struct opd_batch *b = batch_of(res, 6);

    assert_int_equal(opd_team_rules_compile(&c, &r, err, sizeof(err)), 0);
    assert_int_equal(opd_team_apply(&r, cache, b, counts), 0);
    assert_string_equal(attr(b, 0, "team.name"), "web-frontend");
    assert_string_equal(attr(b, 0, "team.source"), "pod_annotation");
    assert_string_equal(attr(b, 1, "team.name"), "data-eng");
    assert_string_equal(attr(b, 1, "team.source"), "namespace_label");
    /* cache-0 has no team of its own; its StatefulSet's annotation answers */
    assert_string_equal(attr(b, 2, "team.name"), "storage-team");
    assert_string_equal(attr(b, 2, "team.source"), "workload_annotation");
    assert_string_equal(attr(b, 3, "team.name"), "given");
    assert_string_equal(attr(b, 3, "team.source"), "resource");
    assert_string_equal(attr(b, 4, "team.name"), "batch-rule");
    assert_string_equal(attr(b, 4, "team.source"), "rule");
    assert_string_equal(attr(b, 5, "team.name"), "unowned");
    assert_string_equal(attr(b, 5, "team.source"), "default");
    assert_int_equal(counts[OPD_TEAM_POD_ANNOTATION], 1);
    assert_int_equal(counts[OPD_TEAM_DEFAULT], 1);
    opd_batch_unref(b);

    /* without Kubernetes only rules and the default answer; the shop rule needs the
     * namespace on the resource */
    {
        const char *shop[] = {"k8s.namespace.name", "shop", NULL};
        const char *const *res2[] = {shop};

        b = batch_of(res2, 1);
        assert_int_equal(opd_team_apply(&r, NULL, b, counts), 0);
        assert_string_equal(attr(b, 0, "team.name"), "shop-rule");
        opd_batch_unref(b);
    }
    opd_team_rules_fini(&r);
    opd_k8s_cache_destroy(cache);
}

static void test_team_workload_and_errors(void **state)
{
    struct opd_k8s_cache *cache = fixture_cache();
    struct opd_team_cfg c = team_cfg();
    struct opd_team_rule_cfg bad[] = {{.ns = "(", .team = "x"}};
    struct opd_team_rule_cfg empty[] = {{.team = "x"}};
    struct opd_team_rules r = {0};
    uint64_t counts[OPD_TEAM_NSOURCES] = {0};
    json_t *j = json_loads("{\"metadata\":{\"name\":\"web-6b7f9c8d4\",\"namespace\":\"shop\","
                           "\"uid\":\"7e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b\",\"annotations\":"
                           "{\"team.example.com/owner\":\"deploy-owners\"},\"ownerReferences\":"
                           "[{\"kind\":\"Deployment\",\"name\":\"web\",\"controller\":true}]}}",
                           0, NULL);
    struct opd_k8s_object *rs = opd_k8s_object_decode(OPD_K8S_REPLICASET, j);
    struct opd_k8s_object *pod = opd_k8s_cache_pod_by_container(cache, WEB_CID);
    char err[256], text[4096];
    const char *web[] = {"container.id", WEB_CID, NULL};
    const char *const *res[] = {web};
    struct opd_batch *b;

    json_decref(j);
    assert_non_null(rs);
    assert_non_null(pod);
    /* Deployments not watched (watch_workloads off): the ReplicaSet stands for it. */
    opd_k8s_cache_delete(cache, "1a2b3c4d-0000-4000-8000-000000000001", 1);
    assert_int_equal(opd_k8s_cache_sweep(cache, 2000000000ull), 1);
    /* the pod without its annotation: the ReplicaSet (Deployment) annotation answers */
    snprintf(text, sizeof(text),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"shop\",\"uid\":\"%s\","
             "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web-6b7f9c8d4\","
             "\"controller\":true}]},\"status\":{\"containerStatuses\":[{\"name\":\"nginx\","
             "\"containerID\":\"containerd://%s\"}]},\"spec\":{\"containers\":[{\"name\":"
             "\"nginx\"}]}}",
             pod->name, pod->uid, WEB_CID);
    opd_k8s_object_unref(pod);
    j = json_loads(text, 0, NULL);
    pod = opd_k8s_object_decode(OPD_K8S_POD, j);
    json_decref(j);
    assert_int_equal(opd_k8s_cache_put(cache, pod), 0);
    assert_int_equal(opd_k8s_cache_put(cache, rs), 0);
    assert_int_equal(opd_team_rules_compile(&c, &r, err, sizeof(err)), 0);
    b = batch_of(res, 1);
    assert_int_equal(opd_team_apply(&r, cache, b, counts), 0);
    assert_string_equal(attr(b, 0, "team.name"), "deploy-owners");
    assert_string_equal(attr(b, 0, "team.source"), "workload_annotation");
    opd_batch_unref(b);
    opd_team_rules_fini(&r);
    opd_k8s_object_unref(pod);
    opd_k8s_object_unref(rs);

    c.rules = (struct opd_seclist){bad, 1};
    assert_int_equal(opd_team_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "rules::0::namespace"));
    opd_team_rules_fini(&r);
    c.rules = (struct opd_seclist){empty, 1};
    assert_int_equal(opd_team_rules_compile(&c, &r, err, sizeof(err)), -EINVAL);
    opd_team_rules_fini(&r);
    opd_k8s_cache_destroy(cache);
}

/* ---- resource processor through its factory and the config binder ------------------ */

extern const struct opd_factory opd_resource_processor_factory;

struct sink {
    struct opd_component base;
    struct opd_batch *last;
};

static int sink_consume(struct opd_component *self, struct opd_batch *b)
{
    struct sink *s = (struct sink *)self;

    opd_batch_unref(s->last);
    s->last = b;
    return 0;
}

static const struct opd_component_ops sink_ops = {.consume = sink_consume};

struct action_cfg {
    char *key, *value, *from_attribute, *action;
};

static void test_resource_actions(void **state)
{
    struct action_cfg acts[] = {
        {.key = "k8s.cluster.name", .value = "prod", .action = "insert"},
        {.key = "host.name", .value = "never", .action = "insert"},
        {.key = "missing", .value = "x", .action = "update"},
        {.key = "env", .value = "staging", .action = "update"},
        {.key = "copy", .from_attribute = "host.name", .action = "upsert"},
        {.key = "secret", .action = "delete"},
    };
    struct {
        struct opd_seclist attributes;
    } cfg = {{acts, 6}};
    struct sink s = {.base.ops = &sink_ops};
    struct opd_telemetry *t = opd_telemetry_create();
    struct opd_create_params params = {
        .id = "resource", .logname = "processor/resource", .telemetry = t, .next = &s.base};
    const char *r0[] = {"host.name", "h1", "env", "dev", "secret", "s", NULL};
    const char *const *res[] = {r0};
    struct opd_component *p;
    char err[256];

    assert_int_equal(opd_resource_processor_factory.validate(&cfg, err, sizeof(err)), 0);
    p = opd_resource_processor_factory.create(&params, &cfg);
    assert_non_null(p);
    assert_int_equal(opd_component_consume(p, batch_of(res, 1)), 0);
    assert_non_null(s.last);
    assert_string_equal(attr(s.last, 0, "k8s.cluster.name"), "prod");
    assert_string_equal(attr(s.last, 0, "host.name"), "h1");
    assert_null(attr(s.last, 0, "missing"));
    assert_string_equal(attr(s.last, 0, "env"), "staging");
    assert_string_equal(attr(s.last, 0, "copy"), "h1");
    assert_null(attr(s.last, 0, "secret"));
    opd_batch_unref(s.last);
    p->ops->destroy(p);
    opd_telemetry_destroy(t);

    acts[0].value = NULL;
    assert_int_equal(opd_resource_processor_factory.validate(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "attributes::0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k8sattr_metadata), cmocka_unit_test(test_k8sattr_config_errors),
        cmocka_unit_test(test_team_sources),     cmocka_unit_test(test_team_workload_and_errors),
        cmocka_unit_test(test_resource_actions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
