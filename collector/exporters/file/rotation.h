/* Size-based rotation of an output file, named as the Collector's file exporter names its
 * backups: "<stem>-<UTC timestamp>.<ext>", newest kept up to max_backups. */
#ifndef OPD_FILE_ROTATION_H
#define OPD_FILE_ROTATION_H

#include <stdbool.h>
#include <stdint.h>

/* Renames path to a timestamped backup beside it, then deletes the oldest backups beyond
 * max_backups (0 = keep all) and those older than max_days (0 = no age limit).
 * Returns 0 or -errno. */
int opd_file_rotate(const char *path, int64_t max_backups, int64_t max_days, bool localtime);

#endif
