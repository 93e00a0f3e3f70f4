/* extension "file_storage": a directory where components keep state across restarts
 * (the exporters' persistent sending queues), as the Collector's extension of the same
 * name; with `fsync` every write is made durable before it is acknowledged, and
 * `max_size` bounds each component's file. */
#ifndef OPD_FILE_STORAGE_H
#define OPD_FILE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct opd_component;

extern const struct opd_factory opd_file_storage_extension_factory;

/* True when c is a file_storage instance. */
bool opd_is_file_storage(const struct opd_component *c);

/* Builds the path of the file the component named owner (e.g. "exporter/otlp_grpc/x")
 * keeps in this storage, with every character outside [A-Za-z0-9._-] replaced, into buf;
 * also reports the fsync policy and the size bound. Returns 0 or -ENAMETOOLONG. */
int opd_file_storage_path(struct opd_component *c, const char *owner, char *buf, size_t len,
                          bool *fsync, int64_t *max_bytes);

#endif
