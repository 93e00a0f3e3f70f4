/* The profiling receiver's Kubernetes scope without a server: config checks (namespace
 * names, label keys and values), when a scope counts as configured, a refresh before the
 * client is started, and the scope filter taking over and freeing the pod cgroups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "collector/receivers/profiling/filter.h"
#include "collector/receivers/profiling/k8s_scope_glue.h"

static char *ns_in[] = {"shop", "team-2"};
static char *keys[] = {"app.kubernetes.io/name", "tier"};
static char *vals[] = {"web", ""};

static struct opd_prof_k8s_scope_cfg good_cfg(void)
{
    struct opd_prof_k8s_scope_cfg c = {0};

    c.namespaces.v = ns_in;
    c.namespaces.n = 2;
    c.pod_selector.keys = keys;
    c.pod_selector.values = vals;
    c.pod_selector.n = 2;
    return c;
}

static void test_check_accepts(void **state)
{
    struct opd_prof_k8s_scope_cfg c = good_cfg();
    char err[256] = "";

    (void)state;
    assert_int_equal(opd_prof_k8s_scope_check(&c, err, sizeof(err)), 0);
    assert_true(opd_prof_k8s_scope_configured(&c));
}

static void test_configured(void **state)
{
    struct opd_prof_k8s_scope_cfg c = {0};

    (void)state;
    assert_false(opd_prof_k8s_scope_configured(&c));
    c.pod_selector.keys = keys;
    c.pod_selector.values = vals;
    c.pod_selector.n = 1;
    assert_true(opd_prof_k8s_scope_configured(&c));
}

static void expect_reject(struct opd_prof_k8s_scope_cfg *c, const char *needle)
{
    char err[256] = "";

    assert_int_equal(opd_prof_k8s_scope_check(c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, needle));
}

static void test_check_rejects(void **state)
{
    struct opd_prof_k8s_scope_cfg c = good_cfg();
    char *bad_ns[] = {"Shop"}, *bad_ns2[] = {"-x"}, *long_ns[] = {NULL};
    char *bad_key[] = {"a/b/c"}, *bad_key2[] = {"/name"}, *bad_key3[] = {"x_"};
    char *bad_val[] = {"-web"}, *bad_val2[] = {"a b"};
    char longname[80];

    (void)state;
    memset(longname, 'a', 64);
    longname[64] = '\0';
    long_ns[0] = longname;
    c.namespaces.v = bad_ns;
    c.namespaces.n = 1;
    expect_reject(&c, "\"Shop\" is not a namespace name");
    c.namespaces.v = bad_ns2;
    expect_reject(&c, "\"-x\"");
    c.namespaces.v = long_ns;
    expect_reject(&c, "is not a namespace name");
    c = good_cfg();
    c.pod_selector.n = 1;
    c.pod_selector.keys = bad_key;
    expect_reject(&c, "\"a/b/c\" is not a label key");
    c.pod_selector.keys = bad_key2;
    expect_reject(&c, "is not a label key");
    c.pod_selector.keys = bad_key3;
    expect_reject(&c, "is not a label key");
    c.pod_selector.keys = keys;
    c.pod_selector.values = bad_val;
    expect_reject(&c, "\"-web\" is not a label value");
    c.pod_selector.values = bad_val2;
    expect_reject(&c, "is not a label value");
}

static void test_refresh_needs_start(void **state)
{
    struct opd_prof_k8s_scope_cfg c = good_cfg();
    struct opd_scope_filter f = {0};
    struct opd_prof_k8s_scope *s;

    (void)state;
    s = opd_prof_k8s_scope_create(&c, "/nonexistent-cgroup-root", "test/scope");
    assert_non_null(s);
    assert_int_equal(opd_prof_k8s_scope_refresh(s, &f), -ENOTCONN);
    /* A refresh that fails leaves the filter as it was: not scoped. */
    assert_false(f.pods_scoped);
    assert_false(opd_prof_filter_any(&f));
    opd_prof_k8s_scope_stop(s);
    opd_prof_k8s_scope_destroy(s);
    opd_prof_k8s_scope_destroy(NULL);
}

static char **paths(size_t n, const char *first)
{
    char **v = opd_calloc(n ? n : 1, sizeof(char *));

    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = opd_strdup(first);
        assert_non_null(v[i]);
    }
    return v;
}

static void test_filter_pods(void **state)
{
    struct opd_scope_filter f = {0};

    (void)state;
    assert_false(opd_prof_filter_any(&f));
    /* Scoped with no pod yet: the filter is active (nothing is sampled). */
    opd_prof_filter_set_pods(&f, paths(0, NULL), 0);
    assert_true(f.pods_scoped);
    assert_true(opd_prof_filter_any(&f));
    opd_prof_filter_set_pods(&f, paths(2, "/kubepods.slice/kubepods-podabc.slice"), 2);
    assert_int_equal(f.n_pods, 2);
    assert_string_equal(f.pods[1], "/kubepods.slice/kubepods-podabc.slice");
    opd_prof_filter_set_pods(&f, paths(1, "/kubepods/burstable/podxyz"), 1);
    assert_int_equal(f.n_pods, 1);
    opd_prof_filter_fini(&f);
    assert_null(f.pods);
    assert_int_equal(f.n_pods, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_accepts),      cmocka_unit_test(test_configured),
        cmocka_unit_test(test_check_rejects),      cmocka_unit_test(test_refresh_needs_start),
        cmocka_unit_test(test_filter_pods),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
