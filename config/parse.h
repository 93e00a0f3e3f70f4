/* Text forms of config values beyond the parsers declared in config_map.h: doubles, and
 * the canonical printing of durations and byte sizes used by print-config and messages. */
#ifndef OPD_CONFIG_PARSE_H
#define OPD_CONFIG_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a finite decimal number ("0.5", "1e3"). Returns 0 or -EINVAL. */
int opd_parse_double(const char *s, double *v);

/* Writes ns as the shortest exact Go-style duration ("1m30s", "250ms", "0s") into buf
 * (32 bytes are always enough); returns buf. */
const char *opd_format_duration(int64_t ns, char *buf, size_t len);

/* Writes bytes as "64MiB", "1GB" when exact, else as a plain number; returns buf. */
const char *opd_format_bytes(int64_t bytes, char *buf, size_t len);

/* Writes a double so that parsing it back gives the same value; returns buf. */
const char *opd_format_double(double v, char *buf, size_t len);

#endif
