/* file exporter: the three formats byte for byte (JSON lines that decode back, the
 * Collector's 4-byte big-endian length framing, folded lines), pprof files in a directory
 * (named per process, type and interval; never overwritten), size rotation with backup
 * pruning, and a write error counted as failed. Configured through the real config
 * binder, as a user's YAML would be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/component.h"
#include "collector/engine/service.h"
#include "collector/telemetry.h"
#include "config/config.h"
#include "otlp/profiles.h"

static char dir[256];

static struct opd_batch *make_batch(int n_samples)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_resource *r = opd_batch_add_resource(b);
    struct opd_scope *s;
    struct opd_profile *p;
    struct opd_function f = {0};
    struct opd_line line = {0};
    struct opd_location l = {.lines = &line, .n_lines = 1};
    int32_t locs[2];

    opd_attrs_set_str(b, &r->attrs, "process.executable.name", "app");
    s = opd_resource_add_scope(b, r, "otelprofd", "test");
    p = opd_scope_add_profile(b, s);
    p->sample_type.type_strindex = opd_dict_string(&b->dict, "samples");
    p->sample_type.unit_strindex = opd_dict_string(&b->dict, "count");
    f.name_strindex = opd_dict_string(&b->dict, "leaf");
    line.function_index = opd_dict_function(&b->dict, &f);
    locs[0] = opd_dict_location(&b->dict, &l);
    f.name_strindex = opd_dict_string(&b->dict, "main");
    line.function_index = opd_dict_function(&b->dict, &f);
    locs[1] = opd_dict_location(&b->dict, &l);
    for (int i = 0; i < n_samples; i++) {
        int64_t v = 1 + i % 3;
        int32_t attr = opd_dict_attr_int(&b->dict, "thread.id", 1000 + i);
        struct opd_sample smp = {.stack_index = opd_dict_stack(&b->dict, locs, 2),
                                 .values = &v, .n_values = 1, .attr_indices = &attr,
                                 .n_attr = 1};
        opd_profile_add_sample(b, p, &smp);
    }
    return b;
}

extern const struct opd_factory opd_file_exporter_factory;
extern const struct opd_factory opd_otlpjsonfile_receiver_factory;

static const struct opd_factory *lookup(enum opd_kind kind, const char *type)
{
    if (kind == OPD_KIND_EXPORTER && strcmp(type, "file") == 0)
        return &opd_file_exporter_factory;
    if (kind == OPD_KIND_RECEIVER && strcmp(type, "otlpjsonfile") == 0)
        return &opd_otlpjsonfile_receiver_factory;
    return NULL;
}

/* Creates and starts exporter "file" from YAML options (indented under it). */
static struct opd_component *exporter(const char *options, struct opd_telemetry *tel,
                                      struct opd_config **cfgp)
{
    char doc[2048];
    struct opd_cfg_errors errs;
    const struct opd_component_cfg *cc;
    struct opd_create_params p = {.id = "file", .logname = "exporter/file", .telemetry = tel};
    struct opd_component *c;

    snprintf(doc, sizeof(doc),
             "receivers:\n  otlpjsonfile: {include: [x]}\n"
             "exporters:\n  file:\n%s"
             "service:\n  pipelines:\n    profiles: {receivers: [otlpjsonfile], exporters: [file]}\n",
             options);
    opd_cfg_errors_init(&errs);
    *cfgp = opd_config_load_buffer("t.yaml", doc, strlen(doc), lookup, &errs);
    if (!*cfgp)
        opd_cfg_errors_print(&errs, stderr);
    opd_cfg_errors_fini(&errs);
    assert_non_null(*cfgp);
    cc = opd_config_find(*cfgp, OPD_KIND_EXPORTER, "file");
    assert_non_null(cc);
    c = cc->factory->create(&p, cc->cfg);
    assert_non_null(c);
    assert_int_equal(opd_component_init_base(c, cc->factory, "file"), 0);
    assert_int_equal(c->ops->start(c, NULL), 0);
    return c;
}

static void stop(struct opd_component *c, struct opd_config *cfg)
{
    assert_int_equal(c->ops->shutdown(c, opd_now_ns() + 1000000000ull), 0);
    opd_component_destroy(c);
    opd_config_destroy(cfg);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_json_lines_decode_back(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    char opts[512], path[300];
    struct opd_component *c;
    size_t len;
    char *data, *nl;

    snprintf(path, sizeof(path), "%s/out.jsonl", dir);
    snprintf(opts, sizeof(opts), "    path: %s\n    flush_interval: 0s\n", path);
    c = exporter(opts, tel, &cfg);
    assert_int_equal(opd_component_consume(c, make_batch(5)), 0);
    assert_int_equal(opd_component_consume(c, make_batch(7)), 0);
    stop(c, cfg);
    /* Two lines, each a whole request that decodes to the samples sent. */
    data = slurp(path, &len);
    nl = strchr(data, '\n');
    assert_non_null(nl);
    {
        char err[256];
        struct opd_batch *b = opd_json_decode(data, (size_t)(nl - data), err, sizeof(err));
        assert_non_null(b);
        assert_int_equal(opd_batch_sample_count(b), 1 + 2 + 3 + 1 + 2);
        opd_batch_unref(b);
        b = opd_json_decode(nl + 1, strlen(nl + 1) - 1, err, sizeof(err));
        assert_non_null(b);
        assert_int_equal(b->resources[0].scopes[0].profiles[0].n_samples, 7);
        opd_batch_unref(b);
    }
    assert_int_equal(data[len - 1], '\n');
    assert_int_equal(opd_metric_get(opd_telemetry_find(tel, "otelcol_exporter_sent_profile_samples",
                                                       "exporter=\"file\"")),
                     9 + 13);
    free(data);
    opd_telemetry_destroy(tel);
}

static void test_proto_framing(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    char opts[512], path[300];
    struct opd_component *c;
    size_t len, off = 0;
    int msgs = 0;
    unsigned char *data;

    snprintf(path, sizeof(path), "%s/out.pb", dir);
    snprintf(opts, sizeof(opts), "    path: %s\n    format: proto\n", path);
    c = exporter(opts, tel, &cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(opd_component_consume(c, make_batch(4 + i)), 0);
    stop(c, cfg);
    data = (unsigned char *)slurp(path, &len);
    while (off < len) {
        uint32_t n = (uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16 |
                     (uint32_t)data[off + 2] << 8 | data[off + 3];
        struct opd_batch *b;

        off += 4;
        assert_true(off + n <= len);
        b = opd_proto_decode(data + off, n, NULL, 0);
        assert_non_null(b);
        assert_int_equal(b->resources[0].scopes[0].profiles[0].n_samples, 4 + msgs);
        opd_batch_unref(b);
        off += n;
        msgs++;
    }
    assert_int_equal(msgs, 3);
    assert_int_equal(off, len);
    free(data);
    opd_telemetry_destroy(tel);
}

static void test_folded_lines(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    char opts[512], path[300];
    struct opd_component *c;
    size_t len;
    char *data;

    snprintf(path, sizeof(path), "%s/out.folded", dir);
    snprintf(opts, sizeof(opts), "    path: %s\n    format: folded\n", path);
    c = exporter(opts, tel, &cfg);
    assert_int_equal(opd_component_consume(c, make_batch(6)), 0);
    stop(c, cfg);
    data = slurp(path, &len);
    /* 6 samples of one stack with weights 1,2,3,1,2,3 fold into one line. */
    assert_string_equal(data, "app;main;leaf 12\n");
    free(data);
    opd_telemetry_destroy(tel);
}

static int count_backups(const char *stem)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, stem, strlen(stem)) == 0 && strlen(de->d_name) > strlen(stem) + 6)
            n++;
    closedir(d);
    return n;
}

static void test_pprof_files(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    struct opd_cfg_errors errs;
    char opts[512], path[300], doc[1024], name[600];
    struct opd_component *c;
    struct dirent *e;
    size_t len;
    char *data;
    int files = 0;
    DIR *d;

    (void)state;
    snprintf(path, sizeof(path), "%s/pprof", dir);
    snprintf(opts, sizeof(opts), "    path: %s\n    format: pprof\n", path);
    c = exporter(opts, tel, &cfg); /* start creates the directory */
    assert_int_equal(opd_component_consume(c, make_batch(5)), 0);
    /* The same process, type and interval again: a second file, not an overwrite. */
    assert_int_equal(opd_component_consume(c, make_batch(3)), 0);
    stop(c, cfg);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        files++;
        assert_true(strcmp(e->d_name, "app.samples.19700101T000000.000Z.pb.gz") == 0 ||
                    strcmp(e->d_name, "app.samples.19700101T000000.000Z-1.pb.gz") == 0);
        snprintf(name, sizeof(name), "%s/%s", path, e->d_name);
        data = slurp(name, &len);
        assert_true(len > 20 && (uint8_t)data[0] == 0x1f && (uint8_t)data[1] == 0x8b);
        free(data);
    }
    closedir(d);
    assert_int_equal(files, 2);
    opd_telemetry_destroy(tel);

    /* A directory of files has nothing to append to or rotate. */
    snprintf(doc, sizeof(doc),
             "receivers:\n  otlpjsonfile: {include: [x]}\n"
             "exporters:\n  file: {path: %s, format: pprof, append: true}\n"
             "service:\n  pipelines:\n    profiles: {receivers: [otlpjsonfile], "
             "exporters: [file]}\n",
             path);
    opd_cfg_errors_init(&errs);
    cfg = opd_config_load_buffer("t.yaml", doc, strlen(doc), lookup, &errs);
    assert_true(!cfg || opd_cfg_errors_count(&errs) > 0);
    opd_config_destroy(cfg);
    opd_cfg_errors_fini(&errs);
}

static void test_rotation_keeps_max_backups(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    char opts[512], path[300];
    struct opd_component *c;
    struct stat st;

    snprintf(path, sizeof(path), "%s/rot.jsonl", dir);
    snprintf(opts, sizeof(opts),
             "    path: %s\n    rotation: {max_megabytes: 1, max_backups: 2}\n", path);
    c = exporter(opts, tel, &cfg);
    /* About 0.4 MiB per batch: several rotations. Backup names carry milliseconds, so
     * space the writes out a little. */
    for (int i = 0; i < 12; i++) {
        assert_int_equal(opd_component_consume(c, make_batch(3000)), 0);
        usleep(2000);
    }
    stop(c, cfg);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < 2 * 1024 * 1024);
    /* "rot-<timestamp>.jsonl" backups: exactly max_backups are kept. */
    assert_int_equal(count_backups("rot-"), 2);
    opd_telemetry_destroy(tel);
}

static void test_write_error_counted(void **state)
{
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_config *cfg;
    struct opd_component *c;

    /* /dev/full accepts the open and fails every write with ENOSPC. */
    c = exporter("    path: /dev/full\n    flush_interval: 0s\n", tel, &cfg);
    assert_true(opd_component_consume(c, make_batch(2)) < 0);
    assert_int_equal(opd_metric_get(opd_telemetry_find(
                         tel, "otelcol_exporter_send_failed_profile_samples", "exporter=\"file\"")),
                     3);
    c->ops->shutdown(c, opd_now_ns());
    opd_component_destroy(c);
    opd_config_destroy(cfg);
    opd_telemetry_destroy(tel);
}

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/opd-file-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_decode_back),
        cmocka_unit_test(test_proto_framing),
        cmocka_unit_test(test_folded_lines),
        cmocka_unit_test(test_pprof_files),
        cmocka_unit_test(test_rotation_keeps_max_backups),
        cmocka_unit_test(test_write_error_counted),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
