/* Recorded profiles for the offline subcommands (flamegraph, report): reading OTLP/JSON
 * line files or directories of them, --filter KEY=VALUE matching, and a string-keyed
 * index for aggregating by name. */
#ifndef OPD_RECORDED_H
#define OPD_RECORDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_batch;
struct opd_resource;

/* Called for each decoded request; the batch is freed after the call. Returning non-zero
 * stops the walk and is returned by opd_recorded_read. */
typedef int (*opd_recorded_fn)(const struct opd_batch *b, void *arg);

struct opd_recorded_stats {
    size_t files, requests, bad_lines;
};

/* Reads path: one OTLP/JSON file (one ExportProfilesServiceRequest per line, as the file
 * exporter writes) or a directory, whose *.json and *.jsonl files are read in name order.
 * Lines that do not decode are reported on stderr with file:line and skipped. Returns 0,
 * the callback's non-zero value, or -errno (ENOENT, EACCES, ENOMEM, ...) with the cause
 * printed. */
int opd_recorded_read(const char *path, opd_recorded_fn fn, void *arg,
                      struct opd_recorded_stats *stats);

struct opd_filter {
    char *key;
    char *value;
};

/* Parses "KEY=VALUE" into f (strings allocated; free with opd_filter_fini). Returns 0 or
 * -EINVAL (no '=' or empty key), -ENOMEM. */
int opd_filter_parse(const char *arg, struct opd_filter *f);
void opd_filter_fini(struct opd_filter *f);

/* True when every filter matches one of r's attributes (string values compared as
 * text, integers and booleans in their decimal/true/false form). */
bool opd_filter_match(const struct opd_filter *f, size_t n, const struct opd_resource *r);

/* A string-keyed index: each distinct key gets the next integer, starting at 0. */
struct opd_keyidx {
    char **keys;
    uint64_t *hashes; /* of each key, compared before the strings */
    size_t n, cap, hcap;
    int32_t *slots; /* open addressing over keys; -1 empty */
    size_t n_slots;
};

/* Returns key's index (adding it when new; *added tells), or -ENOMEM. */
long opd_keyidx_get(struct opd_keyidx *ix, const char *key, bool *added);
void opd_keyidx_fini(struct opd_keyidx *ix);

#endif
