/* Folded-stack rendering: root-first order, inlined frames, kernel marks, unsymbolized
 * frames, separator escaping, and aggregation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "collector/engine/folded.h"
#include "otlp/profiles.h"

static int32_t fn(struct opd_dict *d, const char *name)
{
    struct opd_function f = {.name_strindex = opd_dict_string(d, name)};

    return opd_dict_function(d, &f);
}

static int32_t loc(struct opd_dict *d, const char *name, bool kernel)
{
    struct opd_line line = {.function_index = fn(d, name)};
    int32_t attr = opd_dict_attr_str(d, "profile.frame.type", kernel ? "kernel" : "native");
    struct opd_location l = {.lines = &line, .n_lines = 1, .attr_indices = &attr, .n_attr = 1};

    return opd_dict_location(d, &l);
}

static struct opd_profile *new_profile(struct opd_batch *b, const char *exe)
{
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_scope *s;

    assert_int_equal(opd_attrs_set_str(b, &r->attrs, "process.executable.name", exe), 0);
    s = opd_resource_add_scope(b, r, "otelprofd", "test");
    return opd_scope_add_profile(b, s);
}

static void add(struct opd_batch *b, struct opd_profile *p, const int32_t *locs, size_t n,
                int64_t count)
{
    struct opd_sample s = {.stack_index = opd_dict_stack(&b->dict, locs, n),
                           .values = &count, .n_values = 1};

    assert_int_equal(opd_profile_add_sample(b, p, &s), 0);
}

static void test_order_and_kernel_mark(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    struct opd_profile *p = new_profile(b, "app");
    /* Leaf first: a kernel frame interrupted bar, called by foo, called by main. */
    int32_t locs[] = {loc(d, "do_syscall_64", true), loc(d, "bar", false),
                      loc(d, "foo", false), loc(d, "main", false)};
    char buf[256];

    add(b, p, locs, 4, 3);
    assert_int_equal(opd_folded_stack(b, &b->resources[0], &p->samples[0], buf, sizeof(buf)),
                     (int)strlen("app;main;foo;bar;do_syscall_64_[k]"));
    assert_string_equal(buf, "app;main;foo;bar;do_syscall_64_[k]");
    opd_batch_unref(b);
}

static void test_inlined_and_unsymbolized(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    struct opd_profile *p = new_profile(b, "svc");
    struct opd_line lines[2] = {{.function_index = fn(d, "inner_inlined")},
                                {.function_index = fn(d, "outer")}};
    struct opd_location inl = {.lines = lines, .n_lines = 2};
    struct opd_mapping m = {.memory_start = 0x1000, .memory_limit = 0x9000,
                            .filename_strindex = opd_dict_string(d, "/usr/lib/libz.so.1")};
    struct opd_location raw = {.mapping_index = opd_dict_mapping(d, &m), .address = 0x4a2f};
    int32_t locs[] = {opd_dict_location(d, &raw), opd_dict_location(d, &inl),
                      loc(d, "a;b", false)};
    char buf[256];

    add(b, p, locs, 3, 1);
    opd_folded_stack(b, &b->resources[0], &p->samples[0], buf, sizeof(buf));
    /* Within one location the caller comes first; ';' in a name cannot split a frame. */
    assert_string_equal(buf, "svc;a:b;outer;inner_inlined;libz.so.1+0x4a2f");
    opd_batch_unref(b);
}

static void test_collect_aggregates(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    struct opd_profile *p = new_profile(b, "app");
    int32_t s1[] = {loc(d, "leaf1", false), loc(d, "main", false)};
    int32_t s2[] = {loc(d, "leaf2", false), loc(d, "main", false)};
    struct opd_folded f = {0};

    add(b, p, s1, 2, 2);
    add(b, p, s2, 2, 7);
    add(b, p, s1, 2, 4);
    assert_int_equal(opd_folded_collect(&f, b), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.v[0].stack, "app;main;leaf2");
    assert_int_equal(f.v[0].count, 7);
    assert_string_equal(f.v[1].stack, "app;main;leaf1");
    assert_int_equal(f.v[1].count, 6);
    opd_folded_fini(&f);
    opd_batch_unref(b);
}

static void test_truncation_reported(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    struct opd_profile *p = new_profile(b, "app");
    int32_t locs[] = {loc(d, "a_rather_long_function_name", false), loc(d, "main", false)};
    char buf[16];

    add(b, p, locs, 2, 1);
    assert_int_equal(opd_folded_stack(b, &b->resources[0], &p->samples[0], buf, sizeof(buf)),
                     -ENOSPC);
    assert_true(strlen(buf) < sizeof(buf));
    opd_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_kernel_mark),
        cmocka_unit_test(test_inlined_and_unsymbolized),
        cmocka_unit_test(test_collect_aggregates),
        cmocka_unit_test(test_truncation_reported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
