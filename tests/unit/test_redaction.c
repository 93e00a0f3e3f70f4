/* processor "redaction": the policy (keys, values, symbols, hashing), the rebuilt batch
 * (valid, deduplicated, no original name left in any byte of its encodings), and failing
 * closed (bad patterns are config errors; a batch that cannot be rewritten is dropped and
 * counted, never passed on). Input: tests/data/otlp/sample.jsonl and the otlp fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/component.h"
#include "collector/mem.h"
#include "collector/processors/redaction/redaction.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"
#include "test_otlp_fixture.h"

#define LIST(...)                                                                                  \
    ((struct opd_strlist){(char *[]){__VA_ARGS__},                                                 \
                          sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

static char salt_path[64];

static struct opd_batch *sample_batch(void)
{
    char path[1024], err[256];
    const char *src = getenv("OPD_SOURCE_DIR");
    size_t len;
    char *text, *nl;
    struct opd_batch *b;

    snprintf(path, sizeof(path), "%s/tests/data/otlp/sample.jsonl", src ? src : ".");
    text = otlp_read_file(path, &len);
    assert_non_null(text);
    nl = strchr(text, '\n');
    b = opd_json_decode(text, nl ? (size_t)(nl - text) : len, err, sizeof(err));
    free(text);
    assert_non_null(b);
    return b;
}

static struct opd_redaction_cfg base_cfg(void)
{
    struct opd_redaction_cfg c = {
        .allow_all_keys = true, .hash_function = "none", .summary = "silent"};

    c.symbols.action = "mask";
    c.symbols.mask = "[redacted]";
    return c;
}

static void compile(const struct opd_redaction_cfg *c, struct opd_redaction_policy *p)
{
    char err[256] = "";

    memset(p, 0, sizeof(*p));
    if (opd_redaction_policy_compile(c, p, err, sizeof(err)))
        fail_msg("policy: %s", err);
}

/* Encodes b as JSON and protobuf and fails if needle occurs in either. */
static void assert_absent(const struct opd_batch *b, const char *needle)
{
    char *json = NULL, err[256];
    uint8_t *pb = NULL;
    size_t jl, pl;

    assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
    assert_int_equal(opd_json_encode(b, &json, &jl), 0);
    assert_int_equal(opd_proto_encode(b, &pb, &pl), 0);
    assert_null(strstr(json, needle));
    assert_null(memmem(pb, pl, needle, strlen(needle)));
    free(json);
    free(pb);
}

static size_t count_strings(const struct opd_batch *b, const char *s)
{
    size_t n = 0;

    for (size_t i = 0; i < b->dict.n_strings; i++)
        n += strcmp(b->dict.strings[i], s) == 0;
    return n;
}

static void test_bad_patterns_are_config_errors(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p = {0};
    char err[256];

    c.symbols.blocked_patterns = LIST("ok", "([");
    assert_int_equal(opd_redaction_policy_compile(&c, &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "symbols::blocked_patterns::1"));
    opd_redaction_policy_fini(&p);

    c = base_cfg();
    c.blocked_values = LIST("a{2,1}");
    assert_int_equal(opd_redaction_policy_compile(&c, &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "blocked_values::0"));
    opd_redaction_policy_fini(&p);

    /* hashing without a secret salt would let short secrets be guessed */
    c = base_cfg();
    c.hash_function = "sha256";
    assert_int_equal(opd_redaction_policy_compile(&c, &p, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "hash_salt_file"));
    opd_redaction_policy_fini(&p);
    c.hash_salt_file = "/nonexistent/salt";
    assert_int_equal(opd_redaction_policy_compile(&c, &p, err, sizeof(err)), -EINVAL);
    opd_redaction_policy_fini(&p);
}

static void test_symbols_masked(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *in = sample_batch(), *out;

    assert_true(count_strings(in, "ngx_epoll_process_events") == 1);
    c.symbols.blocked_patterns = LIST("ngx_");
    compile(&c, &p);
    out = opd_redaction_rewrite(&p, in, &cnt);
    assert_non_null(out);
    assert_absent(out, "ngx_");
    /* one mask string however many names it replaced; nothing else lost */
    assert_int_equal(count_strings(out, "[redacted]"), 1);
    assert_true(cnt.symbols_redacted >= 5);
    assert_int_equal(opd_batch_sample_count(out), opd_batch_sample_count(in));
    assert_int_equal(out->dict.n_locations, in->dict.n_locations);
    assert_int_equal(count_strings(out, "epoll_wait"), 1);
    opd_batch_unref(out);
    opd_redaction_policy_fini(&p);
    opd_batch_unref(in);
}

static void test_symbols_hashed_stable(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p1, p2;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *in = sample_batch(), *o1, *o2;
    char h1[33], h2[33];
    FILE *f;

    c.symbols.blocked_patterns = LIST("ngx_");
    c.symbols.action = "hash";
    c.hash_salt_file = salt_path;
    compile(&c, &p1);
    compile(&c, &p2); /* as after a restart */
    o1 = opd_redaction_rewrite(&p1, in, &cnt);
    o2 = opd_redaction_rewrite(&p2, in, &cnt);
    assert_non_null(o1);
    assert_non_null(o2);
    assert_absent(o1, "ngx_");
    otlp_assert_batch_equal(o1, o2);
    assert_int_equal(opd_redaction_hash(&p1, "ngx_a", 5, h1), 0);
    assert_int_equal(opd_redaction_hash(&p1, "ngx_b", 5, h2), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(count_strings(o1, h1), 0);
    /* another salt, other hashes */
    f = fopen(salt_path, "w");
    fputs("a-different-secret-salt-value\n", f);
    fclose(f);
    opd_redaction_policy_fini(&p2);
    compile(&c, &p2);
    assert_int_equal(opd_redaction_hash(&p2, "ngx_a", 5, h2), 0);
    assert_string_not_equal(h1, h2);
    f = fopen(salt_path, "w");
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    opd_batch_unref(o1);
    opd_batch_unref(o2);
    opd_redaction_policy_fini(&p1);
    opd_redaction_policy_fini(&p2);
    opd_batch_unref(in);
}

static void test_drop_frames(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *in = sample_batch(), *out;

    c.symbols.blocked_patterns = LIST("^ngx_");
    c.symbols.allowed_patterns = LIST("^ngx_process_events_and_timers$");
    c.symbols.action = "drop_frames";
    compile(&c, &p);
    out = opd_redaction_rewrite(&p, in, &cnt);
    assert_non_null(out);
    assert_true(cnt.frames_dropped > 0);
    assert_true(out->dict.n_locations < in->dict.n_locations);
    assert_int_equal(count_strings(out, "ngx_epoll_process_events"), 0);
    /* the allowed name survives */
    assert_int_equal(count_strings(out, "ngx_process_events_and_timers"), 1);
    assert_int_equal(opd_batch_sample_count(out), opd_batch_sample_count(in));
    assert_absent(out, "ngx_worker_process_cycle");
    opd_batch_unref(out);
    opd_redaction_policy_fini(&p);
    opd_batch_unref(in);
}

static void test_keys_and_values(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *in = sample_batch(), *out;
    struct opd_resource *r = &in->resources[0];
    const struct opd_value *v;

    assert_int_equal(opd_attrs_set_str(in, &r->attrs, "process.command_line", "app --pw=hunter2"),
                     0);
    assert_int_equal(opd_attrs_set_str(in, &r->attrs, "process.environment_variable.TOKEN", "x"),
                     0);
    assert_int_equal(opd_attrs_set_str(in, &r->attrs, "note", "card 1234-5678 and 9999-0000"), 0);
    assert_int_equal(opd_attrs_set_str(in, &r->attrs, "ok.note", "card 1111-2222 ok"), 0);
    assert_int_equal(opd_attrs_set_str(in, &r->attrs, "db.secret", "hunter2"), 0);
    c.blocked_values = LIST("[0-9]{4}-[0-9]{4}");
    c.allowed_values = LIST(" ok$");
    c.blocked_key_patterns = LIST("secret");
    compile(&c, &p);
    out = opd_redaction_rewrite(&p, in, &cnt);
    assert_non_null(out);
    r = &out->resources[0];
    /* command lines and environments only when explicitly allowed */
    assert_null(opd_attrs_get(&r->attrs, "process.command_line"));
    assert_null(opd_attrs_get(&r->attrs, "process.environment_variable.TOKEN"));
    assert_string_equal(opd_attrs_get(&r->attrs, "note")->u.str, "card **** and ****");
    assert_string_equal(opd_attrs_get(&r->attrs, "ok.note")->u.str, "card 1111-2222 ok");
    assert_string_equal(opd_attrs_get(&r->attrs, "db.secret")->u.str, "****");
    assert_non_null(opd_attrs_get(&r->attrs, "container.id"));
    assert_absent(out, "hunter2");
    assert_int_equal(cnt.keys_dropped, 2);
    opd_batch_unref(out);
    opd_redaction_policy_fini(&p);

    /* allow_all_keys false: only allowed keys survive, at every level */
    c = base_cfg();
    c.allow_all_keys = false;
    c.allowed_keys = LIST("process.pid", "process.command_line");
    compile(&c, &p);
    out = opd_redaction_rewrite(&p, in, &cnt);
    assert_non_null(out);
    r = &out->resources[0];
    assert_int_equal(r->attrs.n, 2);
    v = opd_attrs_get(&r->attrs, "process.command_line");
    assert_non_null(v);
    assert_non_null(opd_attrs_get(&r->attrs, "process.pid"));
    for (size_t i = 1; i < out->dict.n_attributes; i++)
        fail_msg("dictionary attribute %zu survived", i);
    assert_absent(out, "thread.name");
    opd_batch_unref(out);
    opd_redaction_policy_fini(&p);
    opd_batch_unref(in);
}

static size_t payload_bytes(const struct opd_batch *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n_resources; i++)
        for (size_t j = 0; j < b->resources[i].n_scopes; j++)
            for (size_t k = 0; k < b->resources[i].scopes[j].n_profiles; k++)
                n += b->resources[i].scopes[j].profiles[k].original_payload_len;
    return n;
}

static void test_original_payload_dropped(void **state)
{
    struct opd_redaction_cfg c = base_cfg();
    struct opd_redaction_policy p;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *in = otlp_fixture_rich(), *out;
    char err[256];

    assert_non_null(in);
    assert_true(payload_bytes(in) > 0);
    compile(&c, &p);
    out = opd_redaction_rewrite(&p, in, &cnt);
    assert_non_null(out);
    /* a raw payload would carry every name unredacted */
    assert_int_equal(payload_bytes(out), 0);
    assert_int_equal(opd_batch_check(out, err, sizeof(err)), 0);
    assert_int_equal(opd_batch_sample_count(out), opd_batch_sample_count(in));
    opd_batch_unref(out);
    opd_redaction_policy_fini(&p);
    opd_batch_unref(in);
}

/* ---- the component fails closed ---------------------------------------------------- */

struct sink {
    struct opd_component base;
    int batches;
    char *json;
};

static int sink_consume(struct opd_component *self, struct opd_batch *b)
{
    struct sink *s = (struct sink *)self;
    size_t len;

    long saved = opd_mem_fail_countdown;

    /* The failure injection is aimed at the processor, not at this observer. */
    opd_mem_fail_countdown = -1;
    s->batches++;
    free(s->json);
    s->json = NULL;
    assert_int_equal(opd_json_encode(b, &s->json, &len), 0);
    opd_mem_fail_countdown = saved;
    opd_batch_unref(b);
    return 0;
}

static const struct opd_component_ops sink_ops = {.consume = sink_consume};

extern const struct opd_factory opd_redaction_processor_factory;

static void test_component_fails_closed(void **state)
{
    struct opd_telemetry *t = opd_telemetry_create();
    struct sink s = {.base.ops = &sink_ops};
    struct opd_redaction_cfg c = base_cfg();
    struct opd_create_params params = {
        .id = "redaction", .logname = "processor/redaction", .telemetry = t, .next = &s.base};
    struct opd_component *r;
    struct opd_metric *dropped;
    long n;
    int err;

    c.symbols.blocked_patterns = LIST("ngx_");
    r = opd_redaction_processor_factory.create(&params, &c);
    assert_non_null(r);
    r->logname = "processor/redaction";
    dropped =
        opd_telemetry_find(t, "otelprofd_redaction_dropped_batches", "processor=\"redaction\"");
    assert_non_null(dropped);
    /* Fail each allocation in turn: either the batch arrives redacted, or nothing does. */
    for (n = 0;; n++) {
        struct opd_batch *b = sample_batch();
        int before = s.batches;

        opd_mem_fail_countdown = n;
        err = opd_component_consume(r, b);
        opd_mem_fail_countdown = -1;
        if (err == 0) {
            assert_int_equal(s.batches, before + 1);
            assert_null(strstr(s.json, "ngx_"));
            break;
        }
        assert_int_equal(err, -ENOMEM);
        assert_int_equal(s.batches, before);
        assert_int_equal(opd_metric_get(dropped), n + 1);
    }
    assert_true(n > 10);
    r->logname = NULL;
    r->ops->destroy(r);
    free(s.json);
    opd_telemetry_destroy(t);

    /* a pattern that does not compile: no instance */
    c.symbols.blocked_patterns = LIST("(");
    assert_null(opd_redaction_processor_factory.create(&params, &c));
    assert_int_equal(errno, EINVAL);
}

static int setup(void **state)
{
    FILE *f;

    snprintf(salt_path, sizeof(salt_path), "/tmp/opd-redaction-salt-%d", (int)getpid());
    f = fopen(salt_path, "w");
    if (!f)
        return -1;
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    unlink(salt_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_patterns_are_config_errors),
        cmocka_unit_test(test_symbols_masked),
        cmocka_unit_test(test_symbols_hashed_stable),
        cmocka_unit_test(test_drop_frames),
        cmocka_unit_test(test_keys_and_values),
        cmocka_unit_test(test_original_payload_dropped),
        cmocka_unit_test(test_component_fails_closed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
