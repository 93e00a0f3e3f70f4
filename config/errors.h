/* Config error collection. Loading a config reports every problem it finds, not only
 * the first, each with where it is. Printed one per line as
 *
 *     FILE:LINE:COL: KEYPATH: MESSAGE
 *
 * LINE and COL are 1-based. KEYPATH uses the Collector's "::" separator between keys
 * ("exporters::file/x::rotation::max_megabytes"); a list element is its 0-based index
 * ("service::pipelines::profiles::receivers::1"). Two shorter forms exist: when an error
 * has no key path (malformed YAML, an empty file) the "KEYPATH: " part is left out, and
 * when it has no line (a file that cannot be read) the ":LINE:COL" part is left out. */
#ifndef OPD_CONFIG_ERRORS_H
#define OPD_CONFIG_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config_map.h"

struct opd_cfg_error {
    char *file;    /* owned copy; NULL when unknown */
    int line;      /* 1-based; 0 when unknown */
    int col;       /* 1-based; 0 when unknown */
    char *keypath; /* owned; "" when none */
    char *message; /* owned */
};

struct opd_cfg_errors {
    struct opd_cfg_error *v;
    size_t n;
    size_t cap;
    /* Set when an error could not be recorded for lack of memory; counts as one error. */
    bool oom;
};

/* Prepares an empty collection. */
void opd_cfg_errors_init(struct opd_cfg_errors *e);

/* Frees every entry; the collection is empty and reusable afterwards. */
void opd_cfg_errors_fini(struct opd_cfg_errors *e);

/* Records one error at pos (NULL = no position) under keypath (NULL = none). The strings
 * are copied. Returns 0, or -ENOMEM (then e->oom is set so the failure still counts). */
int opd_cfg_errors_add(struct opd_cfg_errors *e, const struct opd_cfg_pos *pos, const char *keypath,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Orders the entries from index from onwards by file (in the order of files[], unknown
 * files last), then line, then column; entries at the same place keep their order. */
void opd_cfg_errors_sort(struct opd_cfg_errors *e, size_t from, char *const *files, size_t n_files);

/* Number of errors recorded, a lost-to-OOM error counting as one. */
size_t opd_cfg_errors_count(const struct opd_cfg_errors *e);

/* Writes every error, one line each, in the form described above; returns the count. */
size_t opd_cfg_errors_print(const struct opd_cfg_errors *e, FILE *out);

/* Writes one error line (no newline) into buf, truncating to len; returns buf. */
const char *opd_cfg_error_format(const struct opd_cfg_error *err, char *buf, size_t len);

#endif
