/* Request splitting: parts stay under the bound, every part is a valid request on its
 * own with a minimal dictionary, and together they hold exactly the original samples. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/exporterhelper/split.h"
#include "collector/mem.h"
#include "otlp/profiles.h"
#include "tests/unit/test_otlp_fixture.h"

/* One line per sample: resource pid, resolved stack (addresses and function names),
 * attribute key=values, values — independent of dictionary indices. */
static void describe(const struct opd_batch *b, char ***lines, size_t *n, size_t *cap)
{
    const struct opd_dict *d = &b->dict;

    for (size_t i = 0; i < b->n_resources; i++) {
        const struct opd_value *pid = opd_attrs_get(&b->resources[i].attrs, "process.pid");
        for (size_t j = 0; j < b->resources[i].n_scopes; j++) {
            const struct opd_scope *s = &b->resources[i].scopes[j];
            for (size_t k = 0; k < s->n_profiles; k++) {
                const struct opd_profile *p = &s->profiles[k];
                for (size_t q = 0; q < p->n_samples; q++) {
                    const struct opd_sample *sm = &p->samples[q];
                    const struct opd_stack *st = &d->stacks[sm->stack_index];
                    char buf[8192];
                    size_t o = (size_t)snprintf(buf, sizeof(buf), "%lld|%s|",
                                                pid ? (long long)pid->u.i : -1LL,
                                                opd_dict_str(d, p->sample_type.type_strindex));
                    for (size_t l = 0; l < st->n && o < sizeof(buf) - 200; l++) {
                        const struct opd_location *loc = &d->locations[st->location_indices[l]];
                        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%llx",
                                              (unsigned long long)loc->address);
                        for (size_t z = 0; z < loc->n_lines; z++)
                            o += (size_t)snprintf(
                                buf + o, sizeof(buf) - o, ":%s",
                                opd_dict_str(
                                    d, d->functions[loc->lines[z].function_index].name_strindex));
                        buf[o++] = ';';
                    }
                    for (size_t a = 0; a < sm->n_attr; a++) {
                        const struct opd_attribute *at = &d->attributes[sm->attr_indices[a]];
                        o += (size_t)snprintf(
                            buf + o, sizeof(buf) - o, "|%s=%s", opd_dict_str(d, at->key_strindex),
                            at->value.type == OPD_VAL_STR ? at->value.u.str : "?");
                    }
                    for (size_t v = 0; v < sm->n_values; v++)
                        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "|v%lld",
                                              (long long)sm->values[v]);
                    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "|t%zu", sm->n_timestamps);
                    if (*n == *cap) {
                        *cap = *cap ? *cap * 2 : 64;
                        *lines = realloc(*lines, *cap * sizeof(char *));
                    }
                    (*lines)[(*n)++] = strdup(buf);
                }
            }
        }
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct collect {
    size_t max;
    int parts;
    uint64_t items;
    char **lines;
    size_t n, cap;
};

static int emit(void *arg, uint8_t *buf, size_t len, uint64_t items)
{
    struct collect *c = arg;
    char err[256];
    struct opd_batch *b = opd_proto_decode(buf, len, err, sizeof(err));

    if (!b)
        fail_msg("part %d does not decode: %s", c->parts, err);
    if (opd_batch_check(b, err, sizeof(err)))
        fail_msg("part %d breaks an invariant: %s", c->parts, err);
    if (len > c->max && opd_split_sample_msgs(b) > 1)
        fail_msg("part %d is %zu bytes, over %zu", c->parts, len, c->max);
    assert_int_equal(items, opd_batch_sample_count(b));
    /* Minimal dictionary: never more stacks or locations than the part can reference. */
    assert_true(b->dict.n_stacks <= opd_split_sample_msgs(b) + 1);
    describe(b, &c->lines, &c->n, &c->cap);
    c->items += items;
    c->parts++;
    opd_batch_unref(b);
    free(buf);
    return 0;
}

static void check_split(struct opd_batch *b, size_t max, int want_min_parts)
{
    struct collect c = {.max = max};
    char **orig = NULL;
    size_t n = 0, cap = 0;
    int rc;

    rc = opd_split_encode(b, max, 0, emit, &c);
    assert_true(rc >= want_min_parts);
    assert_int_equal(rc, c.parts);
    assert_int_equal(c.items, opd_batch_sample_count(b));
    describe(b, &orig, &n, &cap);
    assert_int_equal(n, c.n);
    qsort(orig, n, sizeof(char *), cmp);
    qsort(c.lines, c.n, sizeof(char *), cmp);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(orig[i], c.lines[i]);
        free(orig[i]);
        free(c.lines[i]);
    }
    free(orig);
    free(c.lines);
}

static void test_no_split_when_small(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();

    check_split(b, 1 << 20, 1);
    opd_batch_unref(b);
}

static void test_split_synthetic(void **state)
{
    struct opd_batch *b = otlp_fixture_synthetic(3000, 400, 24);
    uint8_t *buf;
    size_t len;

    assert_non_null(b);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    free(buf);
    check_split(b, len / 7, 8);
    check_split(b, 4096, 2);
    opd_batch_unref(b);
}

static void test_split_fixture_per_sample(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();

    /* A tiny bound forces one sample per part, across resources and profiles. */
    check_split(b, 16, (int)opd_split_sample_msgs(b));
    opd_batch_unref(b);
}

static int emit_count(void *arg, uint8_t *buf, size_t len, uint64_t items)
{
    (*(int *)arg)++;
    free(buf);
    return 0;
}

static void test_split_nomem(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();
    int rc = -ENOMEM;

    /* Every allocation failing in turn: a clean -ENOMEM each time, never a crash or a
     * leak (the sanitizer build checks the latter), until the budget suffices. */
    for (long i = 0; i < 5000 && rc < 0; i++) {
        int parts = 0;
        opd_mem_fail_countdown = i;
        rc = opd_split_encode(b, 64, 0, emit_count, &parts);
        opd_mem_fail_countdown = -1;
        if (rc < 0)
            assert_int_equal(rc, -ENOMEM);
        else
            assert_int_equal(rc, (int)opd_split_sample_msgs(b));
    }
    assert_true(rc > 0);
    opd_batch_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_split_when_small),
        cmocka_unit_test(test_split_synthetic),
        cmocka_unit_test(test_split_fixture_per_sample),
        cmocka_unit_test(test_split_nomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
