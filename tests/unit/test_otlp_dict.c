/* Dictionary interning, batch lists, attributes, check, merge and clone, with fault
 * injection over every allocation of building, merging and cloning. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "collector/mem.h"
#include "otlp/profiles.h"
#include "tests/unit/test_otlp_fixture.h"

static void test_zero_entries(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    static const struct opd_function zf;
    static const struct opd_mapping zm;
    static const struct opd_location zl;
    static const struct opd_attribute za;
    static const uint8_t zid[16];

    assert_non_null(b);
    assert_int_equal(d->n_strings, 1);
    assert_string_equal(d->strings[0], "");
    assert_int_equal(d->n_functions, 1);
    assert_int_equal(d->n_mappings, 1);
    assert_int_equal(d->n_locations, 1);
    assert_int_equal(d->n_stacks, 1);
    assert_int_equal(d->n_attributes, 1);
    assert_int_equal(d->n_links, 1);
    assert_false(d->links[0].set);
    /* the zero value of every table interns to index 0 */
    assert_int_equal(opd_dict_string(d, ""), 0);
    assert_int_equal(opd_dict_string(d, NULL), 0);
    assert_int_equal(opd_dict_function(d, &zf), 0);
    assert_int_equal(opd_dict_mapping(d, &zm), 0);
    assert_int_equal(opd_dict_location(d, &zl), 0);
    assert_int_equal(opd_dict_stack(d, NULL, 0), 0);
    assert_int_equal(opd_dict_attribute(d, &za), 0);
    assert_int_equal(opd_dict_link(d, zid, zid), 0);
    assert_int_equal(d->n_strings, 1);
    assert_int_equal(opd_batch_check(b, NULL, 0), 0);
    opd_batch_unref(b);
}

static void test_strings_no_dups(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    char buf[32], src[] = "mutable";
    int32_t idx[5000];
    int32_t m;
    size_t i;

    for (i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "sym_%zu", i);
        idx[i] = opd_dict_string(d, buf);
        assert_int_equal(idx[i], (int32_t)i + 1);
    }
    for (i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "sym_%zu", i);
        assert_int_equal(opd_dict_string(d, buf), idx[i]);
        assert_string_equal(opd_dict_str(d, idx[i]), buf);
    }
    assert_int_equal(d->n_strings, 5001);
    /* stringn: length-limited, and an embedded NUL ends the string */
    assert_int_equal(opd_dict_stringn(d, "sym_12345", 5), idx[1]);
    assert_int_equal(opd_dict_stringn(d, "sym_7\0junk", 10), idx[7]);
    /* copied into the arena: changing the caller's buffer changes nothing */
    m = opd_dict_string(d, src);
    src[0] = 'X';
    assert_string_equal(opd_dict_str(d, m), "mutable");
    assert_int_equal(opd_dict_string(d, "mutable"), m);
    assert_string_equal(opd_dict_str(d, -1), "");
    assert_string_equal(opd_dict_str(d, 1 << 30), "");
    opd_batch_unref(b);
}

static void test_entries_no_dups(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d = &b->dict;
    struct opd_function f = {.name_strindex = opd_dict_string(d, "main")};
    int32_t attrs[2], locs[3];
    struct opd_line lines[2] = {{.line = 10}, {.line = 20}};
    struct opd_mapping m = {.memory_start = 0x1000, .memory_limit = 0x2000};
    struct opd_location l = {0};
    struct opd_attribute a = {0};
    uint8_t tid[16] = {1}, sid[8] = {2};
    int32_t fi, fi2, mi, li, li2, si;

    fi = opd_dict_function(d, &f);
    assert_true(fi > 0);
    assert_int_equal(opd_dict_function(d, &f), fi);
    f.start_line = 3;
    fi2 = opd_dict_function(d, &f);
    assert_true(fi2 > fi);

    attrs[0] = opd_dict_attr_str(d, "profile.frame.type", "native");
    attrs[1] = opd_dict_attr_int(d, "thread.id", 7);
    assert_true(attrs[0] > 0 && attrs[1] > attrs[0]);
    assert_int_equal(opd_dict_attr_str(d, "profile.frame.type", "native"), attrs[0]);
    assert_int_not_equal(opd_dict_attr_str(d, "profile.frame.type", "kernel"), attrs[0]);
    assert_int_equal(opd_dict_attr_int(d, "thread.id", 7), attrs[1]);
    /* an int and a string with the same text are different values */
    assert_int_not_equal(opd_dict_attr_str(d, "thread.id", "7"), attrs[1]);
    a.key_strindex = opd_dict_string(d, "ratio");
    a.value.type = OPD_VAL_DOUBLE;
    a.value.u.d = 0.5;
    assert_int_equal(opd_dict_attribute(d, &a), opd_dict_attribute(d, &a));
    assert_string_equal(d->attributes[attrs[0]].value.u.str, "native");

    m.attr_indices = attrs;
    m.n_attr = 1;
    mi = opd_dict_mapping(d, &m);
    assert_int_equal(opd_dict_mapping(d, &m), mi);
    m.n_attr = 2;
    assert_int_not_equal(opd_dict_mapping(d, &m), mi);

    lines[0].function_index = fi;
    lines[1].function_index = fi2;
    l.mapping_index = mi;
    l.address = 0x1234;
    l.lines = lines;
    l.n_lines = 2;
    li = opd_dict_location(d, &l);
    assert_int_equal(opd_dict_location(d, &l), li);
    lines[1].line = 21; /* a different inline frame is a different location */
    li2 = opd_dict_location(d, &l);
    assert_int_not_equal(li2, li);
    assert_int_equal(d->locations[li].lines[1].line, 20);

    locs[0] = li;
    locs[1] = li2;
    locs[2] = li;
    si = opd_dict_stack(d, locs, 3);
    assert_int_equal(opd_dict_stack(d, locs, 3), si);
    assert_int_not_equal(opd_dict_stack(d, locs, 2), si);
    locs[0] = 0; /* interned copy is independent of the caller's array */
    assert_int_equal(d->stacks[si].location_indices[0], li);

    assert_int_equal(opd_dict_link(d, tid, sid), 1);
    assert_int_equal(opd_dict_link(d, tid, sid), 1);
    assert_true(d->links[1].set);
    assert_int_equal(opd_batch_check(b, NULL, 0), 0);
    opd_batch_unref(b);
}

static void test_attrs_and_counts(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();
    struct opd_resource *r;
    const struct opd_value *v;

    assert_non_null(b);
    r = &b->resources[0];
    v = opd_attrs_get(&r->attrs, "process.pid");
    assert_non_null(v);
    assert_int_equal(v->type, OPD_VAL_INT);
    assert_int_equal(v->u.i, 4242);
    assert_int_equal(opd_attrs_set_str(b, &r->attrs, "process.pid", "x"), 0);
    v = opd_attrs_get(&r->attrs, "process.pid");
    assert_int_equal(v->type, OPD_VAL_STR);
    assert_int_equal(r->attrs.n, 4);
    assert_true(opd_attrs_remove(&r->attrs, "process.pid"));
    assert_false(opd_attrs_remove(&r->attrs, "process.pid"));
    assert_null(opd_attrs_get(&r->attrs, "process.pid"));
    assert_int_equal(r->attrs.n, 3);
    /* (1 + 1) + 1 per process: the sum of the values of each sample */
    assert_int_equal(opd_batch_sample_count(b), 6);
    assert_int_equal(opd_batch_profile_count(b), 2);
    r->scopes[0].profiles[0].samples[0].values[0] = 5;
    assert_int_equal(opd_batch_sample_count(b), 10);
    /* timestamps only: each timestamp counts one */
    r->scopes[0].profiles[0].samples[0].n_values = 0;
    assert_int_equal(opd_batch_sample_count(b), 6);
    assert_int_equal(opd_batch_ref(b), b);
    opd_batch_unref(b);
    opd_batch_unref(b);
    opd_batch_unref(NULL);
}

static void test_check_rejects(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();
    struct opd_sample *s;
    char err[256];
    int32_t saved, dup[2];

    assert_non_null(b);
    if (opd_batch_check(b, err, sizeof(err)))
        fail_msg("%s", err);
    s = &b->resources[1].scopes[0].profiles[0].samples[0];

    saved = s->stack_index;
    s->stack_index = 1000;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "stack"));
    s->stack_index = saved;

    saved = s->attr_indices[0];
    s->attr_indices[0] = -1;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "attribute index -1"));
    s->attr_indices[0] = saved;

    /* two thread.name values on one sample: keys must be unique */
    dup[0] = opd_dict_attr_str(&b->dict, "thread.name", "a");
    dup[1] = opd_dict_attr_str(&b->dict, "thread.name", "b");
    {
        int32_t *old = s->attr_indices;

        s->attr_indices = dup;
        s->n_attr = 2;
        assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "thread.name"));
        s->attr_indices = old;
        s->n_attr = 1;
    }

    s->n_values = 0;
    s->n_timestamps = 0;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "neither values nor timestamps"));
    s->n_values = 1;
    s->n_timestamps = 1;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);

    b->dict.locations[1].mapping_index = 99;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "location[1] mapping"));
    b->dict.locations[1].mapping_index = 0;

    b->dict.functions[0].start_line = 1;
    assert_int_equal(opd_batch_check(b, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "function_table[0]"));
    b->dict.functions[0].start_line = 0;
    assert_int_equal(opd_batch_check(b, NULL, 0), 0);
    opd_batch_unref(b);
}

/* Name of the function of the leaf frame of a sample's stack. */
static const char *leaf_name(const struct opd_batch *b, const struct opd_sample *s)
{
    const struct opd_dict *d = &b->dict;
    const struct opd_stack *st = &d->stacks[s->stack_index];
    const struct opd_location *l = &d->locations[st->location_indices[0]];

    if (!l->n_lines)
        return "";
    return opd_dict_str(d, d->functions[l->lines[0].function_index].name_strindex);
}

static void test_merge(void **state)
{
    struct opd_batch *a = otlp_fixture_batch(), *b = otlp_fixture_batch();
    struct opd_batch *c = otlp_fixture_synthetic(50, 10, 8);
    size_t strings, stacks, locations, i;
    char err[256];

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    strings = a->dict.n_strings;
    stacks = a->dict.n_stacks;
    locations = a->dict.n_locations;
    /* identical dictionaries: nothing new is interned, resources are appended */
    assert_int_equal(opd_batch_merge(a, b), 0);
    assert_int_equal(a->dict.n_strings, strings);
    assert_int_equal(a->dict.n_stacks, stacks);
    assert_int_equal(a->dict.n_locations, locations);
    assert_int_equal(a->n_resources, 4);
    assert_int_equal(opd_batch_sample_count(a), 12);
    for (i = 0; i < 2; i++)
        assert_int_equal(a->resources[i + 2].scopes[0].profiles[0].samples[0].stack_index,
                         a->resources[i].scopes[0].profiles[0].samples[0].stack_index);
    /* overlapping strings ("samples", "count", ...) but new stacks */
    assert_int_equal(opd_batch_merge(a, c), 0);
    assert_int_equal(opd_batch_check(a, err, sizeof(err)), 0);
    assert_int_equal(opd_batch_sample_count(a), 12 + 50);
    assert_int_equal(a->dict.n_stacks, stacks + 10);
    assert_int_equal(a->dict.n_strings, strings + c->dict.n_strings - 1 - 5);
    /* no duplicates in any table after merging */
    for (i = 0; i < a->dict.n_strings; i++)
        assert_int_equal(opd_dict_string(&a->dict, a->dict.strings[i]), (int32_t)i);
    for (i = 0; i < a->dict.n_stacks; i++)
        assert_int_equal(
            opd_dict_stack(&a->dict, a->dict.stacks[i].location_indices, a->dict.stacks[i].n),
            (int32_t)i);
    /* samples keep their meaning: same leaf function as in the source */
    for (i = 0; i < 50; i++)
        assert_string_equal(leaf_name(a, &a->resources[4].scopes[0].profiles[0].samples[i]),
                            leaf_name(c, &c->resources[0].scopes[0].profiles[0].samples[i]));
    assert_string_equal(
        opd_dict_str(&a->dict, a->resources[4].scopes[0].profiles[0].sample_type.type_strindex),
        "samples");
    opd_batch_unref(a);
    opd_batch_unref(b);
    opd_batch_unref(c);
}

static void test_clone(void **state)
{
    struct opd_batch *a = otlp_fixture_batch(), *c;

    assert_non_null(a);
    a->readonly = true;
    a->resources[0].scopes[0].profiles[0].has_profile_id = true;
    memset(a->resources[0].scopes[0].profiles[0].profile_id, 0xab, 16);
    c = opd_batch_clone(a);
    assert_non_null(c);
    assert_false(c->readonly);
    assert_int_equal(atomic_load(&c->refs), 1);
    otlp_assert_batch_equal(a, c);
    opd_batch_unref(a);
    /* the clone owns its memory */
    assert_int_equal(opd_batch_check(c, NULL, 0), 0);
    opd_batch_unref(c);
}

static void test_fault_injection(void **state)
{
    struct opd_batch *ref = otlp_fixture_batch(), *b, *src = otlp_fixture_synthetic(20, 5, 6);
    long n;
    int rc, failures = 0;

    assert_non_null(ref);
    assert_non_null(src);
    for (n = 0;; n++) {
        opd_mem_fail_countdown = n;
        b = otlp_fixture_batch();
        opd_mem_fail_countdown = -1;
        if (b) {
            otlp_assert_batch_equal(ref, b);
            opd_batch_unref(b);
            break;
        }
        assert_int_equal(errno, ENOMEM);
        failures++;
    }
    assert_true(failures > 20);
    for (n = 0;; n++) {
        b = otlp_fixture_batch();
        assert_non_null(b);
        opd_mem_fail_countdown = n;
        rc = opd_batch_merge(b, src);
        opd_mem_fail_countdown = -1;
        opd_batch_unref(b);
        if (!rc)
            break;
        assert_int_equal(rc, -ENOMEM);
    }
    assert_true(n > 20);
    for (n = 0;; n++) {
        opd_mem_fail_countdown = n;
        b = opd_batch_clone(ref);
        opd_mem_fail_countdown = -1;
        if (b) {
            otlp_assert_batch_equal(ref, b);
            opd_batch_unref(b);
            break;
        }
        assert_int_equal(errno, ENOMEM);
    }
    opd_batch_unref(ref);
    opd_batch_unref(src);
}

struct shared {
    struct opd_batch *b;
    const uint8_t *pb;
    size_t pb_len;
    const char *js;
    int failures;
};

/* Exporters share one read-only batch from several threads: encoding must not write to
 * it, and references taken and dropped concurrently must balance. */
static void *reader(void *arg)
{
    struct shared *sh = arg;
    uint8_t *pb;
    char *js;
    size_t len;
    int i;

    for (i = 0; i < 20; i++) {
        struct opd_batch *mine = opd_batch_ref(sh->b);

        if (opd_proto_encode(mine, &pb, &len) || len != sh->pb_len || memcmp(pb, sh->pb, len))
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
        free(pb);
        if (opd_json_encode(mine, &js, &len) || strcmp(js, sh->js))
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
        free(js);
        opd_batch_unref(mine);
    }
    return NULL;
}

static void test_shared_readonly(void **state)
{
    struct shared sh = {.b = otlp_fixture_synthetic(300, 30, 10)};
    pthread_t th[4];
    uint8_t *pb;
    char *js;
    size_t len;
    int i;

    assert_non_null(sh.b);
    sh.b->readonly = true;
    assert_int_equal(opd_proto_encode(sh.b, &pb, &sh.pb_len), 0);
    assert_int_equal(opd_json_encode(sh.b, &js, &len), 0);
    sh.pb = pb;
    sh.js = js;
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);
    for (i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sh.failures, 0);
    assert_int_equal(atomic_load(&sh.b->refs), 1);
    free(pb);
    free(js);
    opd_batch_unref(sh.b);
}

/* Samples of one identity (stack, link, attribute set in any order) with values only are
 * summed into the first; with timestamps, or of another identity, they stay. */
static void test_merge_samples(void **state)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_scope *s = opd_resource_add_scope(b, r, "otelprofd", NULL);
    struct opd_profile *p = opd_scope_add_profile(b, s);
    int32_t a = opd_dict_attr_str(&b->dict, "thread.name", "a");
    int32_t c = opd_dict_attr_str(&b->dict, "k", "c");
    int32_t ac[2] = {a, c}, ca[2] = {c, a};
    int64_t v3 = 3, v4 = 4, v5 = 5, v6 = 6;
    uint64_t ts = 1;
    struct opd_sample x = {
        .stack_index = 1, .values = &v3, .n_values = 1, .attr_indices = ac, .n_attr = 2};

    (void)state;
    assert_int_equal(opd_profile_add_sample(b, p, &x), 0);
    x.values = &v4;
    x.attr_indices = ca; /* the same set */
    assert_int_equal(opd_profile_add_sample(b, p, &x), 0);
    x.stack_index = 2; /* another stack */
    x.values = &v5;
    assert_int_equal(opd_profile_add_sample(b, p, &x), 0);
    x.stack_index = 1;
    x.values = &v6;
    x.timestamps = &ts; /* timestamped: left alone */
    x.n_timestamps = 1;
    assert_int_equal(opd_profile_add_sample(b, p, &x), 0);
    assert_int_equal(opd_profile_merge_samples(p), 1);
    assert_int_equal(p->n_samples, 3);
    assert_int_equal(p->samples[0].values[0], 7);
    assert_int_equal(p->samples[1].values[0], 5);
    assert_int_equal(p->samples[2].values[0], 6);
    assert_int_equal(opd_profile_merge_samples(p), 0);
    opd_batch_unref(b);
}

static void test_arena(void **state)
{
    struct opd_arena a;
    char *s, *big;
    void *p;
    size_t i;

    opd_arena_init(&a);
    for (i = 0; i < 10000; i++) {
        p = opd_arena_alloc(&a, i % 37 + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
    }
    big = opd_arena_alloc(&a, 5 << 20);
    assert_non_null(big);
    memset(big, 1, 5 << 20);
    s = opd_arena_strndup(&a, "abcdef", 3);
    assert_string_equal(s, "abc");
    assert_null(opd_arena_strdup(&a, NULL));
    assert_string_equal(opd_arena_strdup(&a, ""), "");
    opd_arena_fini(&a);
    opd_arena_fini(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_entries),    cmocka_unit_test(test_strings_no_dups),
        cmocka_unit_test(test_entries_no_dups), cmocka_unit_test(test_attrs_and_counts),
        cmocka_unit_test(test_check_rejects),   cmocka_unit_test(test_merge),
        cmocka_unit_test(test_clone),           cmocka_unit_test(test_fault_injection),
        cmocka_unit_test(test_arena),           cmocka_unit_test(test_shared_readonly),
        cmocka_unit_test(test_merge_samples),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
