/* Recorded profiles for the offline subcommands (flamegraph, report, convert): reading
 * recorded OTLP files (JSON lines or length-prefixed protobuf) or directories of them,
 * --filter KEY=VALUE matching, and a string-keyed index for aggregating by name. */
#ifndef OPD_RECORDED_H
#define OPD_RECORDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opd_batch;
struct opd_resource;

/* Called for each decoded request; the batch is freed after the call. Returning non-zero
 * stops the walk and is returned by opd_recorded_read. */
typedef int (*opd_recorded_fn)(const struct opd_batch *b, void *arg);

struct opd_recorded_stats {
    size_t files, requests, bad_lines;
};

/* Reads path: one recorded file, as the file exporter writes them (format json: one
 * OTLP/JSON ExportProfilesServiceRequest per line; format proto: each request as protobuf
 * behind a 4-byte big-endian length, the Collector's framing; told apart by the first
 * byte), or a directory, whose *.json, *.jsonl, *.pb and *.binpb files are read in name
 * order. Requests that do not decode are reported on stderr (file:line, or file and request
 * number) and skipped; a torn frame ends its file. Returns 0, the callback's non-zero value,
 * or -errno (ENOENT, EACCES, ENOMEM, ...) with the cause printed. */
int opd_recorded_read(const char *path, opd_recorded_fn fn, void *arg,
                      struct opd_recorded_stats *stats);

/* Reads one recorded file from f (name is for messages) as opd_recorded_read reads a file;
 * stats are added to. */
int opd_recorded_read_stream(FILE *f, const char *name, opd_recorded_fn fn, void *arg,
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

/* The --filter options of a subcommand. Zero-initialise; free with opd_filters_fini. */
struct opd_filters {
    struct opd_filter *v;
    size_t n, cap;
};

/* Adds one --filter argument of subcommand cmd ("flamegraph") to fs. Returns 0, or -EINVAL
 * (printed on stderr: not KEY=VALUE) or -ENOMEM. */
int opd_filters_add(struct opd_filters *fs, const char *cmd, const char *arg);
void opd_filters_fini(struct opd_filters *fs);

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
