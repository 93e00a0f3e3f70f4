/* Encoding throughput of the profile model: a synthetic CPU profile (default 100k
 * samples over 5k distinct stacks of depth 30, 16 threads) is interned sample by sample
 * the way the receiver builds a batch, then encoded as protobuf and as OTLP/JSON (and
 * decoded back). Prints samples/s and bytes/sample for each step. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "otlp/profiles.h"

struct frame {
    uint64_t address;
    char name[48];
    int mapping; /* 0 kernel, 1 executable, 2 libc */
};

struct config {
    size_t samples, stacks, depth, threads;
};

#define RNG_SEED 0x2545f4914f6cdd1dULL
static uint64_t rng = RNG_SEED;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall and CPU time of a step: on a shared machine the CPU time of this process is the
 * steadier number, so the rates are computed from it. */
struct stopwatch {
    double wall, cpu;
};

static struct stopwatch start(void)
{
    struct stopwatch w = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};

    return w;
}

static struct stopwatch stop(struct stopwatch w)
{
    w.wall = clock_s(CLOCK_MONOTONIC) - w.wall;
    w.cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - w.cpu;
    return w;
}

/* Stacks share callers as real ones do: the outer half of every stack comes from a
 * small set of entry paths, the inner half is specific. */
static struct frame *make_stacks(const struct config *c)
{
    struct frame *f = calloc(c->stacks * c->depth, sizeof(*f));
    size_t s, d;

    if (!f)
        return NULL;
    for (s = 0; s < c->stacks; s++)
        for (d = 0; d < c->depth; d++) {
            struct frame *x = &f[s * c->depth + d];
            size_t outer = d >= c->depth / 2, key = outer ? s % 64 : s;

            x->mapping = d < 4 ? 0 : (d % 5 == 0 ? 2 : 1);
            x->address = (x->mapping ? 0x1000 : 0xffffffff81000000ULL) + key * 0x400 + d * 0x10;
            snprintf(x->name, sizeof(x->name), "%s_%zu_%zu", x->mapping ? "fn" : "kfn", d, key);
        }
    return f;
}

/* per_stack: intern the frames of each distinct stack once and remember its index (a
 * receiver draining in-kernel aggregates keyed by stack id can do this); otherwise every
 * frame of every sample goes through the dictionary. */
static struct opd_batch *build(const struct config *c, const struct frame *frames, bool per_stack)
{
    struct opd_batch *b = opd_batch_create();
    struct opd_dict *d;
    struct opd_profile *p;
    struct opd_scope *s;
    struct opd_resource *r;
    int32_t maps[3], ftype[3], *locs = malloc(c->depth * sizeof(*locs));
    int32_t *known = calloc(c->stacks, sizeof(*known));
    static const char *types[3] = {"kernel", "native", "native"};
    uint64_t t0 = 1764060000000000000ULL;
    size_t i, k;
    char tname[32];

    if (!b || !locs || !known)
        goto fail;
    rng = RNG_SEED; /* both modes build the same batch */
    d = &b->dict;
    if (!(r = opd_batch_add_resource(b)) || opd_attrs_set_int(b, &r->attrs, "process.pid", 4242) ||
        !(s = opd_resource_add_scope(b, r, "otelprofd", "0.1.0")) ||
        !(p = opd_scope_add_profile(b, s)))
        goto fail;
    p->sample_type.type_strindex = opd_dict_string(d, "samples");
    p->sample_type.unit_strindex = opd_dict_string(d, "count");
    p->period_type.type_strindex = opd_dict_string(d, "cpu");
    p->period_type.unit_strindex = opd_dict_string(d, "nanoseconds");
    p->period = 50000000;
    p->time_unix_nano = t0;
    p->duration_nano = 5000000000ULL;
    for (k = 0; k < 3; k++) {
        static const char *files[3] = {"[kernel.kallsyms]", "/usr/bin/app", "/usr/lib/libc.so.6"};
        struct opd_mapping m = {.memory_start = 0x400000 * (k + 1),
                                .memory_limit = 0x400000 * (k + 2)};

        m.filename_strindex = opd_dict_string(d, files[k]);
        if ((maps[k] = opd_dict_mapping(d, &m)) < 0 ||
            (ftype[k] = opd_dict_attr_str(d, "profile.frame.type", types[k])) < 0)
            goto fail;
    }
    for (i = 0; i < c->samples; i++) {
        size_t which = next_rand() % c->stacks;
        const struct frame *st = &frames[which * c->depth];
        uint64_t ts = t0 + i * 50000;
        int64_t one = 1;
        int32_t tattr;
        struct opd_sample smp = {.values = &one,
                                 .n_values = 1,
                                 .timestamps = &ts,
                                 .n_timestamps = 1,
                                 .attr_indices = &tattr,
                                 .n_attr = 1};

        /* what the receiver does per drained sample: intern every frame, the stack and
         * the sample attributes */
        for (k = 0; k < c->depth && !(per_stack && known[which]); k++) {
            struct opd_function fn = {0};
            struct opd_line ln = {0};
            struct opd_location l = {.mapping_index = maps[st[k].mapping],
                                     .address = st[k].address,
                                     .lines = &ln,
                                     .n_lines = 1,
                                     .attr_indices = &ftype[st[k].mapping],
                                     .n_attr = 1};

            if ((fn.name_strindex = opd_dict_string(d, st[k].name)) < 0 ||
                (ln.function_index = opd_dict_function(d, &fn)) < 0 ||
                (locs[k] = opd_dict_location(d, &l)) < 0)
                goto fail;
        }
        snprintf(tname, sizeof(tname), "worker-%" PRIu64, next_rand() % c->threads);
        if (per_stack && known[which])
            smp.stack_index = known[which];
        else if ((smp.stack_index = opd_dict_stack(d, locs, c->depth)) < 0)
            goto fail;
        known[which] = smp.stack_index;
        if ((tattr = opd_dict_attr_str(d, "thread.name", tname)) < 0 ||
            opd_profile_add_sample(b, p, &smp))
            goto fail;
    }
    free(locs);
    free(known);
    return b;
fail:
    free(locs);
    free(known);
    opd_batch_unref(b);
    return NULL;
}

static size_t gzip_size(const void *p, size_t n)
{
    z_stream z = {0};
    unsigned char *out;
    size_t got = 0, cap = n + 1024;

    out = malloc(cap);
    if (!out || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(out);
        return 0;
    }
    z.next_in = (unsigned char *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END)
        got = z.total_out;
    deflateEnd(&z);
    free(out);
    return got;
}

static void report(const char *what, struct stopwatch t, size_t samples, size_t bytes, size_t gz)
{
    printf("%-19s wall %7.3f s  cpu %7.3f s %10.0f samples/s", what, t.wall, t.cpu,
           (double)samples / t.cpu);
    if (bytes)
        printf("  %10zu bytes  %7.2f bytes/sample", bytes, (double)bytes / (double)samples);
    if (gz)
        printf("  gzip %7.2f bytes/sample", (double)gz / (double)samples);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct config c = {.samples = 100000, .stacks = 5000, .depth = 30, .threads = 16};
    struct opd_batch *b, *d;
    struct frame *frames;
    uint8_t *pb;
    char *js, err[256];
    size_t pblen, jslen;
    struct stopwatch t;
    int i;

    for (i = 1; i + 1 < argc; i += 2) {
        size_t v = strtoull(argv[i + 1], NULL, 10);

        if (!strcmp(argv[i], "--samples"))
            c.samples = v;
        else if (!strcmp(argv[i], "--stacks"))
            c.stacks = v;
        else if (!strcmp(argv[i], "--depth"))
            c.depth = v;
        else {
            fprintf(stderr, "usage: %s [--samples N] [--stacks N] [--depth N]\n", argv[0]);
            return 2;
        }
    }
    if (!c.samples || !c.stacks || !c.depth) {
        fprintf(stderr, "bench_encode: samples, stacks and depth must be positive\n");
        return 2;
    }
    frames = make_stacks(&c);
    if (!frames)
        return 1;
    printf("bench_encode: %zu samples, %zu distinct stacks, depth %zu, %zu threads\n", c.samples,
           c.stacks, c.depth, c.threads);
    t = start();
    b = build(&c, frames, true);
    t = stop(t);
    if (!b) {
        fprintf(stderr, "bench_encode: building the batch failed\n");
        return 1;
    }
    report("intern per stack", t, c.samples, 0, 0);
    opd_batch_unref(b);
    t = start();
    b = build(&c, frames, false);
    t = stop(t);
    if (!b) {
        fprintf(stderr, "bench_encode: building the batch failed\n");
        return 1;
    }
    report("intern every frame", t, c.samples, 0, 0);
    printf("  dictionary: %zu strings, %zu functions, %zu locations, %zu stacks, %zu attributes;"
           " arena %zu bytes\n",
           b->dict.n_strings, b->dict.n_functions, b->dict.n_locations, b->dict.n_stacks,
           b->dict.n_attributes, b->arena.bytes);

    t = start();
    if (opd_proto_encode(b, &pb, &pblen))
        return 1;
    t = stop(t);
    report("protobuf encode", t, c.samples, pblen, gzip_size(pb, pblen));

    t = start();
    if (opd_json_encode(b, &js, &jslen))
        return 1;
    t = stop(t);
    report("OTLP/JSON encode", t, c.samples, jslen, gzip_size(js, jslen));

    t = start();
    d = opd_proto_decode(pb, pblen, err, sizeof(err));
    t = stop(t);
    if (!d) {
        fprintf(stderr, "bench_encode: protobuf decode: %s\n", err);
        return 1;
    }
    report("protobuf decode", t, c.samples, 0, 0);
    opd_batch_unref(d);

    t = start();
    d = opd_json_decode(js, jslen, err, sizeof(err));
    t = stop(t);
    if (!d) {
        fprintf(stderr, "bench_encode: JSON decode: %s\n", err);
        return 1;
    }
    report("OTLP/JSON decode", t, c.samples, 0, 0);
    opd_batch_unref(d);

    free(pb);
    free(js);
    free(frames);
    opd_batch_unref(b);
    return 0;
}
