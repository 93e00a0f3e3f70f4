/* otelprofd convert --input FILE|DIR --output DIR [--format pprof] [--filter KEY=VALUE ...]
 *
 * Turns recorded OTLP profiles (the file exporter's json or proto files, or a directory of
 * them) into pprof files, as the file exporter's format: pprof writes them: one gzipped
 * profile.proto per process, profile type and interval, for `go tool pprof`, speedscope
 * and every other pprof reader. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/engine/pprof_files.h"
#include "collector/mem.h"
#include "otlp/profiles.h"
#include "recorded.h"
#include "subcommands.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct convert {
    const char *dir;
    const struct opd_filter *filters;
    size_t n_filters;
    size_t files;
};

static int write_one(const struct opd_pprof *pp, void *arg)
{
    struct convert *c = arg;
    int err;

    if (!opd_filter_match(c->filters, c->n_filters, pp->resource))
        return 0;
    err = opd_pprof_file_write(c->dir, pp);
    if (err) {
        fprintf(stderr, "otelprofd convert: writing into %s: %s\n", c->dir, strerror(-err));
        return err;
    }
    c->files++;
    return 0;
}

static int convert_batch(const struct opd_batch *b, void *arg)
{
    int err = opd_pprof_encode(b, write_one, arg);

    if (err == -ENOMEM)
        fprintf(stderr, "otelprofd convert: out of memory\n");
    return err;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: otelprofd convert --input FILE|DIR --output DIR [--format pprof]"
                 " [--filter KEY=VALUE ...]\n"
                 "  reads recorded OTLP profiles (JSON lines or length-prefixed protobuf, as the"
                 " file exporter writes them)\n"
                 "  and writes one gzipped pprof profile.proto per process, profile type and"
                 " interval into DIR\n"
                 "  --filter keeps only resources whose attribute KEY equals VALUE (repeatable;"
                 " all must match)\n");
}

int opd_cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},  {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'F'}, {"filter", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct convert c = {0};
    struct opd_filters filters = {0};
    struct opd_recorded_stats stats;
    const char *input = NULL;
    struct stat st;
    int ch, rc = EXIT_USAGE;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "i:o:F:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            input = optarg;
            break;
        case 'o':
            c.dir = optarg;
            break;
        case 'F':
            if (strcmp(optarg, "pprof") != 0) {
                fprintf(stderr, "otelprofd convert: --format %s: only pprof is written\n", optarg);
                goto out;
            }
            break;
        case 'f':
            if (opd_filters_add(&filters, "convert", optarg))
                goto out;
            break;
        case 'h':
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc || !input || !c.dir) {
        fprintf(stderr, "otelprofd convert: %s\n",
                optind < argc ? "unexpected argument" : "--input and --output are required");
        usage(stderr);
        goto out;
    }
    c.filters = filters.v;
    c.n_filters = filters.n;
    rc = EXIT_RUNTIME;
    if (mkdir(c.dir, 0755) && errno != EEXIST) {
        fprintf(stderr, "otelprofd convert: %s: %s\n", c.dir, strerror(errno));
        goto out;
    }
    if (stat(c.dir, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "otelprofd convert: %s: not a directory\n", c.dir);
        goto out;
    }
    if (opd_recorded_read(input, convert_batch, &c, &stats))
        goto out;
    if (!c.files) {
        fprintf(stderr, "otelprofd convert: no profiles in %s%s (%zu requests, %zu bad)\n", input,
                c.n_filters ? " match the filters" : "", stats.requests, stats.bad_lines);
        goto out;
    }
    fprintf(stderr, "otelprofd convert: %zu pprof files from %zu requests written to %s\n", c.files,
            stats.requests, c.dir);
    rc = 0;
out:
    opd_filters_fini(&filters);
    return rc;
}
