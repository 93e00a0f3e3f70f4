/* ${env:VAR} expansion in config values, as the Collector's env provider does it. */
#ifndef OPD_CONFIG_ENV_H
#define OPD_CONFIG_ENV_H

#include <stddef.h>

/* Expands in into a new string in *out (caller frees with opd_free):
 *   ${env:VAR}            the variable's value, "" when it is not set
 *   ${env:VAR:-default}   the value, or default (itself expanded) when unset or empty
 *   ${VAR}, ${VAR:-def}   the same without the provider prefix
 *   $$                    a literal $
 * A $ followed by anything else is kept as is. Returns 0; -EINVAL for bad syntax (an
 * unterminated ${, an empty or invalid variable name, an unknown provider, ':' not followed
 * by '-'), with a message in err; -ENOMEM. */
int opd_env_expand(const char *in, char **out, char *err, size_t errlen);

#endif
