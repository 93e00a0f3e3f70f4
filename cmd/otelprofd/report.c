/* otelprofd report --input DIR_OR_FILE --by team [--top 10] [--format markdown|json]
 *
 * The ownership report: over the recorded window, each group's (team's) CPU time and
 * share of all CPU, and its top functions (leaf frame, self time) with the service they
 * ran in and their share of the team and of everything. --by names a resource attribute;
 * "team" means the team processor's team.name, or a plain team attribute. A resource
 * without the grouping attribute is counted under "unassigned". CPU time of a sample is
 * period × weight. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/engine/folded.h"
#include "collector/exporters/prometheus/profview.h"
#include "collector/mem.h"
#include "otlp/profiles.h"
#include "recorded.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define UNASSIGNED   "unassigned"

struct row {
    long group; /* index in groups */
    char *service, *function;
    uint64_t ns;
};

struct group {
    const char *name; /* the groups index key */
    uint64_t ns;
    struct row **top; /* filled after aggregation */
    size_t n_top;
};

struct report {
    const char *by;
    const struct opd_filter *filters;
    size_t n_filters;
    struct opd_keyidx group_ix, row_ix;
    struct group *groups;
    size_t n_groups, cap_groups;
    struct row *rows;
    size_t n_rows, cap_rows;
    uint64_t total_ns, samples, skipped_profiles;
    uint64_t start_ns, end_ns; /* recorded window (unix ns) */
};

static long group_get(struct report *r, const char *name)
{
    bool added;
    long i = opd_keyidx_get(&r->group_ix, name, &added);
    struct group *slot;

    if (i < 0 || !added)
        return i;
    slot = OPD_VEC_PUSH_SLOT(r->groups, r->n_groups, r->cap_groups);
    if (!slot)
        return -ENOMEM;
    r->groups[i] = (struct group){.name = r->group_ix.keys[i]};
    return i;
}

static long row_get(struct report *r, long group, const char *service, const char *function)
{
    size_t kl = strlen(service) + strlen(function) + 32;
    char *key = opd_malloc(kl);
    struct row *slot;
    bool added;
    long i;

    if (!key)
        return -ENOMEM;
    snprintf(key, kl, "%ld\x1f%s\x1f%s", group, service, function);
    i = opd_keyidx_get(&r->row_ix, key, &added);
    opd_free(key);
    if (i < 0 || !added)
        return i;
    slot = OPD_VEC_PUSH_SLOT(r->rows, r->n_rows, r->cap_rows);
    if (!slot)
        return -ENOMEM;
    r->rows[i] = (struct row){.group = group};
    r->rows[i].service = opd_strdup(service);
    r->rows[i].function = opd_strdup(function);
    if (!r->rows[i].service || !r->rows[i].function)
        return -ENOMEM;
    return i;
}

/* The grouping value of a resource, as text; NULL when absent. */
static const char *group_of(const struct opd_resource *res, const char *key, char *buf, size_t cap)
{
    const struct opd_value *v = opd_attrs_get(&res->attrs, key);

    if (!v)
        return NULL;
    if (v->type == OPD_VAL_STR)
        return v->u.str && v->u.str[0] ? v->u.str : NULL;
    if (v->type == OPD_VAL_INT) {
        snprintf(buf, cap, "%" PRId64, v->u.i);
        return buf;
    }
    if (v->type == OPD_VAL_BOOL)
        return v->u.b ? "true" : "false";
    return NULL;
}

static int add_batch(const struct opd_batch *b, void *arg)
{
    struct report *r = arg;
    char gbuf[32], service[256], fn[512];

    for (size_t ri = 0; ri < b->n_resources; ri++) {
        const struct opd_resource *res = &b->resources[ri];
        const char *g;
        long gi;

        if (!opd_filter_match(r->filters, r->n_filters, res))
            continue;
        /* "team" is what the team processor writes (team.name) or a plain team. */
        g = strcmp(r->by, "team") == 0 ? opd_pv_team(res)
                                       : group_of(res, r->by, gbuf, sizeof(gbuf));
        gi = group_get(r, g ? g : UNASSIGNED);
        if (gi < 0)
            return (int)gi;
        opd_pv_service_name(res, service, sizeof(service));
        for (size_t si = 0; si < res->n_scopes; si++)
            for (size_t pi = 0; pi < res->scopes[si].n_profiles; pi++) {
                const struct opd_profile *p = &res->scopes[si].profiles[pi];
                uint64_t ns_per_unit;

                if (!opd_pv_profile_cpu(b, p, &ns_per_unit)) {
                    r->skipped_profiles++;
                    continue;
                }
                if (p->time_unix_nano && (!r->start_ns || p->time_unix_nano < r->start_ns))
                    r->start_ns = p->time_unix_nano;
                if (p->time_unix_nano + p->duration_nano > r->end_ns)
                    r->end_ns = p->time_unix_nano + p->duration_nano;
                for (size_t k = 0; k < p->n_samples; k++) {
                    uint64_t w = opd_sample_weight(&p->samples[k]), ns = w * ns_per_unit;
                    long ri2;

                    if (w == 0)
                        continue;
                    ri2 = row_get(r, gi, service,
                                  opd_pv_leaf_name(b, &p->samples[k], fn, sizeof(fn)));
                    if (ri2 < 0)
                        return (int)ri2;
                    r->rows[ri2].ns += ns;
                    r->groups[gi].ns += ns;
                    r->total_ns += ns;
                    r->samples += w;
                }
            }
    }
    return 0;
}

static int cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;

    if (x->ns != y->ns)
        return x->ns > y->ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = *(struct row *const *)a, *y = *(struct row *const *)b;
    int c;

    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->ns != y->ns)
        return x->ns > y->ns ? -1 : 1;
    c = strcmp(x->function, y->function);
    return c ? c : strcmp(x->service, y->service);
}

/* Sorts the groups by CPU and points each at its top rows. The returned array (freed by
 * the caller) holds every row, ordered by group then CPU. */
static struct row **rank(struct report *r, size_t top)
{
    struct row **order = opd_calloc(r->n_rows ? r->n_rows : 1, sizeof(*order));
    long *remap = opd_calloc(r->n_groups ? r->n_groups : 1, sizeof(*remap));
    struct group *sorted = opd_calloc(r->n_groups ? r->n_groups : 1, sizeof(*sorted));

    if (!order || !remap || !sorted) {
        opd_free(order);
        opd_free(remap);
        opd_free(sorted);
        return NULL;
    }
    memcpy(sorted, r->groups, r->n_groups * sizeof(*sorted));
    qsort(sorted, r->n_groups, sizeof(*sorted), cmp_group);
    /* Rows refer to groups by their first index; give them the rank instead. */
    for (size_t i = 0; i < r->n_groups; i++)
        for (size_t j = 0; j < r->n_groups; j++)
            if (sorted[i].name == r->groups[j].name)
                remap[j] = (long)i;
    memcpy(r->groups, sorted, r->n_groups * sizeof(*sorted));
    for (size_t i = 0; i < r->n_rows; i++) {
        r->rows[i].group = remap[r->rows[i].group];
        order[i] = &r->rows[i];
    }
    qsort(order, r->n_rows, sizeof(*order), cmp_row);
    for (size_t i = 0; i < r->n_rows;) {
        size_t j = i;
        struct group *g = &r->groups[order[i]->group];
        while (j < r->n_rows && order[j]->group == order[i]->group)
            j++;
        g->top = &order[i];
        g->n_top = j - i < top ? j - i : top;
        i = j;
    }
    opd_free(remap);
    opd_free(sorted);
    return order;
}

static void iso_time(uint64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Markdown table cells: a '|' would end the cell, a newline the row. */
static void md_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static int write_markdown(const struct report *r, const char *input, FILE *out)
{
    char a[32], b[32];

    iso_time(r->start_ns, a, sizeof(a));
    iso_time(r->end_ns, b, sizeof(b));
    fprintf(out, "# CPU by %s\n\n", r->by);
    fprintf(out,
            "Recorded window %s to %s (%.0f s) · %" PRIu64 " samples · %.2f CPU-seconds · "
            "source `%s`\n\n",
            a, b, (double)(r->end_ns - r->start_ns) / 1e9, r->samples, (double)r->total_ns / 1e9,
            input);
    fprintf(out, "| %s | CPU seconds | Share of CPU |\n|---|---:|---:|\n", r->by);
    for (size_t i = 0; i < r->n_groups; i++) {
        fputs("| ", out);
        md_cell(out, r->groups[i].name);
        fprintf(out, " | %.2f | %.1f%% |\n", (double)r->groups[i].ns / 1e9,
                pct(r->groups[i].ns, r->total_ns));
    }
    for (size_t i = 0; i < r->n_groups; i++) {
        const struct group *g = &r->groups[i];

        fputs("\n## ", out);
        md_cell(out, g->name);
        fprintf(out, ": %.2f CPU-seconds (%.1f%% of all)\n\n", (double)g->ns / 1e9,
                pct(g->ns, r->total_ns));
        fputs("| # | Function | Service | CPU seconds | Share of team | Share of all |\n"
              "|---:|---|---|---:|---:|---:|\n",
              out);
        for (size_t k = 0; k < g->n_top; k++) {
            fprintf(out, "| %zu | `", k + 1);
            md_cell(out, g->top[k]->function);
            fputs("` | ", out);
            md_cell(out, g->top[k]->service);
            fprintf(out, " | %.2f | %.1f%% | %.1f%% |\n", (double)g->top[k]->ns / 1e9,
                    pct(g->top[k]->ns, g->ns), pct(g->top[k]->ns, r->total_ns));
        }
    }
    return ferror(out) ? -EIO : 0;
}

static double round3(double v)
{
    return (double)(int64_t)(v * 1000.0 + 0.5) / 1000.0;
}

static int write_json(const struct report *r, const char *input, FILE *out)
{
    json_t *root = json_object(), *groups = json_array();
    char a[32], b[32];
    int err = -ENOMEM;

    if (!root || !groups)
        goto out;
    iso_time(r->start_ns, a, sizeof(a));
    iso_time(r->end_ns, b, sizeof(b));
    json_object_set_new(root, "by", json_string(r->by));
    json_object_set_new(root, "source", json_string(input));
    json_object_set_new(root, "window_start", json_string(a));
    json_object_set_new(root, "window_end", json_string(b));
    json_object_set_new(root, "samples", json_integer((json_int_t)r->samples));
    json_object_set_new(root, "cpu_seconds", json_real(round3((double)r->total_ns / 1e9)));
    for (size_t i = 0; i < r->n_groups; i++) {
        const struct group *g = &r->groups[i];
        json_t *o = json_object(), *fns = json_array();

        if (!o || !fns) {
            json_decref(o);
            json_decref(fns);
            goto out;
        }
        json_object_set_new(o, "name", json_string(g->name));
        json_object_set_new(o, "cpu_seconds", json_real(round3((double)g->ns / 1e9)));
        json_object_set_new(o, "share", json_real(round3(pct(g->ns, r->total_ns) / 100.0)));
        for (size_t k = 0; k < g->n_top; k++) {
            const struct row *rw = g->top[k];
            json_t *f = json_object();
            if (!f)
                continue;
            json_object_set_new(f, "function", json_string(rw->function));
            json_object_set_new(f, "service", json_string(rw->service));
            json_object_set_new(f, "cpu_seconds", json_real(round3((double)rw->ns / 1e9)));
            json_object_set_new(f, "share_of_group", json_real(round3(pct(rw->ns, g->ns) / 100)));
            json_object_set_new(f, "share_of_all",
                                json_real(round3(pct(rw->ns, r->total_ns) / 100)));
            json_array_append_new(fns, f);
        }
        json_object_set_new(o, "functions", fns);
        json_array_append_new(groups, o);
    }
    json_object_set_new(root, "groups", groups);
    groups = NULL;
    err = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6))
              ? -EIO
              : 0;
    fputc('\n', out);
out:
    json_decref(groups);
    json_decref(root);
    return err;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: otelprofd report --input DIR_OR_FILE [--by team] [--top 10]"
                 " [--format markdown|json] [--filter KEY=VALUE ...]\n"
                 "  --by names the resource attribute to group by (default team); resources"
                 " without it count as \"" UNASSIGNED "\"\n");
}

int opd_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"by", required_argument, NULL, 'b'},
        {"top", required_argument, NULL, 'n'},
        {"format", required_argument, NULL, 'F'},
        {"filter", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct report r = {.by = "team"};
    struct opd_filters filters = {0};
    struct opd_recorded_stats stats;
    const char *input = NULL, *format = "markdown";
    struct row **order = NULL;
    long top = 10;
    int ch, rc = EXIT_USAGE;
    char *end;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "i:b:n:F:f:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            input = optarg;
            break;
        case 'b':
            r.by = optarg;
            break;
        case 'n':
            errno = 0;
            top = strtol(optarg, &end, 10);
            if (errno || *end || top < 1 || top > 100000) {
                fprintf(stderr, "otelprofd report: --top '%s': want a number from 1\n", optarg);
                goto out;
            }
            break;
        case 'F':
            format = optarg;
            break;
        case 'f':
            if (opd_filters_add(&filters, "report", optarg))
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
    if (optind < argc || !input || !r.by[0]) {
        fprintf(stderr, "otelprofd report: %s\n",
                optind < argc ? "unexpected argument" : "--input is required");
        usage(stderr);
        goto out;
    }
    if (strcmp(format, "markdown") != 0 && strcmp(format, "json") != 0) {
        fprintf(stderr, "otelprofd report: --format '%s': want markdown or json\n", format);
        goto out;
    }
    rc = EXIT_RUNTIME;
    r.filters = filters.v;
    r.n_filters = filters.n;
    if (opd_recorded_read(input, add_batch, &r, &stats))
        goto out;
    if (r.total_ns == 0) {
        fprintf(stderr,
                "otelprofd report: no CPU samples in %s (%zu requests, %zu bad lines, "
                "%" PRIu64 " non-CPU profiles)\n",
                input, stats.requests, stats.bad_lines, r.skipped_profiles);
        goto out;
    }
    order = rank(&r, (size_t)top);
    if (!order) {
        fprintf(stderr, "otelprofd report: out of memory\n");
        goto out;
    }
    if ((strcmp(format, "json") == 0 ? write_json(&r, input, stdout)
                                     : write_markdown(&r, input, stdout)) ||
        fflush(stdout)) {
        fprintf(stderr, "otelprofd report: writing the report failed\n");
        goto out;
    }
    rc = 0;
out:
    opd_filters_fini(&filters);
    opd_free(order);
    opd_keyidx_fini(&r.group_ix);
    opd_keyidx_fini(&r.row_ix);
    opd_free(r.groups);
    for (size_t i = 0; i < r.n_rows; i++) {
        opd_free(r.rows[i].service);
        opd_free(r.rows[i].function);
    }
    opd_free(r.rows);
    return rc;
}
