/* extension "bearertokenauth": a client authenticator that adds
 * "<header>: <scheme> <token>" to every export request, as the Collector's extension of
 * the same name does. The token comes from `token`, or from `filename`, which is re-read
 * whenever the file changes (rotated service-account tokens keep working). Exporters find
 * it with host->get_extension(host, auth.authenticator). */
#ifndef OPD_BEARERTOKENAUTH_H
#define OPD_BEARERTOKENAUTH_H

#include <stdbool.h>
#include <stddef.h>

struct opd_component;

extern const struct opd_factory opd_bearertokenauth_extension_factory;

/* True when c is a bearertokenauth instance. */
bool opd_is_bearertokenauth(const struct opd_component *c);

/* Writes the header name (lower case) and value to send into the buffers. Thread-safe.
 * Returns 0, -ENOENT when no token is available (file missing or empty; logged), or
 * -ENOSPC when a buffer is too small. */
int opd_bearertokenauth_header(struct opd_component *c, char *name, size_t namelen, char *value,
                               size_t valuelen);

#endif
