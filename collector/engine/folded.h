/* Folded stacks: "process;root;…;leaf count" lines, the input format of standard flame
 * graph tools. Shared by the file exporter (format: folded), the debug exporter (top
 * stacks) and the flamegraph and report subcommands. */
#ifndef OPD_FOLDED_H
#define OPD_FOLDED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct opd_batch;
struct opd_resource;
struct opd_sample;

struct opd_folded_entry {
    char *stack; /* root first, ';'-separated, first element the process */
    uint64_t count;
};

struct opd_folded {
    struct opd_folded_entry *v;
    size_t n, cap;
};

/* Aggregates every sample of b's count-valued profiles (CPU samples; profiles in
 * nanoseconds or bytes are left out) by (process, stack) into f (appending to what f holds,
 * then merging equal stacks and sorting by count, highest first). Returns 0 or -ENOMEM. */
int opd_folded_collect(struct opd_folded *f, const struct opd_batch *b);
/* Merges equal stacks and sorts by count descending (then by name). */
void opd_folded_normalize(struct opd_folded *f);
/* Writes "stack count\n" for every entry; returns 0 or -EIO. */
int opd_folded_write(const struct opd_folded *f, FILE *out);
void opd_folded_fini(struct opd_folded *f);

/* Appends to buf (of size cap, NUL-terminated) the folded name of one sample's stack,
 * root first, prefixed with the resource's process name. Returns the length written or
 * -ENOSPC when it did not fit (buf then holds a truncated stack). */
int opd_folded_stack(const struct opd_batch *b, const struct opd_resource *r,
                     const struct opd_sample *s, char *buf, size_t cap);

/* The count one sample stands for: its first value, or its number of timestamps. */
uint64_t opd_sample_weight(const struct opd_sample *s);

#endif
