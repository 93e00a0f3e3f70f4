/* Cross-check against the official schema: encode a batch, let protoc decode the bytes
 * with the upstream opentelemetry-proto .proto files, and compare the decoded text field
 * by field with the batch. Skips (exit 77) when the reference schema or protoc is absent. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "otlp/otlp_paths.h"
#include "otlp/profiles.h"
#include "tests/unit/test_otlp_fixture.h"

#define SERVICE_PROTO "opentelemetry/proto/collector/profiles/v1development/profiles_service.proto"

static char ref_dir[4096];

/* One decoded leaf (or "{}" for a message) under its full path; every message level
 * carries its index among same-named siblings, e.g.
 * "dictionary[0].stack_table[3].location_indices". */
struct leaf {
    char *path;
    char *value;
};

struct text {
    struct leaf *v;
    size_t n, cap;
};

struct frame {
    char path[600];
    /* sibling counters for repeated messages under this frame */
    char names[64][64];
    int counts[64];
    int n_names;
};

static int sibling_index(struct frame *f, const char *name)
{
    int i;

    for (i = 0; i < f->n_names; i++)
        if (!strcmp(f->names[i], name))
            return f->counts[i]++;
    assert_true(f->n_names < 64);
    snprintf(f->names[f->n_names], sizeof(f->names[0]), "%s", name);
    f->counts[f->n_names++] = 1;
    return 0;
}

static void add_leaf(struct text *t, const char *path, const char *value)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->v = realloc(t->v, t->cap * sizeof(*t->v));
        assert_non_null(t->v);
    }
    t->v[t->n].path = strdup(path);
    t->v[t->n].value = strdup(value);
    t->n++;
}

/* Parses protoc's text format output. */
static void parse_text(FILE *in, struct text *t)
{
    static struct frame stack[32];
    char line[8192], path[600];
    int depth = 0;

    memset(&stack[0], 0, sizeof(stack[0]));
    while (fgets(line, sizeof(line), in)) {
        char *s = line, *e;
        size_t len;

        while (*s == ' ')
            s++;
        len = strlen(s);
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
            s[--len] = '\0';
        if (!len)
            continue;
        if (!strcmp(s, "}")) {
            assert_true(depth > 0);
            depth--;
            continue;
        }
        if (len > 2 && !strcmp(s + len - 2, " {")) {
            s[len - 2] = '\0';
            assert_true(depth < 31);
            snprintf(path, sizeof(path), "%.400s%s%.150s[%d]", stack[depth].path, depth ? "." : "",
                     s, sibling_index(&stack[depth], s));
            depth++;
            memset(&stack[depth], 0, sizeof(stack[depth]));
            snprintf(stack[depth].path, sizeof(stack[depth].path), "%s", path);
            add_leaf(t, path, "{}");
            continue;
        }
        e = strstr(s, ": ");
        assert_non_null(e);
        *e = '\0';
        snprintf(path, sizeof(path), "%.400s%s%.150s", stack[depth].path, depth ? "." : "", s);
        add_leaf(t, path, e + 2);
    }
    assert_int_equal(depth, 0);
}

static void text_free(struct text *t)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        free(t->v[i].path);
        free(t->v[i].value);
    }
    free(t->v);
}

/* All values at path, comma separated, in order ("" when absent). */
static const char *values(const struct text *t, const char *fmt, ...)
{
    static char out[16384];
    char path[600];
    size_t o = 0, i;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    out[0] = '\0';
    for (i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].path, path))
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? "," : "", t->v[i].value);
    return out;
}

static size_t count_blocks(const struct text *t, const char *prefix)
{
    size_t i, n = 0, pl = strlen(prefix);

    for (i = 0; i < t->n; i++)
        if (!strncmp(t->v[i].path, prefix, pl) && t->v[i].path[pl] == '[' &&
            !strchr(t->v[i].path + pl, '.') && !strcmp(t->v[i].value, "{}"))
            n++;
    return n;
}

static void join_i32(char *out, size_t cap, const int32_t *v, size_t n)
{
    size_t i, o = 0;

    out[0] = '\0';
    for (i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%" PRId32, i ? "," : "", v[i]);
}

/* protoc omits fields at their default value. */
static void expect_num(const struct text *t, int64_t want, const char *path)
{
    char buf[32] = "";

    if (want)
        snprintf(buf, sizeof(buf), "%" PRId64, want);
    assert_string_equal(values(t, "%s", path), buf);
}

static void expect_u64(const struct text *t, uint64_t want, const char *path)
{
    char buf[32] = "";

    if (want)
        snprintf(buf, sizeof(buf), "%" PRIu64, want);
    assert_string_equal(values(t, "%s", path), buf);
}

/* Runs protoc --decode on buf; returns 0 and fills t, or the protoc exit status. */
static int protoc_decode(const uint8_t *buf, size_t len, struct text *t)
{
    char bin[] = "/tmp/opd_otlp_protoc_XXXXXX", cmd[8192];
    FILE *f, *p;
    int fd, rc;

    fd = mkstemp(bin);
    assert_true(fd >= 0);
    f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "protoc --decode=%s -I '%s' %s < %s", OPD_OTLP_EXPORT_REQUEST_TYPE,
             ref_dir, SERVICE_PROTO, bin);
    p = popen(cmd, "r");
    assert_non_null(p);
    parse_text(p, t);
    rc = pclose(p);
    unlink(bin);
    return rc;
}

static void check_dictionary(const struct text *t, const struct opd_dict *d)
{
    char want[4096], got[4096];
    size_t i, j;

    /* string table, in order, entry 0 first */
    for (i = 0, want[0] = '\0'; i < d->n_strings; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\"%s\"", i ? "," : "",
                 d->strings[i]);
    assert_string_equal(values(t, "dictionary[0].string_table"), want);
    assert_int_equal(count_blocks(t, "dictionary[0].mapping_table"), d->n_mappings);
    assert_int_equal(count_blocks(t, "dictionary[0].location_table"), d->n_locations);
    assert_int_equal(count_blocks(t, "dictionary[0].function_table"), d->n_functions);
    assert_int_equal(count_blocks(t, "dictionary[0].stack_table"), d->n_stacks);
    assert_int_equal(count_blocks(t, "dictionary[0].attribute_table"), d->n_attributes);
    assert_int_equal(count_blocks(t, "dictionary[0].link_table"), d->n_links);
    /* the zero link has empty byte strings */
    assert_string_equal(values(t, "dictionary[0].link_table[0].trace_id"), "");
    for (i = 0; i < d->n_stacks; i++) {
        /* leaf first, exactly as interned */
        join_i32(want, sizeof(want), d->stacks[i].location_indices, d->stacks[i].n);
        assert_string_equal(values(t, "dictionary[0].stack_table[%zu].location_indices", i), want);
    }
    for (i = 0; i < d->n_locations; i++) {
        const struct opd_location *l = &d->locations[i];

        snprintf(got, sizeof(got), "dictionary[0].location_table[%zu].mapping_index", i);
        expect_num(t, l->mapping_index, got);
        snprintf(got, sizeof(got), "dictionary[0].location_table[%zu].address", i);
        expect_u64(t, l->address, got);
        join_i32(want, sizeof(want), l->attr_indices, l->n_attr);
        assert_string_equal(values(t, "dictionary[0].location_table[%zu].attribute_indices", i),
                            want);
        for (j = 0; j < l->n_lines; j++) {
            snprintf(got, sizeof(got),
                     "dictionary[0].location_table[%zu].lines[%zu].function_index", i, j);
            expect_num(t, l->lines[j].function_index, got);
        }
    }
    for (i = 0; i < d->n_mappings; i++) {
        snprintf(got, sizeof(got), "dictionary[0].mapping_table[%zu].memory_start", i);
        expect_u64(t, d->mappings[i].memory_start, got);
        snprintf(got, sizeof(got), "dictionary[0].mapping_table[%zu].memory_limit", i);
        expect_u64(t, d->mappings[i].memory_limit, got);
        snprintf(got, sizeof(got), "dictionary[0].mapping_table[%zu].file_offset", i);
        expect_u64(t, d->mappings[i].file_offset, got);
        snprintf(got, sizeof(got), "dictionary[0].mapping_table[%zu].filename_strindex", i);
        expect_num(t, d->mappings[i].filename_strindex, got);
    }
    for (i = 0; i < d->n_functions; i++) {
        snprintf(got, sizeof(got), "dictionary[0].function_table[%zu].name_strindex", i);
        expect_num(t, d->functions[i].name_strindex, got);
        snprintf(got, sizeof(got), "dictionary[0].function_table[%zu].filename_strindex", i);
        expect_num(t, d->functions[i].filename_strindex, got);
    }
    for (i = 0; i < d->n_attributes; i++) {
        const struct opd_attribute *a = &d->attributes[i];

        snprintf(got, sizeof(got), "dictionary[0].attribute_table[%zu].key_strindex", i);
        expect_num(t, a->key_strindex, got);
        if (a->value.type == OPD_VAL_STR) {
            snprintf(want, sizeof(want), "\"%s\"", a->value.u.str);
            assert_string_equal(
                values(t, "dictionary[0].attribute_table[%zu].value[0].string_value", i), want);
        }
    }
}

static void check_resources(const struct text *t, const struct opd_batch *b)
{
    char want[4096], p[512], q[600];
    size_t r, k, s;

    assert_int_equal(count_blocks(t, "resource_profiles"), b->n_resources);
    for (r = 0; r < b->n_resources; r++) {
        const struct opd_resource *res = &b->resources[r];
        const struct opd_profile *pr = &res->scopes[0].profiles[0];

        /* inline key + string_value / int_value, never key_strindex */
        for (k = 0; k < res->attrs.n; k++) {
            const struct opd_kv *kv = &res->attrs.v[k];

            snprintf(want, sizeof(want), "\"%s\"", kv->key);
            assert_string_equal(
                values(t, "resource_profiles[%zu].resource[0].attributes[%zu].key", r, k), want);
            assert_string_equal(
                values(t, "resource_profiles[%zu].resource[0].attributes[%zu].key_strindex", r, k),
                "");
            if (kv->value.type == OPD_VAL_STR)
                snprintf(want, sizeof(want), "\"%s\"", kv->value.u.str);
            else
                snprintf(want, sizeof(want), "%" PRId64, kv->value.u.i);
            assert_string_equal(
                values(t, "resource_profiles[%zu].resource[0].attributes[%zu].value[0].%s", r, k,
                       kv->value.type == OPD_VAL_STR ? "string_value" : "int_value"),
                want);
        }
        snprintf(p, sizeof(p), "resource_profiles[%zu].scope_profiles[0].profiles[0]", r);
        snprintf(want, sizeof(want), "\"%s\"", res->scopes[0].name);
        assert_string_equal(values(t, "resource_profiles[%zu].scope_profiles[0].scope[0].name", r),
                            want);
        snprintf(q, sizeof(q), "%s.time_unix_nano", p);
        expect_u64(t, pr->time_unix_nano, q);
        snprintf(q, sizeof(q), "%s.duration_nano", p);
        expect_u64(t, pr->duration_nano, q);
        snprintf(q, sizeof(q), "%s.period", p);
        expect_num(t, pr->period, q);
        snprintf(q, sizeof(q), "%s.sample_type[0].type_strindex", p);
        expect_num(t, pr->sample_type.type_strindex, q);
        snprintf(q, sizeof(q), "%s.period_type[0].unit_strindex", p);
        expect_num(t, pr->period_type.unit_strindex, q);
        for (s = 0; s < pr->n_samples; s++) {
            const struct opd_sample *sm = &pr->samples[s];
            size_t i, o;

            snprintf(q, sizeof(q), "%s.samples[%zu].stack_index", p, s);
            expect_num(t, sm->stack_index, q);
            snprintf(q, sizeof(q), "%s.samples[%zu].link_index", p, s);
            expect_num(t, sm->link_index, q);
            join_i32(want, sizeof(want), sm->attr_indices, sm->n_attr);
            assert_string_equal(values(t, "%s.samples[%zu].attribute_indices", p, s), want);
            for (i = 0, o = 0, want[0] = '\0'; i < sm->n_values; i++)
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%" PRId64, i ? "," : "",
                                      sm->values[i]);
            assert_string_equal(values(t, "%s.samples[%zu].values", p, s), want);
            for (i = 0, o = 0, want[0] = '\0'; i < sm->n_timestamps; i++)
                o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%" PRIu64, i ? "," : "",
                                      sm->timestamps[i]);
            assert_string_equal(values(t, "%s.samples[%zu].timestamps_unix_nano", p, s), want);
        }
    }
}

static void test_fixture_decodes_with_protoc(void **state)
{
    struct opd_batch *b = otlp_fixture_batch();
    struct text t = {0};
    uint8_t *buf;
    size_t len;

    assert_non_null(b);
    assert_int_equal(opd_proto_encode(b, &buf, &len), 0);
    assert_int_equal(protoc_decode(buf, len, &t), 0);
    assert_true(t.n > 100);
    check_dictionary(&t, &b->dict);
    check_resources(&t, b);
    text_free(&t);
    free(buf);
    opd_batch_unref(b);
}

/* The recorded example file: every line decodes with our JSON decoder, and its protobuf
 * form decodes with protoc to the same string table. */
static void test_sample_jsonl_decodes_with_protoc(void **state)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    char path[4096], err[256];
    size_t len, lines = 0;
    char *data, *line, *next;

    snprintf(path, sizeof(path), "%s/tests/data/otlp/sample.jsonl", src ? src : ".");
    data = otlp_read_file(path, &len);
    if (!data)
        fail_msg("cannot read %s", path);
    for (line = data; line && *line; line = next) {
        struct opd_batch *b;
        struct text t = {0};
        uint8_t *buf;
        size_t blen;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line)
            continue;
        b = opd_json_decode(line, strlen(line), err, sizeof(err));
        if (!b)
            fail_msg("%s line %zu: %s", path, lines + 1, err);
        assert_int_equal(opd_batch_check(b, err, sizeof(err)), 0);
        assert_int_equal(opd_proto_encode(b, &buf, &blen), 0);
        assert_int_equal(protoc_decode(buf, blen, &t), 0);
        check_dictionary(&t, &b->dict);
        check_resources(&t, b);
        text_free(&t);
        free(buf);
        opd_batch_unref(b);
        lines++;
    }
    assert_true(lines >= 2);
    free(data);
}

/* ---- schema equivalence ---------------------------------------------------------------
 * Our otlp/proto/ files are written by hand; compile them and the upstream files into
 * descriptor sets and compare every message, field (name, number, label, type, type name,
 * json name, oneof) and service per package. protoc --decode_raw reads the descriptor sets
 * (descriptor.proto is not needed); it guesses some strings to be messages, identically on
 * both sides, so leaves are compared by their raw paths. */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct strs {
    char **v;
    size_t n, cap;
};

static void strs_add(struct strs *s, const char *x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        assert_non_null(s->v);
    }
    s->v[s->n] = strdup(x);
    assert_non_null(s->v[s->n]);
    s->n++;
}

static void strs_free(struct strs *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Sorted, newline-joined; malloc'ed. */
static char *strs_join(struct strs *s)
{
    size_t i, len = 1;
    char *out;

    qsort(s->v, s->n, sizeof(*s->v), cmp_str);
    for (i = 0; i < s->n; i++)
        len += strlen(s->v[i]) + 1;
    out = malloc(len);
    assert_non_null(out);
    out[0] = '\0';
    for (i = 0; i < s->n; i++) {
        strcat(out, s->v[i]);
        strcat(out, "\n");
    }
    return out;
}

/* One line per message or service of the descriptor set: "<package> <signature>", where
 * the signature holds the sorted leaves of the message with the field entries themselves
 * sorted, so declaration order does not matter. */
static void schema_lines(const struct text *t, struct strs *out)
{
    int f, m, k, maxf = -1, maxm = 64, maxk = 64;
    size_t i;

    for (i = 0; i < t->n; i++)
        if (sscanf(t->v[i].path, "1[%d]", &f) == 1 && f > maxf)
            maxf = f;
    for (f = 0; f <= maxf; f++) {
        char pfx[64], pkg[256] = "";

        snprintf(pfx, sizeof(pfx), "1[%d].2", f);
        snprintf(pkg, sizeof(pkg), "%s", values(t, "%s", pfx));
        for (m = 0; m < maxm; m++) {
            int kind;

            for (kind = 4; kind <= 6; kind += 2) { /* 4: message_type, 6: service */
                struct strs msg = {0};
                char mp[64], *sig, *line;

                snprintf(mp, sizeof(mp), "1[%d].%d[%d].", f, kind, m);
                for (k = -1; k < maxk; k++) {
                    struct strs leaves = {0};
                    char fp[96], leaf[1024], *joined;

                    if (k >= 0)
                        snprintf(fp, sizeof(fp), "%s2[%d].", mp, k);
                    for (i = 0; i < t->n; i++) {
                        const char *path = t->v[i].path;

                        if (!strcmp(t->v[i].value, "{}") || strncmp(path, mp, strlen(mp)))
                            continue;
                        if (k >= 0 && strncmp(path, fp, strlen(fp)))
                            continue;
                        /* message-level pass: everything that is not a field entry */
                        if (k < 0 && kind == 4 && !strncmp(path + strlen(mp), "2[", 2))
                            continue;
                        snprintf(leaf, sizeof(leaf), "%s=%s",
                                 path + (k >= 0 ? strlen(fp) : strlen(mp)), t->v[i].value);
                        strs_add(&leaves, leaf);
                    }
                    if (leaves.n) {
                        joined = strs_join(&leaves);
                        strs_add(&msg, joined);
                        free(joined);
                    }
                    strs_free(&leaves);
                    if (kind == 6)
                        break; /* services: one pass over all leaves */
                }
                if (!msg.n)
                    continue;
                sig = strs_join(&msg);
                line = malloc(strlen(pkg) + strlen(sig) + 8);
                assert_non_null(line);
                sprintf(line, "%s %s", pkg, sig);
                strs_add(out, line);
                free(line);
                free(sig);
                strs_free(&msg);
            }
        }
    }
}

static void descriptor_set(const char *include, const char *files, struct text *t)
{
    char pb[] = "/tmp/opd_otlp_desc_XXXXXX", cmd[8192];
    FILE *p;
    int fd = mkstemp(pb);

    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "protoc --include_imports --descriptor_set_out=%s -I '%s' %s && protoc --decode_raw "
             "< %s",
             pb, include, files, pb);
    p = popen(cmd, "r");
    assert_non_null(p);
    parse_text(p, t);
    assert_int_equal(pclose(p), 0);
    unlink(pb);
}

static void test_schema_matches_upstream(void **state)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    struct text up = {0}, ours = {0};
    struct strs a = {0}, b = {0};
    size_t i;

    descriptor_set(ref_dir, SERVICE_PROTO, &up);
    descriptor_set(src ? src : ".", "otlp/proto/profiles_service.proto", &ours);
    schema_lines(&up, &a);
    schema_lines(&ours, &b);
    assert_true(a.n >= 20); /* every message of the four files, and the service */
    qsort(a.v, a.n, sizeof(*a.v), cmp_str);
    qsort(b.v, b.n, sizeof(*b.v), cmp_str);
    for (i = 0; i < a.n && i < b.n; i++)
        if (strcmp(a.v[i], b.v[i]))
            fail_msg("schema differs:\nupstream:\n%s\nours:\n%s", a.v[i], b.v[i]);
    assert_int_equal(a.n, b.n);
    strs_free(&a);
    strs_free(&b);
    text_free(&up);
    text_free(&ours);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_decodes_with_protoc),
        cmocka_unit_test(test_sample_jsonl_decodes_with_protoc),
        cmocka_unit_test(test_schema_matches_upstream),
    };
    const char *src = getenv("OPD_SOURCE_DIR"), *over = getenv("OPD_OTLP_PROTO_REF");
    char svc[8192];
    struct stat st;

    if (over)
        snprintf(ref_dir, sizeof(ref_dir), "%s", over);
    else
        snprintf(ref_dir, sizeof(ref_dir), "%s/../shared/ref/opentelemetry-proto", src ? src : ".");
    snprintf(svc, sizeof(svc), "%s/%s", ref_dir, SERVICE_PROTO);
    if (stat(svc, &st)) {
        printf("SKIP: reference schema %s not found (set OPD_OTLP_PROTO_REF)\n", svc);
        return 77;
    }
    if (system("protoc --version > /dev/null 2>&1") != 0) {
        printf("SKIP: protoc is not installed\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
