/* One drained map generation: what the kernel aggregated during one reporter interval,
 * copied into user memory. Pure data, so the batch builder can be tested without BPF. */
#ifndef OPD_PROFILING_DRAIN_H
#define OPD_PROFILING_DRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/profile.h"

/* What a record's value measures; each kind becomes its own profile of the process. */
enum opd_prof_kind {
    OPD_PROF_CPU = 0,       /* samples (count) */
    OPD_PROF_OFF_CPU,       /* nanoseconds off the CPU */
    OPD_PROF_ALLOC_SPACE,   /* bytes allocated (estimated) */
    OPD_PROF_ALLOC_OBJECTS, /* objects allocated (estimated) */
    OPD_PROF_INUSE_SPACE,   /* bytes allocated and not freed (estimated) */
    OPD_PROF__MAX,
};

struct opd_drain_record {
    struct opd_sample_key key;
    uint64_t count; /* the value, in the unit of kind */
    uint32_t kind;  /* enum opd_prof_kind */
    uint32_t pad;
};

/* A drained stack: ip[0] is the innermost frame (see struct opd_bpf_stack). */
struct opd_drained_stack {
    uint32_t len;
    uint32_t kernel; /* 1 for kernel stacks */
    const uint64_t *ip;
};

struct opd_drain_stack {
    uint64_t id; /* the hash the kernel keyed it by */
    struct opd_drained_stack st;
};

/* Frames of the drained stacks, in blocks that never move: a stack's ip stays valid
 * until the drain is reset, however many stacks come after it. */
struct opd_drain_block;

struct opd_drain {
    struct opd_drain_record *recs;
    size_t n_recs, cap_recs;
    struct opd_drain_stack *stacks; /* sorted by id after opd_drain_finish() */
    size_t n_stacks, cap_stacks;
    struct opd_drain_block *blocks; /* frames of the stacks; kept across resets */
    struct opd_drain_block *cur;    /* the block being filled */
    uint64_t start_unix_ns; /* collection window */
    uint64_t end_unix_ns;
};

void opd_drain_init(struct opd_drain *d);
void opd_drain_fini(struct opd_drain *d);
/* Empties d, keeping its memory for the next drain. */
void opd_drain_reset(struct opd_drain *d);

/* Appends a copy; returns 0 or -ENOMEM. */
int opd_drain_add_record(struct opd_drain *d, const struct opd_sample_key *key, uint64_t count);
/* Same for a record of another kind than OPD_PROF_CPU. */
int opd_drain_add_value(struct opd_drain *d, enum opd_prof_kind kind,
                        const struct opd_sample_key *key, uint64_t value);
/* Appends a copy of st (at most OPD_MAX_FRAMES frames); returns 0 or -ENOMEM. */
int opd_drain_add_stack(struct opd_drain *d, uint64_t id, const struct opd_bpf_stack *st);
/* Appends a copy of len frames from ip (a map value cut to a smaller frame budget);
 * returns 0, -EINVAL when len is above OPD_MAX_FRAMES, or -ENOMEM. */
int opd_drain_add_frames(struct opd_drain *d, uint64_t id, uint32_t kernel, const uint64_t *ip,
                         uint32_t len);

/* Sorts the stacks for lookup; call once after the last add. */
void opd_drain_finish(struct opd_drain *d);

/* Returns the stack with this id (borrowed from d, valid until the next add, reset or
 * fini), or NULL when id is OPD_STACK_NONE or absent (e.g. the stacks map was full when
 * it was taken). Lengths above OPD_MAX_FRAMES never come out of here. */
const struct opd_drained_stack *opd_drain_stack(const struct opd_drain *d, uint64_t id);

/* Total of every CPU record's count. */
uint64_t opd_drain_sample_count(const struct opd_drain *d);

#endif
