/* Config subsystem tests: node tree and positions, env expansion, merge, every option
 * type's parser and binder, the document loader and graph rules, print-config round
 * trips, fault injection, and the broken/good fixture files under tests/data/config. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/mem.h"
#include "config/config.h"
#include "config/env.h"
#include "config/errors.h"
#include "config/node.h"
#include "config/parse.h"
#include "config/suggest.h"
#include "tests/unit/test_config_fake.h"

#define SEC (1000 * 1000 * 1000LL)

/* Printed errors of errs as one string (caller frees). */
static char *errs_text(const struct opd_cfg_errors *errs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    opd_cfg_errors_print(errs, f);
    fclose(f);
    return buf;
}

/* Compares two texts; on a mismatch prints both in full and fails. */
static void check_text(const char *what, const char *want, const char *got)
{
    if (strcmp(want, got) == 0)
        return;
    fprintf(stderr, "%s\n--- expected:\n%s--- got:\n%s---\n", what, want, got);
    fail();
}

/* True when one of the collected errors has exactly this message. */
static bool has_message(const struct opd_cfg_errors *errs, const char *msg)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(errs->v[i].message, msg) == 0)
            return true;
    return false;
}

static struct opd_config *load_str(const char *yaml, struct opd_cfg_errors *errs)
{
    return opd_config_load_buffer_ex("t.yaml", yaml, strlen(yaml), fake_lookup, fake_list, errs);
}

/* Loads yaml and asserts it fails with exactly the expected printed errors. */
static void expect_errors(const char *yaml, const char *expected)
{
    struct opd_cfg_errors errs;
    struct opd_config *c;
    char *got;

    opd_cfg_errors_init(&errs);
    c = load_str(yaml, &errs);
    got = errs_text(&errs);
    assert_null(c);
    check_text(yaml, expected, got);
    free(got);
    opd_cfg_errors_fini(&errs);
}

static struct opd_config *expect_ok(const char *yaml)
{
    struct opd_cfg_errors errs;
    struct opd_config *c;
    char *got;

    opd_cfg_errors_init(&errs);
    c = load_str(yaml, &errs);
    got = errs_text(&errs);
    if (!c)
        fail_msg("for:\n%s\nunexpected errors:\n%s", yaml, got);
    free(got);
    opd_cfg_errors_fini(&errs);
    return c;
}

#define MINIMAL_SERVICE                                                                            \
    "service:\n"                                                                                   \
    "  pipelines:\n"                                                                               \
    "    profiles:\n"                                                                              \
    "      receivers: [fakerecv]\n"                                                                \
    "      exporters: [debug]\n"

/* ---- node tree ---------------------------------------------------------------------- */

static void test_node_positions(void **state)
{
    const char *doc = "a: 1\n"
                      "b:\n"
                      "  c: [x, \"y\"]\n"
                      "  d:\n"
                      "    - k: v\n"
                      "e:\n"
                      "f: ~\n"
                      "g: ''\n";
    struct opd_cfg_errors errs;
    struct opd_node *root;
    const struct opd_node_pair *p;
    const struct opd_node *b, *c, *d;

    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse("n.yaml", doc, strlen(doc), &errs);
    assert_non_null(root);
    assert_int_equal(root->type, OPD_NODE_MAP);
    assert_int_equal(root->n, 5);
    p = opd_node_map_find(root, "a");
    assert_non_null(p);
    assert_string_equal(p->key_pos.file, "n.yaml");
    assert_int_equal(p->key_pos.line, 1);
    assert_int_equal(p->key_pos.col, 1);
    assert_int_equal(p->value->type, OPD_NODE_SCALAR);
    assert_string_equal(p->value->text, "1");
    assert_int_equal(p->value->pos.line, 1);
    assert_int_equal(p->value->pos.col, 4);
    b = opd_node_map_get(root, "b");
    assert_int_equal(b->type, OPD_NODE_MAP);
    c = opd_node_map_get(b, "c");
    assert_int_equal(c->type, OPD_NODE_SEQ);
    assert_int_equal(c->n, 2);
    assert_string_equal(c->items[1]->text, "y");
    assert_int_equal(c->items[1]->pos.line, 3);
    assert_int_equal(c->items[1]->pos.col, 10);
    p = opd_node_map_find(b, "d");
    assert_int_equal(p->key_pos.line, 4);
    assert_int_equal(p->key_pos.col, 3);
    d = p->value;
    assert_int_equal(d->type, OPD_NODE_SEQ);
    assert_int_equal(d->items[0]->type, OPD_NODE_MAP);
    assert_int_equal(opd_node_map_find(d->items[0], "k")->key_pos.line, 5);
    assert_int_equal(opd_node_map_find(d->items[0], "k")->key_pos.col, 7);
    assert_int_equal(opd_node_map_get(root, "e")->type, OPD_NODE_NULL);
    assert_int_equal(opd_node_map_get(root, "f")->type, OPD_NODE_NULL);
    /* A quoted empty string is a value, not a null. */
    assert_int_equal(opd_node_map_get(root, "g")->type, OPD_NODE_SCALAR);
    assert_string_equal(opd_node_map_get(root, "g")->text, "");
    assert_null(opd_node_map_get(root, "zz"));
    assert_int_equal(opd_cfg_errors_count(&errs), 0);
    opd_node_destroy(root);
    opd_cfg_errors_fini(&errs);
}

static void parse_fails(const char *doc, const char *expected)
{
    struct opd_cfg_errors errs;
    struct opd_node *root;
    char *got;

    opd_cfg_errors_init(&errs);
    errno = 0;
    root = opd_yaml_parse("p.yaml", doc, strlen(doc), &errs);
    got = errs_text(&errs);
    assert_null(root);
    check_text(doc, expected, got);
    assert_int_equal(errno, EINVAL);
    free(got);
    opd_cfg_errors_fini(&errs);
}

static void test_node_errors(void **state)
{
    parse_fails("a:\n  b: 1\n  b: 2\n", "p.yaml:3:3: a::b: duplicate key (first defined at 2:3)\n");
    parse_fails("a:\n\tb: 1\n", "p.yaml:2:1: found character that cannot start any token "
                                "(while scanning for the next token at 2:1)\n");
    parse_fails("a: \"abc\nb: 1\n", "p.yaml:3:1: found unexpected end of stream (while "
                                    "scanning a quoted scalar at 1:4)\n");
    parse_fails("a: *nope\n", "p.yaml:1:4: a: undefined alias \"nope\"\n");
    parse_fails("? [a]\n: 1\n", "p.yaml:1:3: map keys must be strings, not maps or lists\n");
    parse_fails("a: 1\n---\nb: 2\n",
                "p.yaml:2:1: more than one YAML document in a file is not supported\n");
    parse_fails("a: [1, \"${env:}\"]\n", "p.yaml:1:8: a::1: empty variable name in \"${env:}\"\n");
    parse_fails("a: \"\\0\"\n", "p.yaml:1:4: a: value contains a NUL character\n");
    parse_fails("a: \xff\n", "p.yaml:1:4: invalid input: invalid leading UTF-8 octet "
                             "(byte 0xff)\n");
}

static void test_node_no_env(void **state)
{
    const char *doc = "a: ${env:HOME} $$ ${broken\n";
    struct opd_cfg_errors errs;
    struct opd_node *root;

    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse_ex("r.yaml", doc, strlen(doc), OPD_YAML_NO_ENV, &errs);
    assert_non_null(root);
    assert_string_equal(opd_node_map_get(root, "a")->text, "${env:HOME} $$ ${broken");
    opd_node_destroy(root);
    assert_null(opd_yaml_parse("r.yaml", doc, strlen(doc), &errs));
    assert_int_equal(errs.n, 1);
    opd_cfg_errors_fini(&errs);
}

static void test_node_aliases(void **state)
{
    const char *doc = "base: &b {x: 1, y: [p, q]}\n"
                      "copy: *b\n";
    struct opd_cfg_errors errs;
    struct opd_node *root;
    const struct opd_node *copy;
    char bomb[4096];
    size_t off = 0;

    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse("a.yaml", doc, strlen(doc), &errs);
    assert_non_null(root);
    copy = opd_node_map_get(root, "copy");
    assert_int_equal(copy->type, OPD_NODE_MAP);
    assert_int_equal(copy->pos.line, 2);
    assert_string_equal(opd_node_map_get(copy, "x")->text, "1");
    assert_int_equal(opd_node_map_get(copy, "y")->n, 2);
    opd_node_destroy(root);

    /* Nine levels of ten aliases each would be 10^9 nodes: refused, not expanded. */
    off += (size_t)snprintf(bomb + off, sizeof(bomb) - off, "l0: &l0 [x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++)
        off += (size_t)snprintf(bomb + off, sizeof(bomb) - off,
                                "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, "
                                "*l%d, *l%d]\n",
                                i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                                i - 1);
    root = opd_yaml_parse("bomb.yaml", bomb, off, &errs);
    assert_null(root);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(opd_cfg_errors_count(&errs), 1);
    assert_non_null(strstr(errs.v[0].message, "document too large"));
    opd_cfg_errors_fini(&errs);
}

static void test_node_merge_keys(void **state)
{
    const char *doc = "base: &b {x: 1, y: 2}\n"
                      "other: &o {y: 20, z: 30}\n"
                      "m:\n"
                      "  <<: [*b, *o]\n"
                      "  x: 10\n"
                      "'<<': literal\n"
                      "inl: {<<: &in {k: v}, j: w}\n"
                      "later: *in\n";
    struct opd_cfg_errors errs;
    struct opd_node *root;
    const struct opd_node *m, *inl;

    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse("m.yaml", doc, strlen(doc), &errs);
    assert_non_null(root);
    m = opd_node_map_get(root, "m");
    assert_int_equal(m->n, 3);
    /* Explicit keys win over merged ones, earlier sources over later ones. */
    assert_string_equal(opd_node_map_get(m, "x")->text, "10");
    assert_string_equal(opd_node_map_get(m, "y")->text, "2");
    assert_string_equal(opd_node_map_get(m, "z")->text, "30");
    assert_null(opd_node_map_find(m, "<<"));
    /* A quoted "<<" is an ordinary key. */
    assert_string_equal(opd_node_map_get(root, "<<")->text, "literal");
    inl = opd_node_map_get(root, "inl");
    assert_int_equal(inl->n, 2);
    assert_string_equal(opd_node_map_get(inl, "k")->text, "v");
    /* An anchor defined inside a merge value stays usable after the merge. */
    assert_string_equal(opd_node_map_get(opd_node_map_get(root, "later"), "k")->text, "v");
    opd_node_destroy(root);
    opd_cfg_errors_fini(&errs);

    parse_fails("a:\n  m: {<<: 5}\n",
                "p.yaml:2:11: a::m: the value of a merge key (<<) must be a map or a list of "
                "maps\n");
    parse_fails("a: [{<<: [{x: 1}, y]}]\n",
                "p.yaml:1:10: a::0: the value of a merge key (<<) must be a map or a list of "
                "maps\n");
}

static void test_error_format(void **state)
{
    struct opd_cfg_pos pos = {.file = "f.yaml", .line = 3, .col = 7};
    struct opd_cfg_errors errs;
    char buf[64];
    char *got;

    opd_cfg_errors_init(&errs);
    assert_int_equal(opd_cfg_errors_add(&errs, &pos, "a::b", "bad %d", 5), 0);
    assert_int_equal(opd_cfg_errors_add(&errs, &pos, NULL, "no path"), 0);
    assert_int_equal(opd_cfg_errors_add(&errs, NULL, "x", "no place"), 0);
    assert_string_equal(opd_cfg_error_format(&errs.v[0], buf, sizeof(buf)),
                        "f.yaml:3:7: a::b: bad 5");
    assert_string_equal(opd_cfg_error_format(&errs.v[1], buf, sizeof(buf)), "f.yaml:3:7: no path");
    assert_string_equal(opd_cfg_error_format(&errs.v[2], buf, sizeof(buf)),
                        "<config>: x: no place");
    /* Truncation keeps a terminated string. */
    assert_string_equal(opd_cfg_error_format(&errs.v[0], buf, 8), "f.yaml:");
    /* A lost error still counts and prints. */
    opd_mem_fail_countdown = 0;
    assert_int_equal(opd_cfg_errors_add(&errs, &pos, "k", "lost"), -ENOMEM);
    opd_mem_fail_countdown = -1;
    assert_int_equal(opd_cfg_errors_count(&errs), 4);
    got = errs_text(&errs);
    assert_string_equal(got, "f.yaml:3:7: a::b: bad 5\n"
                             "f.yaml:3:7: no path\n"
                             "<config>: x: no place\n"
                             "otelprofd: out of memory while loading the configuration\n");
    free(got);
    opd_cfg_errors_fini(&errs);
    opd_cfg_errors_fini(NULL);
}

static void test_node_more_errors(void **state)
{
    char big[64];

    parse_fails("a: 1\n\"k\\0\": 2\n", "p.yaml:2:1: map key contains a NUL character\n");
    parse_fails("a: &x k\n*x : 1\n", "p.yaml:2:1: aliases cannot be used as map keys\n");
    /* Merge keys count the nodes they copy too. */
    {
        char doc[8192];
        size_t off = 0;

        off += (size_t)snprintf(doc + off, sizeof(doc) - off, "b0: &b0 {");
        for (int i = 0; i < 300; i++)
            off += (size_t)snprintf(doc + off, sizeof(doc) - off, "%sk%d: v", i ? ", " : "", i);
        off += (size_t)snprintf(doc + off, sizeof(doc) - off, "}\nl: &l [");
        for (int i = 0; i < 300; i++)
            off += (size_t)snprintf(doc + off, sizeof(doc) - off, "%s*b0", i ? ", " : "");
        off += (size_t)snprintf(doc + off, sizeof(doc) - off, "]\nm: {<<: [*l, *l, *l]}\n");
        {
            struct opd_cfg_errors errs;

            opd_cfg_errors_init(&errs);
            assert_null(opd_yaml_parse("big.yaml", doc, off, &errs));
            assert_int_equal(errs.n, 1);
            assert_non_null(strstr(errs.v[0].message, "document too large"));
            opd_cfg_errors_fini(&errs);
        }
    }
    /* A directory is not a config file. */
    {
        struct opd_cfg_errors errs;

        opd_cfg_errors_init(&errs);
        snprintf(big, sizeof(big), "/");
        assert_null(opd_yaml_parse_file(big, &errs));
        assert_int_equal(errno, EINVAL);
        assert_string_equal(errs.v[0].message, "not a regular file");
        opd_cfg_errors_fini(&errs);
    }
}

static void test_node_big_map(void **state)
{
    /* Big maps are indexed: lookups, duplicates and merges must behave as for small ones. */
    struct opd_cfg_errors errs;
    struct opd_node *root = NULL, *over;
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    char key[32];
    long n;

    for (int i = 0; i < 2000; i++)
        fprintf(f, "k%d: v%d\n", i, i);
    fclose(f);
    opd_cfg_errors_init(&errs);
    root = opd_yaml_parse("big.yaml", doc, len, &errs);
    assert_non_null(root);
    assert_int_equal(root->n, 2000);
    for (int i = 0; i < 2000; i += 7) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(opd_node_map_find(root, key) - root->pairs, i);
    }
    assert_null(opd_node_map_find(root, "k2000"));
    over = opd_yaml_parse("o.yaml", "k1999: x\nnew: y\n", 16, &errs);
    assert_non_null(over);
    assert_int_equal(opd_node_merge(&root, over), 0);
    assert_int_equal(root->n, 2001);
    assert_string_equal(opd_node_map_get(root, "k1999")->text, "x");
    assert_string_equal(opd_node_map_get(root, "new")->text, "y");
    opd_node_destroy(root);
    free(doc);

    /* A duplicate far into a big map is still found. */
    doc = NULL;
    f = open_memstream(&doc, &len);
    for (int i = 0; i < 100; i++)
        fprintf(f, "k%d: v\n", i);
    fprintf(f, "k42: again\n");
    fclose(f);
    assert_null(opd_yaml_parse("dup.yaml", doc, len, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].message, "duplicate key (first defined at 43:1)");
    opd_cfg_errors_fini(&errs);

    /* Every allocation of the index can fail cleanly. */
    for (n = 0;; n++) {
        opd_cfg_errors_init(&errs);
        opd_mem_fail_countdown = n;
        root = opd_yaml_parse("dup.yaml", doc, len - 11, &errs);
        opd_mem_fail_countdown = -1;
        opd_cfg_errors_fini(&errs);
        if (root)
            break;
        assert_int_equal(errno, ENOMEM);
    }
    assert_int_equal(root->n, 100);
    opd_node_destroy(root);
    free(doc);
}

static void test_node_depth(void **state)
{
    char doc[512];
    struct opd_cfg_errors errs;

    memset(doc, '[', 100);
    doc[100] = '\0';
    opd_cfg_errors_init(&errs);
    assert_null(opd_yaml_parse("d.yaml", doc, strlen(doc), &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0].message, "nesting deeper than 64 levels");
    assert_int_equal(errs.v[0].col, 65);
    opd_cfg_errors_fini(&errs);
}

static void test_node_merge(void **state)
{
    const char *a = "x:\n  keep: 1\n  over: 2\n  list: [1, 2]\ny: s\n";
    const char *b = "\nx:\n  over: 3\n  list: [9]\n  new: {n: 1}\nz: t\n";
    struct opd_cfg_errors errs;
    struct opd_node *ra, *rb;
    const struct opd_node *x;

    opd_cfg_errors_init(&errs);
    ra = opd_yaml_parse("a.yaml", a, strlen(a), &errs);
    rb = opd_yaml_parse("b.yaml", b, strlen(b), &errs);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_int_equal(opd_node_merge(&ra, rb), 0);
    x = opd_node_map_get(ra, "x");
    assert_string_equal(opd_node_map_get(x, "keep")->text, "1");
    assert_string_equal(opd_node_map_get(x, "keep")->pos.file, "a.yaml");
    assert_string_equal(opd_node_map_get(x, "over")->text, "3");
    assert_string_equal(opd_node_map_get(x, "over")->pos.file, "b.yaml");
    assert_int_equal(opd_node_map_get(x, "over")->pos.line, 3);
    assert_int_equal(opd_node_map_find(x, "over")->key_pos.line, 3);
    /* Sequences replace, they do not append. */
    assert_int_equal(opd_node_map_get(x, "list")->n, 1);
    assert_string_equal(opd_node_map_get(x, "list")->items[0]->text, "9");
    assert_string_equal(opd_node_map_get(opd_node_map_get(x, "new"), "n")->text, "1");
    assert_string_equal(opd_node_map_get(ra, "y")->text, "s");
    assert_string_equal(opd_node_map_get(ra, "z")->text, "t");
    assert_int_equal(ra->n, 3);
    opd_node_destroy(ra);
    opd_cfg_errors_fini(&errs);
}

/* ---- env expansion -------------------------------------------------------------------- */

static void expand_ok(const char *in, const char *want)
{
    char err[256];
    char *out = NULL;
    int rc = opd_env_expand(in, &out, err, sizeof(err));

    if (rc != 0)
        fail_msg("\"%s\": rc %d (%s)", in, rc, err);
    if (strcmp(out, want) != 0)
        fail_msg("\"%s\": want \"%s\" got \"%s\"", in, want, out);
    opd_free(out);
}

static void expand_bad(const char *in, const char *want_err)
{
    char err[256];
    char *out = (char *)1;

    assert_int_equal(opd_env_expand(in, &out, err, sizeof(err)), -EINVAL);
    assert_null(out);
    if (strcmp(err, want_err) != 0)
        fail_msg("\"%s\": want error \"%s\" got \"%s\"", in, want_err, err);
}

static void test_env(void **state)
{
    setenv("OPD_T_A", "alpha", 1);
    setenv("OPD_T_EMPTY", "", 1);
    unsetenv("OPD_T_UNSET");
    expand_ok("plain", "plain");
    expand_ok("", "");
    expand_ok("${env:OPD_T_A}", "alpha");
    expand_ok("x-${env:OPD_T_A}-y", "x-alpha-y");
    expand_ok("${OPD_T_A}", "alpha");
    expand_ok("${env:OPD_T_UNSET}", "");
    expand_ok("${env:OPD_T_UNSET:-def}", "def");
    expand_ok("${env:OPD_T_EMPTY:-def}", "def");
    expand_ok("${env:OPD_T_A:-def}", "alpha");
    expand_ok("${OPD_T_UNSET:-d:e-f}", "d:e-f");
    expand_ok("${env:OPD_T_UNSET:-}", "");
    expand_ok("${env:OPD_T_UNSET:-${env:OPD_T_A}}", "alpha");
    expand_ok("$$", "$");
    expand_ok("$${env:OPD_T_A}", "${env:OPD_T_A}");
    expand_ok("a$b $", "a$b $");
    expand_ok("cost: $$5", "cost: $5");
    expand_bad("${env:OPD_T_A", "unterminated \"${\" in \"${env:OPD_T_A\"");
    expand_bad("${env:}", "empty variable name in \"${env:}\"");
    expand_bad("${}", "empty variable name in \"${}\"");
    expand_bad("${env:1X}", "invalid environment variable name \"1X\"");
    expand_bad("${env:A B}", "invalid environment variable name \"A B\"");
    expand_bad("${env:OPD_T_A:def}", "invalid default syntax in \"${env:OPD_T_A:def}\": "
                                     "expected \":-\" after the variable name");
    {
        /* A variable holding bytes that are not UTF-8 is refused where it is used. */
        struct opd_cfg_errors errs;
        const char *doc = "a: x${env:OPD_T_BIN}y\nb: \"\u00e9\u4e2d\U0001F600\"\n";
        struct opd_node *root;
        char *got;

        setenv("OPD_T_BIN", "\xff\xfe", 1);
        opd_cfg_errors_init(&errs);
        assert_null(opd_yaml_parse("u.yaml", doc, strlen(doc), &errs));
        got = errs_text(&errs);
        assert_string_equal(got,
                            "u.yaml:1:4: a: an environment variable's value is not valid UTF-8\n");
        free(got);
        setenv("OPD_T_BIN", "\xc3\xa9", 1);
        root = opd_yaml_parse("u.yaml", doc, strlen(doc), &errs);
        assert_non_null(root);
        assert_string_equal(opd_node_map_get(root, "a")->text, "x\xc3\xa9y");
        assert_string_equal(opd_node_map_get(root, "b")->text,
                            "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
        opd_node_destroy(root);
        setenv("OPD_T_BIN", "\xed\xa0\x80", 1); /* a surrogate */
        assert_null(opd_yaml_parse("u.yaml", doc, strlen(doc), &errs));
        setenv("OPD_T_BIN", "\xc0\xaf", 1); /* overlong '/' */
        assert_null(opd_yaml_parse("u.yaml", doc, strlen(doc), &errs));
        unsetenv("OPD_T_BIN");
        opd_cfg_errors_fini(&errs);
    }
    expand_bad("${file:/etc/passwd}",
               "unsupported config provider \"file\" (only env is supported)");
}

static const char *suggest(const char *word, const char *const *cands)
{
    static struct opd_suggest sg;

    opd_suggest_init(&sg, word);
    for (size_t i = 0; cands[i]; i++)
        opd_suggest_add(&sg, cands[i]);
    return opd_suggest_best(&sg);
}

static void test_suggest(void **state)
{
    static const char *const keys[] = {"endpoint", "timeout", "headers", "tls", "otlp", NULL};
    char longword[100];

    assert_string_equal(suggest("endpont", keys), "endpoint");
    assert_string_equal(suggest("timeuot", keys), "timeout");
    assert_string_equal(suggest("otpl", keys), "otlp");
    assert_string_equal(suggest("Headers", keys), "headers");
    assert_string_equal(suggest("tsl", keys), "tls");
    /* Too far from everything, or exactly a candidate: no hint. */
    assert_null(suggest("compression", keys));
    assert_null(suggest("xyz", keys));
    assert_null(suggest("timeout", keys));
    memset(longword, 'a', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    assert_null(suggest(longword, keys));
}

/* ---- scalar parsers ------------------------------------------------------------------ */

static void test_parse_duration(void **state)
{
    static const struct {
        const char *s;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"5s", 5 * SEC},
        {"250ms", 250000000},
        {"1m30s", 90 * SEC},
        {"1h", 3600 * SEC},
        {"100us", 100000},
        {"100\xc2\xb5s", 100000},
        {"10ns", 10},
        {"1.5s", 1500000000},
        {".5m", 30 * SEC},
        {"2h45m10s5ms", (2 * 3600 + 45 * 60 + 10) * SEC + 5000000},
        {"-3s", -3 * SEC},
        {"+1ms", 1000000},
        {"2562047h47m16.854775807s", INT64_MAX},
    };
    static const char *const bad[] = {
        "",
        "5",
        "s",
        "5x",
        "5 s",
        "1.s.",
        "-",
        "1h 2m",
        "ms",
        "2562047h47m16.854775808s",
        "99999999999999999999h",
        "1e3s",
        "0x10s",
        " 5s",
        "5s ",
    };
    int64_t v;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (opd_parse_duration(good[i].s, &v) != 0)
            fail_msg("\"%s\" did not parse", good[i].s);
        if (v != good[i].ns)
            fail_msg("\"%s\": %lld != %lld", good[i].s, (long long)v, (long long)good[i].ns);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (opd_parse_duration(bad[i], &v) != -EINVAL)
            fail_msg("\"%s\" parsed as a duration", bad[i]);
}

static void test_parse_bytes(void **state)
{
    static const struct {
        const char *s;
        int64_t b;
    } good[] = {
        {"4096", 4096},      {"0", 0},
        {"64MiB", 64 << 20}, {"512KiB", 512 << 10},
        {"1GB", 1000000000}, {"1gb", 1000000000},
        {"2K", 2000},        {"1 MiB", 1 << 20},
        {"1.5KiB", 1536},    {"10B", 10},
        {"1TiB", 1LL << 40},
    };
    static const char *const bad[] = {
        "", "MiB", "-1", "1XB", "1.5.5K", "9223372036854775808", "8388608TiB", "1 2", " 1",
    };
    int64_t v;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (opd_parse_bytes(good[i].s, &v) != 0)
            fail_msg("\"%s\" did not parse", good[i].s);
        if (v != good[i].b)
            fail_msg("\"%s\": %lld != %lld", good[i].s, (long long)v, (long long)good[i].b);
    }
    assert_int_equal(opd_parse_bytes("9223372036854775807", &v), 0);
    assert_true(v == INT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (opd_parse_bytes(bad[i], &v) != -EINVAL)
            fail_msg("\"%s\" parsed as a byte size", bad[i]);
}

static void test_parse_scalars(void **state)
{
    bool b;
    int64_t i;
    double d;

    assert_int_equal(opd_parse_bool("true", &b), 0);
    assert_true(b);
    assert_int_equal(opd_parse_bool("FALSE", &b), 0);
    assert_false(b);
    assert_int_equal(opd_parse_bool("yes", &b), -EINVAL);
    assert_int_equal(opd_parse_bool("1", &b), -EINVAL);
    assert_int_equal(opd_parse_bool("", &b), -EINVAL);

    assert_int_equal(opd_parse_int("42", &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(opd_parse_int("-7", &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(opd_parse_int("0x1F", &i), 0);
    assert_int_equal(i, 31);
    assert_int_equal(opd_parse_int("010", &i), 0);
    assert_int_equal(i, 10);
    assert_int_equal(opd_parse_int("9223372036854775807", &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(opd_parse_int("-9223372036854775808", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(opd_parse_int("9223372036854775808", &i), -EINVAL);
    assert_int_equal(opd_parse_int("12abc", &i), -EINVAL);
    assert_int_equal(opd_parse_int("1.0", &i), -EINVAL);
    assert_int_equal(opd_parse_int("", &i), -EINVAL);
    assert_int_equal(opd_parse_int("-", &i), -EINVAL);
    assert_int_equal(opd_parse_int("0x", &i), -EINVAL);

    assert_int_equal(opd_parse_double("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(opd_parse_double("1e3", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(opd_parse_double("nan", &d), -EINVAL);
    assert_int_equal(opd_parse_double("inf", &d), -EINVAL);
    assert_int_equal(opd_parse_double("1e999", &d), -EINVAL);
    assert_int_equal(opd_parse_double("x", &d), -EINVAL);
    assert_int_equal(opd_parse_double("", &d), -EINVAL);
}

static void test_format_roundtrip(void **state)
{
    static const int64_t durs[] = {
        0, 1, 999, 1000, 1500000000, 90 * SEC, 3600 * SEC + 1, -5 * SEC, INT64_MAX, INT64_MIN + 1};
    static const int64_t sizes[] = {0, 1, 1023, 1024, 1000, 64 << 20, 1000000001, INT64_MAX};
    char buf[64];
    int64_t v;

    for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
        opd_format_duration(durs[i], buf, sizeof(buf));
        assert_int_equal(opd_parse_duration(buf, &v), 0);
        assert_true(v == durs[i]);
    }
    assert_string_equal(opd_format_duration(90 * SEC, buf, sizeof(buf)), "1m30s");
    assert_string_equal(opd_format_duration(250000000, buf, sizeof(buf)), "250ms");
    assert_string_equal(opd_format_duration(0, buf, sizeof(buf)), "0s");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        opd_format_bytes(sizes[i], buf, sizeof(buf));
        assert_int_equal(opd_parse_bytes(buf, &v), 0);
        assert_true(v == sizes[i]);
    }
    assert_string_equal(opd_format_bytes(64 << 20, buf, sizeof(buf)), "64MiB");
    assert_string_equal(opd_format_bytes(1000000000, buf, sizeof(buf)), "1GB");
    assert_string_equal(opd_format_bytes(1001, buf, sizeof(buf)), "1001");
}

/* ---- binder -------------------------------------------------------------------------- */

static void test_defaults(void **state)
{
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct fake_recv_cfg cfg = {0};

    assert_int_equal(opd_config_defaults(f->config_map, &cfg), 0);
    assert_true(cfg.enabled);
    assert_int_equal(cfg.frequency, 19);
    assert_true(cfg.ratio == 0.5);
    assert_true(cfg.interval == 10 * SEC);
    assert_int_equal(cfg.buffer, 64 << 20);
    assert_string_equal(cfg.endpoint, "localhost:4317");
    assert_string_equal(cfg.mode, "auto");
    assert_int_equal(cfg.tags.n, 2);
    assert_string_equal(cfg.tags.v[1], "b");
    assert_int_equal(cfg.labels.n, 1);
    assert_string_equal(cfg.labels.keys[0], "team");
    assert_string_equal(cfg.labels.values[0], "core");
    assert_int_equal(cfg.rotation.max_megabytes, 100);
    assert_null(cfg.rotation.path);
    assert_false(cfg.rotation.deep.on);
    assert_int_equal(cfg.rotation.deep.level, 3);
    assert_int_equal(cfg.rules.n, 0);
    opd_config_release(f->config_map, &cfg);
    assert_null(cfg.endpoint);
    assert_null(cfg.tags.v);
    assert_int_equal(cfg.labels.n, 0);
    /* Releasing twice is harmless: release zeroes what it frees. */
    opd_config_release(f->config_map, &cfg);
}

static int bind_doc(const char *doc, struct fake_recv_cfg *cfg, struct opd_cfg_errors *errs)
{
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_node *root = opd_yaml_parse("b.yaml", doc, strlen(doc), errs);
    int rc;

    assert_non_null(root);
    memset(cfg, 0, sizeof(*cfg));
    assert_int_equal(opd_config_defaults(f->config_map, cfg), 0);
    rc = opd_config_bind(f->config_map, root, cfg, "receivers::fakerecv", errs);
    opd_node_destroy(root);
    return rc;
}

static void test_bind_all_types(void **state)
{
    const char *doc = "enabled: false\n"
                      "frequency: 99\n"
                      "ratio: 0.125\n"
                      "interval: 1m30s\n"
                      "buffer: 512KiB\n"
                      "endpoint: \"collector:4317\"\n"
                      "mode: manual\n"
                      "tags: single\n"
                      "labels: {a: '1', b: two}\n"
                      "rotation: {max_megabytes: 5, path: /tmp/x, deep: {on: true}}\n"
                      "rules:\n"
                      "  - name: r1\n"
                      "    weight: 7\n"
                      "    match: [x, y]\n"
                      "  -\n"
                      "  - {name: r3}\n";
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_cfg_errors errs;
    struct fake_recv_cfg cfg;
    struct fake_rule *rules;

    opd_cfg_errors_init(&errs);
    assert_int_equal(bind_doc(doc, &cfg, &errs), 0);
    assert_int_equal(opd_cfg_errors_count(&errs), 0);
    assert_false(cfg.enabled);
    assert_int_equal(cfg.frequency, 99);
    assert_true(cfg.ratio == 0.125);
    assert_true(cfg.interval == 90 * SEC);
    assert_int_equal(cfg.buffer, 512 << 10);
    assert_string_equal(cfg.endpoint, "collector:4317");
    assert_string_equal(cfg.mode, "manual");
    assert_int_equal(cfg.tags.n, 1);
    assert_string_equal(cfg.tags.v[0], "single");
    assert_int_equal(cfg.labels.n, 2);
    assert_string_equal(cfg.labels.keys[1], "b");
    assert_string_equal(cfg.labels.values[1], "two");
    assert_int_equal(cfg.rotation.max_megabytes, 5);
    assert_string_equal(cfg.rotation.path, "/tmp/x");
    assert_true(cfg.rotation.deep.on);
    assert_int_equal(cfg.rotation.deep.level, 3);
    assert_int_equal(cfg.rules.n, 3);
    rules = cfg.rules.items;
    assert_string_equal(rules[0].name, "r1");
    assert_int_equal(rules[0].weight, 7);
    assert_int_equal(rules[0].match.n, 2);
    /* A null list element is a section with all defaults. */
    assert_null(rules[1].name);
    assert_int_equal(rules[1].weight, 1);
    assert_string_equal(rules[2].name, "r3");
    opd_config_release(f->config_map, &cfg);
    opd_cfg_errors_fini(&errs);
}

static void test_bind_errors(void **state)
{
    const char *doc = "enabled: maybe\n"
                      "frequency: 0\n"
                      "ratio: 2\n"
                      "interval: 5\n"
                      "buffer: 2KiB\n"
                      "endpoint: [a]\n"
                      "mode: fast\n"
                      "tags: {a: b}\n"
                      "labels: [x]\n"
                      "rotation: {max_megabytes: big, colour: red, deep: {level: 10}}\n"
                      "rules: [{weight: -1}, 5]\n"
                      "nope: 1\n"
                      "frequency2: 1\n";
    const char *want =
        "b.yaml:1:10: receivers::fakerecv::enabled: invalid boolean \"maybe\" (expected true or "
        "false)\n"
        "b.yaml:2:12: receivers::fakerecv::frequency: value 0 out of range [1, 1000]\n"
        "b.yaml:3:8: receivers::fakerecv::ratio: value 2 out of range [0, 1]\n"
        "b.yaml:4:11: receivers::fakerecv::interval: invalid duration \"5\" (expected a number "
        "with a unit: ns, us, ms, s, m, h; e.g. 5s, 250ms, 1m30s)\n"
        "b.yaml:5:9: receivers::fakerecv::buffer: value 2KiB out of range [4KiB, 1GiB]\n"
        "b.yaml:6:11: receivers::fakerecv::endpoint: expected a string, got a list\n"
        "b.yaml:7:7: receivers::fakerecv::mode: invalid value \"fast\" (expected one of: auto, "
        "manual, off)\n"
        "b.yaml:8:7: receivers::fakerecv::tags: expected a list of strings, got a map\n"
        "b.yaml:9:9: receivers::fakerecv::labels: expected a map of strings, got a list\n"
        "b.yaml:10:27: receivers::fakerecv::rotation::max_megabytes: invalid integer \"big\"\n"
        "b.yaml:10:32: receivers::fakerecv::rotation::colour: unknown key (valid keys: "
        "max_megabytes, path, deep)\n"
        "b.yaml:10:59: receivers::fakerecv::rotation::deep::level: value 10 out of range [1, "
        "9]\n"
        "b.yaml:11:18: receivers::fakerecv::rules::0::weight: value -1 out of range [0, 100]\n"
        "b.yaml:11:23: receivers::fakerecv::rules::1: expected a map, got a string\n"
        "b.yaml:12:1: receivers::fakerecv::nope: unknown key (valid keys: enabled, frequency, "
        "ratio, interval, buffer, endpoint, mode, tags, labels, rotation, rules)\n"
        "b.yaml:13:1: receivers::fakerecv::frequency2: unknown key, did you mean \"frequency\"? "
        "(valid keys: enabled, "
        "frequency, ratio, interval, buffer, endpoint, mode, tags, labels, rotation, rules)\n";
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_cfg_errors errs;
    struct fake_recv_cfg cfg;
    char *got;

    opd_cfg_errors_init(&errs);
    assert_int_equal(bind_doc(doc, &cfg, &errs), -EINVAL);
    got = errs_text(&errs);
    check_text(doc, want, got);
    free(got);
    /* Bad input leaves the defaults in place. */
    assert_true(cfg.enabled);
    assert_int_equal(cfg.frequency, 19);
    assert_string_equal(cfg.mode, "auto");
    assert_int_equal(cfg.tags.n, 2);
    assert_int_equal(cfg.rotation.max_megabytes, 100);
    assert_int_equal(cfg.rules.n, 0);
    opd_config_release(f->config_map, &cfg);
    opd_cfg_errors_fini(&errs);
}

static void test_bind_more_errors(void **state)
{
    const char *doc = "tags: [a, [b], c]\n"
                      "labels: {k: {x: 1}}\n"
                      "rules: {a: 1}\n"
                      "rotation: 5\n"
                      "interval: 2h\n"
                      "ratio: abc\n";
    const char *want =
        "b.yaml:1:11: receivers::fakerecv::tags::1: expected a string, got a list\n"
        "b.yaml:2:13: receivers::fakerecv::labels::k: expected a string, got a map\n"
        "b.yaml:3:8: receivers::fakerecv::rules: expected a list of maps, got a map\n"
        "b.yaml:4:11: receivers::fakerecv::rotation: expected a map, got a string\n"
        "b.yaml:5:11: receivers::fakerecv::interval: value 2h out of range [1ms, 1h]\n"
        "b.yaml:6:8: receivers::fakerecv::ratio: invalid number \"abc\"\n";
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_cfg_errors errs;
    struct fake_recv_cfg cfg;
    char *got;

    opd_cfg_errors_init(&errs);
    assert_int_equal(bind_doc(doc, &cfg, &errs), -EINVAL);
    got = errs_text(&errs);
    check_text(doc, want, got);
    free(got);
    opd_config_release(f->config_map, &cfg);
    opd_cfg_errors_fini(&errs);
}

static void test_bind_type_errors(void **state)
{
    const char *doc = "enabled: {a: 1}\n"
                      "frequency: [1]\n"
                      "ratio: {}\n"
                      "interval: []\n"
                      "buffer: {x: y}\n"
                      "rules: s\n";
    const char *want =
        "b.yaml:1:10: receivers::fakerecv::enabled: expected a boolean, got a map\n"
        "b.yaml:2:12: receivers::fakerecv::frequency: expected an integer, got a list\n"
        "b.yaml:3:8: receivers::fakerecv::ratio: expected a number, got a map\n"
        "b.yaml:4:11: receivers::fakerecv::interval: expected a duration, got a list\n"
        "b.yaml:5:9: receivers::fakerecv::buffer: expected a byte size, got a map\n"
        "b.yaml:6:8: receivers::fakerecv::rules: expected a list of maps, got a "
        "string\n";
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_cfg_errors errs;
    struct fake_recv_cfg cfg;
    char *got;

    opd_cfg_errors_init(&errs);
    assert_int_equal(bind_doc(doc, &cfg, &errs), -EINVAL);
    got = errs_text(&errs);
    check_text(doc, want, got);
    free(got);
    opd_config_release(f->config_map, &cfg);
    opd_cfg_errors_fini(&errs);
}

static void test_bind_null_keeps_default(void **state)
{
    const struct opd_factory *f = fake_lookup(OPD_KIND_RECEIVER, "fakerecv");
    struct opd_cfg_errors errs;
    struct fake_recv_cfg cfg;

    opd_cfg_errors_init(&errs);
    assert_int_equal(bind_doc("endpoint:\ntags: ~\nrotation:\n", &cfg, &errs), 0);
    assert_string_equal(cfg.endpoint, "localhost:4317");
    assert_int_equal(cfg.tags.n, 2);
    opd_config_release(f->config_map, &cfg);
    /* An empty quoted string is a value and replaces the default. */
    assert_int_equal(bind_doc("endpoint: ''\ntags: []\n", &cfg, &errs), 0);
    assert_string_equal(cfg.endpoint, "");
    assert_int_equal(cfg.tags.n, 0);
    opd_config_release(f->config_map, &cfg);
    assert_int_equal(opd_cfg_errors_count(&errs), 0);
    opd_cfg_errors_fini(&errs);
}

static void test_bad_default(void **state)
{
    static const char *const ch[] = {"a", NULL};
    static const struct opd_config_map bad_enum[] = {
        {.type = OPD_CFG_ENUM, .name = "e", .def = "z", .offset = 0, .choices = ch},
        OPD_CFG_MAP_END,
    };
    static const struct opd_config_map bad_list[] = {
        {.type = OPD_CFG_STRLIST, .name = "l", .def = "[a", .offset = 0},
        OPD_CFG_MAP_END,
    };
    struct {
        char *e;
    } e = {0};
    struct opd_strlist l = {0};

    assert_int_equal(opd_config_defaults(bad_enum, &e), -EINVAL);
    opd_config_release(bad_enum, &e);
    assert_int_equal(opd_config_defaults(bad_list, &l), -EINVAL);
    opd_config_release(bad_list, &l);
}

/* ---- document ------------------------------------------------------------------------ */

static void test_load_document(void **state)
{
    const char *doc = "receivers:\n"
                      "  fakerecv:\n"
                      "    frequency: 49\n"
                      "  fakerecv/second:\n"
                      "  plainrecv:\n"
                      "processors:\n"
                      "  batch: {send_batch_size: 10}\n"
                      "  noop/x: {}\n"
                      "exporters:\n"
                      "  otlp:\n"
                      "    endpoint: \"${env:OPD_T_EP:-localhost:4317}\"\n"
                      "    headers: {authorization: Bearer $$TOKEN}\n"
                      "  file/out: {path: /tmp/out.json, rotation: {max_megabytes: 7}}\n"
                      "  debug:\n"
                      "extensions:\n"
                      "  health_check:\n"
                      "service:\n"
                      "  extensions: [health_check]\n"
                      "  telemetry: {logs: {level: debug}}\n"
                      "  pipelines:\n"
                      "    profiles:\n"
                      "      receivers: [fakerecv, plainrecv]\n"
                      "      processors: [batch, noop/x]\n"
                      "      exporters: [otlp, debug]\n"
                      "    profiles/files:\n"
                      "      receivers: fakerecv/second\n"
                      "      exporters: [file/out]\n";
    const struct opd_component_cfg *cc;
    const struct fake_recv_cfg *rc;
    const struct fake_exp_cfg *ec;
    struct opd_config *c;

    unsetenv("OPD_T_EP");
    c = expect_ok(doc);
    assert_int_equal(c->n_components, 9);
    cc = opd_config_find(c, OPD_KIND_RECEIVER, "fakerecv");
    assert_non_null(cc);
    assert_int_equal(cc->pos.line, 2);
    assert_int_equal(cc->pos.col, 3);
    assert_string_equal(cc->pos.file, "t.yaml");
    rc = cc->cfg;
    assert_int_equal(rc->frequency, 49);
    assert_int_equal(
        ((const struct fake_recv_cfg *)opd_config_find(c, OPD_KIND_RECEIVER, "fakerecv/second")
             ->cfg)
            ->frequency,
        19);
    assert_null(opd_config_find(c, OPD_KIND_EXPORTER, "fakerecv"));
    cc = opd_config_find(c, OPD_KIND_EXPORTER, "otlp");
    assert_non_null(cc);
    assert_string_equal(cc->factory->type, "otlp_grpc");
    ec = cc->cfg;
    assert_string_equal(ec->endpoint, "localhost:4317");
    assert_string_equal(ec->headers.values[0], "Bearer $TOKEN");
    assert_true(ec->timeout == 5 * SEC);
    assert_int_equal(
        ((const struct fake_file_cfg *)opd_config_find(c, OPD_KIND_EXPORTER, "file/out")->cfg)
            ->rotation.max_megabytes,
        7);
    assert_non_null(opd_config_find(c, OPD_KIND_EXTENSION, "health_check"));
    assert_int_equal(c->service.n_extensions, 1);
    assert_string_equal(c->service.log_level, "debug");
    assert_string_equal(c->service.metrics_level, "normal");
    assert_string_equal(c->service.metrics_address, "localhost:8888");
    assert_int_equal(c->service.n_pipelines, 2);
    assert_string_equal(c->service.pipelines[0].name, "profiles");
    assert_int_equal(c->service.pipelines[0].n_receivers, 2);
    assert_string_equal(c->service.pipelines[0].processors[1], "noop/x");
    assert_int_equal(c->service.pipelines[0].n_exporters, 2);
    assert_string_equal(c->service.pipelines[1].name, "profiles/files");
    assert_int_equal(c->service.pipelines[1].pos.line, 25);
    assert_int_equal(c->service.pipelines[1].n_receivers, 1);
    assert_string_equal(c->service.pipelines[1].receivers[0], "fakerecv/second");
    assert_int_equal(c->service.pipelines[1].n_processors, 0);
    opd_config_destroy(c);
    opd_config_destroy(NULL);

    setenv("OPD_T_EP", "remote:4317", 1);
    c = expect_ok(doc);
    ec = opd_config_find(c, OPD_KIND_EXPORTER, "otlp")->cfg;
    assert_string_equal(ec->endpoint, "remote:4317");
    opd_config_destroy(c);
    unsetenv("OPD_T_EP");
}

static void test_load_errors(void **state)
{
    expect_errors(
        "receivers:\n  nosuch:\n  fakerecv/:\n  /x:\n  1abc:\n  a-b:\n"
        "exporters:\n  nosuch:\n" MINIMAL_SERVICE,
        "t.yaml:2:3: receivers::nosuch: unknown receiver type \"nosuch\" (known "
        "types: fakerecv, plainrecv)\n"
        "t.yaml:3:3: receivers::fakerecv/: invalid component id \"fakerecv/\": the name "
        "after '/' must not be empty\n"
        "t.yaml:4:3: receivers::/x: invalid component id \"/x\": the type before '/' "
        "must not be empty\n"
        "t.yaml:5:3: receivers::1abc: invalid component id \"1abc\": the type must start "
        "with a letter\n"
        "t.yaml:6:3: receivers::a-b: invalid component id \"a-b\": the type may hold only "
        "letters, digits and '_'\n"
        "t.yaml:8:3: exporters::nosuch: unknown exporter type \"nosuch\" (known types: "
        "file, otlp_grpc (alias otlp), debug)\n"
        "t.yaml:12:19: service::pipelines::profiles::receivers::0: receiver "
        "\"fakerecv\" is not defined (define it under receivers)\n"
        "t.yaml:13:19: service::pipelines::profiles::exporters::0: exporter \"debug\" "
        "is not defined (define it under exporters)\n");
    /* Without a factory list the message cannot name the known types. */
    {
        struct opd_cfg_errors errs;
        const char *doc = "receivers: {nosuch: }\n";

        opd_cfg_errors_init(&errs);
        assert_null(opd_config_load_buffer("u.yaml", doc, strlen(doc), fake_lookup, &errs));
        assert_int_equal(errno, EINVAL);
        assert_true(has_message(&errs, "unknown receiver type \"nosuch\""));
        opd_cfg_errors_fini(&errs);
    }
    expect_errors("receivers: {fakerecv: }\nexporters: {otlp: {}, file: }\n" MINIMAL_SERVICE,
                  "t.yaml:2:13: exporters::otlp: endpoint must be set\n"
                  "t.yaml:2:23: exporters::file: path must be set\n"
                  "t.yaml:7:19: service::pipelines::profiles::exporters::0: exporter \"debug\" "
                  "is not defined (define it under exporters)\n");
    expect_errors("receivers: [fakerecv]\nexporters: {debug: }\nservice: {pipelines: [x]}\n"
                  "connectors: {forward: }\n",
                  "t.yaml:1:12: receivers: expected a map of component ids, got a list\n"
                  "t.yaml:3:22: service::pipelines: expected a map of pipelines, got a list\n"
                  "t.yaml:4:1: connectors: connectors are not supported (only profiles "
                  "pipelines from receivers to exporters)\n");
    expect_errors("connectors: forward\n" MINIMAL_SERVICE,
                  "t.yaml:1:1: connectors: connectors are not supported (only profiles "
                  "pipelines from receivers to exporters)\n"
                  "t.yaml:5:19: service::pipelines::profiles::receivers::0: receiver "
                  "\"fakerecv\" is not defined (define it under receivers)\n"
                  "t.yaml:6:19: service::pipelines::profiles::exporters::0: exporter \"debug\" "
                  "is not defined (define it under exporters)\n");
    expect_errors("receivers: {fakerecv: }\nexporters: {debug: }\n",
                  "t.yaml:1:1: service::pipelines: at least one pipeline is required (e.g. "
                  "profiles: {receivers: [profiling], exporters: [debug]})\n");
    expect_errors("receivers: {fakerecv: }\nexporters: {debug: }\n"
                  "service:\n  telemetry: {logs: {level: loud}, metrics: {level: 3, x: 1}}\n"
                  "  extensions: [health_check, health_check]\n"
                  "  colour: blue\n"
                  "  pipelines:\n    profiles: {receivers: [fakerecv], exporters: [debug]}\n",
                  "t.yaml:4:29: service::telemetry::logs::level: invalid value \"loud\" (expected "
                  "one of: debug, info, warn, error)\n"
                  "t.yaml:4:53: service::telemetry::metrics::level: invalid value \"3\" (expected "
                  "one of: none, basic, normal, detailed)\n"
                  "t.yaml:4:56: service::telemetry::metrics::x: unknown key (valid keys: level, "
                  "address)\n"
                  "t.yaml:5:16: service::extensions::0: extension \"health_check\" is not defined "
                  "(define it under extensions)\n"
                  "t.yaml:5:30: service::extensions::1: extension \"health_check\" is listed "
                  "twice\n"
                  "t.yaml:6:3: service::colour: unknown key (valid keys: extensions, pipelines, "
                  "telemetry)\n");
    expect_errors("receivers: {fakerecv: }\nexporters: {debug: }\n"
                  "service:\n  pipelines:\n"
                  "    profiles/: {receivers: [fakerecv], exporters: [debug]}\n"
                  "    metrics: {receivers: [fakerecv], exporters: [debug]}\n"
                  "    profilez: {receivers: [fakerecv], exporters: [debug]}\n"
                  "    profiles/a: {receivers: [fakerecv, fakerecv], exporters: [debug], x: 1}\n",
                  "t.yaml:5:5: service::pipelines::profiles/: invalid pipeline id \"profiles/\": "
                  "the name after '/' must not be empty\n"
                  "t.yaml:6:5: service::pipelines::metrics: metrics pipelines are not supported: "
                  "only profiles pipelines (profiles or profiles/<name>)\n"
                  "t.yaml:7:5: service::pipelines::profilez: invalid pipeline id \"profilez\": "
                  "expected profiles or profiles/<name>\n"
                  "t.yaml:8:71: service::pipelines::profiles/a::x: unknown key (valid keys: "
                  "receivers, processors, exporters)\n");
    expect_errors("receivers: {fakerecv: }\nexporters: {debug: }\nprocessors: {noop: }\n"
                  "service:\n  pipelines:\n"
                  "    profiles/a: {receivers: [fakerecv, fakerecv], processors: [noop, noop], "
                  "exporters: [debug]}\n",
                  "t.yaml:6:40: service::pipelines::profiles/a::receivers::1: receiver "
                  "\"fakerecv\" is listed twice\n"
                  "t.yaml:6:70: service::pipelines::profiles/a::processors::1: processor \"noop\" "
                  "is listed twice\n");
    expect_errors("", "t.yaml:1:1: the configuration is empty\n");
    expect_errors("- a\n", "t.yaml:1:1: expected a map at the top level, got a list\n");
    expect_errors("receivers:\n  plainrecv: {x: 1}\n" MINIMAL_SERVICE,
                  "t.yaml:2:15: receivers::plainrecv::x: unknown key (this takes no options)\n"
                  "t.yaml:6:19: service::pipelines::profiles::receivers::0: receiver "
                  "\"fakerecv\" is not defined (define it under receivers)\n"
                  "t.yaml:7:19: service::pipelines::profiles::exporters::0: exporter \"debug\" "
                  "is not defined (define it under exporters)\n");
}

static const struct opd_factory *const *receivers_only(void)
{
    static const struct opd_factory *table[2];

    table[0] = fake_lookup(OPD_KIND_RECEIVER, "plainrecv");
    return table;
}

static void test_unknown_type_none_built_in(void **state)
{
    struct opd_cfg_errors errs;
    const char *doc = "extensions: {pprof: }\n";

    opd_cfg_errors_init(&errs);
    assert_null(
        opd_config_load_buffer_ex("u.yaml", doc, strlen(doc), fake_lookup, receivers_only, &errs));
    assert_int_equal(errno, EINVAL);
    assert_true(
        has_message(&errs, "unknown extension type \"pprof\" (no extension types are built in)"));
    opd_cfg_errors_fini(&errs);
}

static void test_load_no_files(void **state)
{
    {
        /* No lookup: every type is unknown; no name: errors say <config>. */
        struct opd_cfg_errors e;
        const char *doc = "receivers: {x: }\n";
        char *t;

        opd_cfg_errors_init(&e);
        assert_null(opd_config_load_buffer(NULL, doc, strlen(doc), NULL, &e));
        t = errs_text(&e);
        assert_string_equal(t, "<config>:1:1: service::pipelines: at least one pipeline is "
                               "required (e.g. profiles: {receivers: [profiling], exporters: "
                               "[debug]})\n"
                               "<config>:1:13: receivers::x: unknown receiver type \"x\"\n");
        free(t);
        opd_cfg_errors_fini(&e);
    }
    struct opd_cfg_errors errs;
    const char *paths[] = {"/nonexistent/opd.yaml"};
    char *got;

    opd_cfg_errors_init(&errs);
    assert_null(opd_config_load(paths, 0, fake_lookup, &errs));
    assert_null(opd_config_load(paths, 1, fake_lookup, &errs));
    assert_int_equal(errno, EINVAL);
    got = errs_text(&errs);
    assert_string_equal(got, "<config>: no configuration file given\n"
                             "/nonexistent/opd.yaml: cannot open: No such file or directory\n");
    free(got);
    opd_cfg_errors_fini(&errs);
}

/* Prints c, loads the output back, and checks that printing that gives the same text. */
static void check_print_roundtrip(const struct opd_config *c)
{
    struct opd_cfg_errors errs;
    struct opd_config *again;
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *f;

    f = open_memstream(&a, &alen);
    assert_int_equal(opd_config_print(c, f), 0);
    fclose(f);
    opd_cfg_errors_init(&errs);
    again = opd_config_load_buffer("printed.yaml", a, alen, fake_lookup, &errs);
    if (!again) {
        char *e = errs_text(&errs);

        fail_msg("printed config does not load:\n%s\n%s", a, e);
    }
    f = open_memstream(&b, &blen);
    assert_int_equal(opd_config_print(again, f), 0);
    fclose(f);
    if (strcmp(a, b) != 0)
        fail_msg("print is not stable:\n%s\n----\n%s", a, b);
    opd_config_destroy(again);
    opd_cfg_errors_fini(&errs);
    free(a);
    free(b);
}

static void test_print(void **state)
{
    const char *doc = "receivers:\n"
                      "  fakerecv:\n"
                      "    endpoint: 'null'\n"
                      "    tags: ['$$x', 'a: b', '', \"multi\\nline\"]\n"
                      "    labels: {'<<': merge, '~': tilde}\n"
                      "    rules: [{name: r, match: m}]\n"
                      "exporters:\n"
                      "  debug:\n"
                      "  file: {path: '~', rotation: {max_backups: 0}}\n" MINIMAL_SERVICE;
    const char *want = "receivers:\n"
                       "  fakerecv:\n"
                       "    enabled: true\n"
                       "    frequency: 19\n"
                       "    ratio: 0.5\n"
                       "    interval: 10s\n"
                       "    buffer: 64MiB\n"
                       "    endpoint: \"null\"\n";
    struct opd_config *c = expect_ok(doc);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    assert_int_equal(opd_config_print(c, f), 0);
    fclose(f);
    assert_memory_equal(out, want, strlen(want));
    assert_non_null(strstr(out, "    - $$x\n"));
    assert_non_null(strstr(out, "    - 'a: b'\n"));
    assert_non_null(strstr(out, "  file:\n    path: \"~\"\n    format: json\n"));
    assert_non_null(strstr(out, "  debug: {}\n"));
    assert_non_null(strstr(out, "      \"<<\": merge\n"));
    assert_non_null(strstr(out, "telemetry:\n    logs:\n      level: info\n"));
    free(out);
    check_print_roundtrip(c);
    opd_config_destroy(c);
}

static void test_describe(void **state)
{
    const struct opd_factory *f = fake_lookup(OPD_KIND_EXPORTER, "file");
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);

    assert_int_equal(opd_config_map_describe(f->config_map, m, 2), 0);
    fclose(m);
    assert_string_equal(out, "  path: string. Where profiles are written\n"
                             "  format: enum, default json, one of: json, proto, folded\n"
                             "  rotation: section\n"
                             "    max_megabytes: int, default 100, range [1, 100000]\n"
                             "    max_backups: int, default 100, range [0, 10000]\n"
                             "  flush_interval: duration, default 1s, range [1ms, 1m]\n");
    free(out);

    out = NULL;
    m = open_memstream(&out, &len);
    assert_int_equal(
        opd_config_map_describe(fake_lookup(OPD_KIND_RECEIVER, "fakerecv")->config_map, m, 0), 0);
    fclose(m);
    assert_string_equal(out, "enabled: bool, default true\n"
                             "frequency: int, default 19, range [1, 1000]\n"
                             "ratio: number, default 0.5, range [0, 1]\n"
                             "interval: duration, default 10s, range [1ms, 1h]\n"
                             "buffer: bytes, default 64MiB, range [4KiB, 1GiB]\n"
                             "endpoint: string, default localhost:4317\n"
                             "mode: enum, default auto, one of: auto, manual, off\n"
                             "tags: list of strings, default [a, b]\n"
                             "labels: map of strings, default {team: core}\n"
                             "rotation: section\n"
                             "  max_megabytes: int, default 100, range [1, 100000]\n"
                             "  path: string\n"
                             "  deep: section\n"
                             "    on: bool, default false\n"
                             "    level: int, default 3, range [1, 9]\n"
                             "rules: list of sections\n"
                             "  name: string\n"
                             "  weight: int, default 1, range [0, 100]\n"
                             "  match: list of strings\n");
    free(out);
}

/* ---- fault injection ----------------------------------------------------------------- */

static const char *fault_doc = "receivers:\n"
                               "  fakerecv:\n"
                               "    tags: [x, '${env:OPD_T_UNSET:-y}']\n"
                               "    labels: {a: b}\n"
                               "    rules: [{name: r, match: [m]}, {}]\n"
                               "  fakerecv/2: &r {frequency: 5}\n"
                               "  fakerecv/3: {<<: *r, enabled: false}\n"
                               "  plainrecv:\n"
                               "processors: {batch: {timeout: 1s}}\n"
                               "exporters:\n"
                               "  otlp: {endpoint: 'e:1', headers: {k: v}}\n"
                               "  debug:\n"
                               "extensions: {health_check: }\n"
                               "service:\n"
                               "  extensions: [health_check]\n"
                               "  telemetry: {metrics: {address: ':9'}}\n"
                               "  pipelines:\n"
                               "    profiles: {receivers: [fakerecv, plainrecv], "
                               "processors: [batch], exporters: [otlp]}\n"
                               "    profiles/b: {receivers: [fakerecv/2], exporters: [debug]}\n";

static void test_fault_injection_load(void **state)
{
    struct opd_cfg_errors errs;
    struct opd_config *c = NULL;
    long n;

    for (n = 0; n < 100000 && !c; n++) {
        opd_cfg_errors_init(&errs);
        opd_mem_fail_countdown = n;
        c = load_str(fault_doc, &errs);
        opd_mem_fail_countdown = -1;
        if (!c) {
            if (errno != ENOMEM)
                fail_msg("allocation %ld failed and load reported errno %d", n, errno);
        }
        opd_cfg_errors_fini(&errs);
    }
    assert_non_null(c);
    /* The document really needs many allocations; each failure point was exercised. */
    assert_true(n > 100);
    print_message("load: %ld allocation failure points, each ended in a clean ENOMEM\n", n - 1);
    for (long m = 0;; m++) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        int rc;

        opd_mem_fail_countdown = m;
        rc = opd_config_print(c, f);
        opd_mem_fail_countdown = -1;
        fclose(f);
        free(out);
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
    }
    opd_config_destroy(c);
}

static void test_fault_injection_errors(void **state)
{
    /* A broken document: every failure point must still end in ENOMEM or in the same
     * error list as without injected failures. */
    const char *doc = "receivers: {fakerecv: {frequency: 0, x: 1}}\n"
                      "exporters: {nosuch: }\n" MINIMAL_SERVICE;
    struct opd_cfg_errors errs;
    char *want, *got;
    long n;

    opd_cfg_errors_init(&errs);
    assert_null(load_str(doc, &errs));
    want = errs_text(&errs);
    opd_cfg_errors_fini(&errs);
    for (n = 0; n < 100000; n++) {
        opd_cfg_errors_init(&errs);
        opd_mem_fail_countdown = n;
        assert_null(load_str(doc, &errs));
        opd_mem_fail_countdown = -1;
        if (errno == EINVAL) {
            got = errs_text(&errs);
            assert_string_equal(got, want);
            free(got);
            opd_cfg_errors_fini(&errs);
            break;
        }
        assert_int_equal(errno, ENOMEM);
        opd_cfg_errors_fini(&errs);
    }
    assert_true(n > 10);
    free(want);
}

/* ---- fixtures ------------------------------------------------------------------------ */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    FILE *m;
    int ch;

    if (!f)
        return NULL;
    m = open_memstream(&buf, &len);
    while ((ch = fgetc(f)) != EOF)
        fputc(ch, m);
    fclose(m);
    fclose(f);
    return buf;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir/ *.yaml; returns the count. */
static size_t list_yaml(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    assert_non_null(d);
    *names = NULL;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);

        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0)
            continue;
        *names = realloc(*names, (n + 1) * sizeof(char *));
        assert_non_null(*names);
        (*names)[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(*names, n, sizeof(char *), cmp_names);
    return n;
}

static void enter_data_dir(void)
{
    assert_int_equal(chdir(OPD_CONFIG_TEST_DATA), 0);
    /* Fixtures that use variables get them from here. */
    setenv("OPD_FIXTURE_ENDPOINT", "collector:4317", 1);
    unsetenv("OPD_FIXTURE_UNSET");
}

static void test_broken_fixtures(void **state)
{
    char **names;
    size_t n;
    int failures = 0;
    bool update = getenv("OPD_UPDATE_GOLDEN") != NULL;

    enter_data_dir();
    n = list_yaml("broken", &names);
    assert_true(n >= 25);
    for (size_t i = 0; i < n; i++) {
        char path[512], errpath[512];
        const char *paths[1] = {path};
        struct opd_cfg_errors errs;
        struct opd_config *c;
        char *want, *got;

        snprintf(path, sizeof(path), "broken/%s", names[i]);
        snprintf(errpath, sizeof(errpath), "broken/%.*s.err", (int)strlen(names[i]) - 5, names[i]);
        opd_cfg_errors_init(&errs);
        c = opd_config_load_ex(paths, 1, fake_lookup, fake_list, &errs);
        got = errs_text(&errs);
        if (update) {
            FILE *f = fopen(errpath, "w");

            assert_non_null(f);
            fputs(got, f);
            fclose(f);
        }
        want = read_all(errpath);
        if (c) {
            print_error("%s: loaded without errors\n", path);
            failures++;
        } else if (!want) {
            print_error("%s: no %s\n", path, errpath);
            failures++;
        } else if (strcmp(want, got) != 0 || !got[0]) {
            print_error("%s:\nexpected:\n%sgot:\n%s", path, want, got);
            failures++;
        }
        opd_config_destroy(c);
        free(want);
        free(got);
        free(names[i]);
        opd_cfg_errors_fini(&errs);
    }
    free(names);
    assert_int_equal(failures, 0);
}

static void test_good_fixtures(void **state)
{
    char **names;
    size_t n;

    enter_data_dir();
    n = list_yaml("good", &names);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        const char *paths[1] = {path};
        struct opd_cfg_errors errs;
        struct opd_config *c;

        snprintf(path, sizeof(path), "good/%s", names[i]);
        opd_cfg_errors_init(&errs);
        c = opd_config_load_ex(paths, 1, fake_lookup, fake_list, &errs);
        if (!c) {
            char *got = errs_text(&errs);

            fail_msg("%s:\n%s", path, got);
        }
        check_print_roundtrip(c);
        opd_config_destroy(c);
        opd_cfg_errors_fini(&errs);
        free(names[i]);
    }
    free(names);
}

static void test_merge_files(void **state)
{
    const char *paths[] = {"merge/base.yaml", "merge/override.yaml"};
    struct opd_cfg_errors errs;
    const struct opd_component_cfg *cc;
    const struct fake_recv_cfg *r;
    struct opd_config *c;
    char *got;

    enter_data_dir();
    opd_cfg_errors_init(&errs);
    c = opd_config_load_ex(paths, 2, fake_lookup, fake_list, &errs);
    got = errs_text(&errs);
    if (!c)
        fail_msg("%s", got);
    free(got);
    cc = opd_config_find(c, OPD_KIND_RECEIVER, "fakerecv");
    r = cc->cfg;
    /* frequency from the override, interval kept from the base, tags replaced whole. */
    assert_int_equal(r->frequency, 97);
    assert_true(r->interval == 30 * SEC);
    assert_int_equal(r->tags.n, 1);
    assert_string_equal(r->tags.v[0], "override");
    assert_int_equal(r->rotation.max_megabytes, 50);
    assert_true(r->rotation.deep.on);
    assert_non_null(opd_config_find(c, OPD_KIND_EXPORTER, "file/x"));
    assert_non_null(opd_config_find(c, OPD_KIND_EXPORTER, "debug"));
    assert_int_equal(c->service.pipelines[0].n_exporters, 2);
    assert_string_equal(c->service.log_level, "warn");
    assert_string_equal(c->n_files == 2 ? c->files[1] : "", "merge/override.yaml");
    assert_string_equal(cc->pos.file, "merge/override.yaml");
    opd_config_destroy(c);
    opd_cfg_errors_fini(&errs);

    /* An error in the override file points into the override file, one in the base into
     * the base. */
    {
        const char *bad[] = {"merge/base_bad.yaml", "merge/override_bad.yaml"};

        opd_cfg_errors_init(&errs);
        assert_null(opd_config_load_ex(bad, 2, fake_lookup, fake_list, &errs));
        got = errs_text(&errs);
        assert_string_equal(got, "merge/base_bad.yaml:4:15: receivers::fakerecv::interval: "
                                 "value 0s out of range [1ms, 1h]\n"
                                 "merge/override_bad.yaml:3:16: receivers::fakerecv::frequency: "
                                 "value 5000 out of range [1, 1000]\n"
                                 "merge/override_bad.yaml:5:21: "
                                 "receivers::fakerecv::rotation::deep::level: "
                                 "value 0 out of range [1, 9]\n");
        free(got);
        opd_cfg_errors_fini(&errs);
    }
}

static void test_merge_files_parse_errors(void **state)
{
    /* Every file is read and its syntax errors reported, even after one failed. */
    const char *paths[] = {"merge/base.yaml", "broken/tab_indent.yaml", "broken/empty.yaml",
                           "merge/missing.yaml"};
    struct opd_cfg_errors errs;
    char *got;

    enter_data_dir();
    opd_cfg_errors_init(&errs);
    assert_null(opd_config_load_ex(paths, 4, fake_lookup, fake_list, &errs));
    assert_int_equal(errno, EINVAL);
    got = errs_text(&errs);
    assert_string_equal(got, "broken/tab_indent.yaml:3:1: found character that cannot start any "
                             "token (while scanning for the next token at 3:1)\n"
                             "broken/empty.yaml:1:1: the configuration is empty\n"
                             "merge/missing.yaml: cannot open: No such file or directory\n");
    free(got);
    opd_cfg_errors_fini(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_positions),
        cmocka_unit_test(test_node_errors),
        cmocka_unit_test(test_node_no_env),
        cmocka_unit_test(test_node_aliases),
        cmocka_unit_test(test_node_merge_keys),
        cmocka_unit_test(test_error_format),
        cmocka_unit_test(test_node_more_errors),
        cmocka_unit_test(test_node_big_map),
        cmocka_unit_test(test_node_depth),
        cmocka_unit_test(test_node_merge),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_bytes),
        cmocka_unit_test(test_parse_scalars),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bind_all_types),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_bind_more_errors),
        cmocka_unit_test(test_bind_type_errors),
        cmocka_unit_test(test_bind_null_keeps_default),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_load_document),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_unknown_type_none_built_in),
        cmocka_unit_test(test_load_no_files),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_fault_injection_load),
        cmocka_unit_test(test_fault_injection_errors),
        cmocka_unit_test(test_broken_fixtures),
        cmocka_unit_test(test_good_fixtures),
        cmocka_unit_test(test_merge_files),
        cmocka_unit_test(test_merge_files_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
