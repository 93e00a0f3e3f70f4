/* Recorded-input helpers of the flamegraph and report subcommands: the string index
 * (growth, stable indices, out of memory), --filter parsing and matching, and reading a
 * file or a directory of OTLP/JSON lines with bad lines skipped and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/otelprofd/recorded.h"
#include "collector/mem.h"
#include "otlp/profiles.h"

static void test_keyidx(void **state)
{
    struct opd_keyidx ix = {0};
    char key[32];
    bool added;

    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(opd_keyidx_get(&ix, key, &added), i);
        assert_true(added);
    }
    for (int i = 4999; i >= 0; i--) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(opd_keyidx_get(&ix, key, &added), i);
        assert_false(added);
    }
    assert_string_equal(ix.keys[1234], "k1234");
    assert_int_equal(opd_keyidx_get(&ix, "", NULL), 5000);
    opd_keyidx_fini(&ix);

    /* Out of memory at every step: a clean -ENOMEM, and the index stays consistent. */
    for (long n = 0; n < 8; n++) {
        long rc;
        opd_mem_fail_countdown = n;
        rc = opd_keyidx_get(&ix, "x", &added);
        opd_mem_fail_countdown = -1;
        assert_true(rc == 0 || rc == -ENOMEM);
        assert_int_equal(opd_keyidx_get(&ix, "x", NULL), 0);
        assert_int_equal(opd_keyidx_get(&ix, "y", NULL), 1);
        opd_keyidx_fini(&ix);
    }
}

static void test_filters(void **state)
{
    struct opd_filter f[2];
    struct opd_batch *b = opd_batch_create();
    struct opd_resource *r = opd_batch_add_resource(b);

    assert_int_equal(opd_filter_parse("noequals", &f[0]), -EINVAL);
    assert_int_equal(opd_filter_parse("=v", &f[0]), -EINVAL);
    assert_int_equal(opd_filter_parse("team=", &f[0]), 0);
    assert_string_equal(f[0].key, "team");
    assert_string_equal(f[0].value, "");
    opd_filter_fini(&f[0]);
    assert_int_equal(opd_filter_parse("service.name=a=b", &f[0]), 0);
    assert_string_equal(f[0].value, "a=b");
    assert_int_equal(opd_filter_parse("process.pid=42", &f[1]), 0);

    opd_attrs_set_str(b, &r->attrs, "service.name", "a=b");
    assert_true(opd_filter_match(f, 1, r));
    assert_false(opd_filter_match(f, 2, r)); /* pid missing */
    opd_attrs_set_int(b, &r->attrs, "process.pid", 42);
    assert_true(opd_filter_match(f, 2, r));
    opd_attrs_set_int(b, &r->attrs, "process.pid", 43);
    assert_false(opd_filter_match(f, 2, r));
    assert_true(opd_filter_match(f, 0, r)); /* no filter keeps everything */
    opd_filter_fini(&f[0]);
    opd_filter_fini(&f[1]);
    opd_batch_unref(b);
}

struct seen {
    int requests;
    uint64_t samples;
};

static int count(const struct opd_batch *b, void *arg)
{
    struct seen *s = arg;

    s->requests++;
    s->samples += opd_batch_sample_count(b);
    return 0;
}

static int stop_early(const struct opd_batch *b, void *arg)
{
    return 42;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_read(void **state)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    char fixture[512], dir[] = "/tmp/opd-recorded-XXXXXX", path[600], cmd[1300];
    struct opd_recorded_stats st;
    struct seen s = {0};
    FILE *in;
    char *line = NULL;
    size_t cap = 0;

    assert_non_null(src);
    snprintf(fixture, sizeof(fixture), "%s/tests/data/obs/cpu.jsonl", src);
    assert_int_equal(opd_recorded_read(fixture, count, &s, &st), 0);
    assert_int_equal(s.requests, 2);
    assert_int_equal(s.samples, 280);
    assert_int_equal(st.files, 1);
    assert_int_equal(st.bad_lines, 0);

    /* A directory: *.json and *.jsonl in name order, other files ignored, bad lines and
     * blank lines skipped. */
    assert_non_null(mkdtemp(dir));
    in = fopen(fixture, "r");
    assert_non_null(in);
    assert_true(getline(&line, &cap, in) > 0);
    fclose(in);
    snprintf(path, sizeof(path), "%s/b.jsonl", dir);
    write_file(path, line);
    snprintf(path, sizeof(path), "%s/a.json", dir);
    write_file(path, "\n{\"resourceProfiles\": [\n");
    snprintf(path, sizeof(path), "%s/c.txt", dir);
    write_file(path, line);
    free(line);
    memset(&s, 0, sizeof(s));
    assert_int_equal(opd_recorded_read(dir, count, &s, &st), 0);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.samples, 155);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.bad_lines, 1);
    assert_int_equal(opd_recorded_read(dir, stop_early, NULL, &st), 42);

    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(opd_recorded_read(path, count, &s, &st), -ENOENT);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The file exporter's format: proto (4-byte big-endian length + protobuf) reads like JSON
 * lines; a request that does not decode is skipped, a torn frame ends the file. */
static void test_read_proto(void **state)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    char fixture[512], path[] = "/tmp/opd-recorded-pb-XXXXXX";
    struct opd_recorded_stats st;
    struct seen s = {0}, want = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *in, *out;
    int fd;

    (void)state;
    assert_non_null(src);
    snprintf(fixture, sizeof(fixture), "%s/tests/data/otlp/sample.jsonl", src);
    in = fopen(fixture, "r");
    assert_non_null(in);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    out = fdopen(fd, "wb");
    assert_non_null(out);
    while ((n = getline(&line, &cap, in)) > 0) {
        struct opd_batch *b = opd_json_decode(line, (size_t)n, NULL, 0);
        uint8_t *pb, hdr[4];
        size_t len;

        assert_non_null(b);
        count(b, &want);
        assert_int_equal(opd_proto_encode(b, &pb, &len), 0);
        hdr[0] = (uint8_t)(len >> 24);
        hdr[1] = (uint8_t)(len >> 16);
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        fwrite(hdr, 1, 4, out);
        fwrite(pb, 1, len, out);
        /* A frame that is not a request, between the good ones. */
        fwrite("\0\0\0\3\xff\xff\xff", 1, 7, out);
        free(pb);
        opd_batch_unref(b);
    }
    free(line);
    fclose(in);
    /* A torn last frame: its length says more than is left. */
    fwrite("\0\0\1\0abc", 1, 7, out);
    fclose(out);
    assert_int_equal(opd_recorded_read(path, count, &s, &st), 0);
    assert_true(want.requests > 0);
    assert_int_equal(s.requests, want.requests);
    assert_int_equal(s.samples, want.samples);
    assert_int_equal(st.requests, (size_t)want.requests);
    assert_int_equal(st.bad_lines, (size_t)want.requests + 1);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyidx),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_read_proto),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
