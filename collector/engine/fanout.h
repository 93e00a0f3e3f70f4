/* Fanout: one consumer that hands each batch to several. Read-only consumers share the
 * batch (marked readonly, one reference each); each mutating consumer gets its own clone,
 * except that the original goes to the last mutating consumer when nobody shares it. */
#ifndef OPD_FANOUT_H
#define OPD_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "collector/component.h"

/* Creates a fanout over next[0..n) (borrowed; they must outlive it). mutates[i] tells
 * whether next[i] changes batches. NULL with errno on failure. */
struct opd_component *opd_fanout_create(const char *name, struct opd_component *const *next,
                                        const bool *mutates, size_t n);

#endif
