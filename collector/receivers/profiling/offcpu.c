/* Off-CPU attach and drain (see offcpu.h). */
#include "collector/receivers/profiling/offcpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "collector/receivers/profiling/sampler.h"
#include "profile.skel.h"

struct opd_offcpu {
    struct opd_sampler *s;
    struct profile_bpf *skel;
    struct bpf_link *link;
    uint32_t thr;
    char *who;
    uint64_t *ids; /* scratch: stack ids the drained records refer to */
    size_t n_ids, cap_ids;
};

void opd_offcpu_configure(struct profile_bpf *skel, bool on)
{
    bpf_program__set_autoload(skel->progs.opd_offcpu_switch, on);
    bpf_program__set_autoload(skel->progs.opd_offcpu_walk, on);
    bpf_program__set_autoload(skel->progs.opd_offcpu_finish, on);
    if (!on) {
        bpf_map__set_max_entries(skel->maps.opd_offcpu_start, 1);
        bpf_map__set_max_entries(skel->maps.opd_offcpu0, 1);
        bpf_map__set_max_entries(skel->maps.opd_offcpu1, 1);
        bpf_map__set_max_entries(skel->maps.opd_offcpu_stacks, 1);
    }
}

uint32_t opd_offcpu_threshold(double fraction)
{
    /* Compared with bpf_get_prandom_u32() < thr, so thr / 2^32 is the fraction; all
     * ones is special-cased in the program to mean every switch. */
    if (!(fraction > 0))
        return 0;
    if (fraction >= 1)
        return UINT32_MAX;
    return (uint32_t)(fraction * 4294967296.0);
}

uint64_t opd_offcpu_scale(uint64_t ns, uint32_t thr)
{
    unsigned __int128 v;

    if (thr == 0 || thr == UINT32_MAX)
        return ns;
    v = ((unsigned __int128)ns << 32) / thr;
    return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

struct opd_offcpu *opd_offcpu_create(struct opd_sampler *s, double fraction, const char *who)
{
    struct opd_offcpu *o = NULL;
    int err = -ENOMEM;

    o = opd_calloc(1, sizeof(*o));
    if (!o)
        goto out;
    o->s = s;
    o->skel = opd_sampler_skel(s);
    o->who = opd_strdup(who ? who : "receiver/profiling");
    if (!o->who)
        goto out;
    o->thr = opd_offcpu_threshold(fraction);
    if (!o->thr) {
        err = -EINVAL;
        goto out;
    }
    o->skel->bss->opd_offcpu_threshold = o->thr;
    o->link = bpf_program__attach(o->skel->progs.opd_offcpu_switch);
    if (!o->link) {
        err = -errno;
        OPD_ERR(o->who, "cannot attach the off-CPU program to sched_switch: %s", strerror(-err));
        goto out;
    }
    err = 0;
out:
    if (err) {
        opd_offcpu_destroy(o);
        errno = -err;
        return NULL;
    }
    return o;
}

void opd_offcpu_destroy(struct opd_offcpu *o)
{
    if (!o)
        return;
    if (o->skel && o->skel->bss)
        o->skel->bss->opd_offcpu_threshold = 0;
    bpf_link__destroy(o->link);
    opd_free(o->ids);
    opd_free(o->who);
    opd_free(o);
}

static int push_id(struct opd_offcpu *o, uint64_t id)
{
    uint64_t *slot;

    if (id == OPD_STACK_NONE)
        return 0;
    slot = OPD_VEC_PUSH_SLOT(o->ids, o->n_ids, o->cap_ids);
    if (!slot)
        return -ENOMEM;
    *slot = id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Adds the stacks out lacks among o->ids, read from the (never drained) off-CPU stack
 * map. A stack evicted meanwhile is just missing, like a full stacks map on the CPU side. */
static int add_stacks(struct opd_offcpu *o, struct opd_drain *out)
{
    int fd = bpf_map__fd(o->skel->maps.opd_offcpu_stacks);
    struct opd_bpf_stack st;
    size_t n = 0;
    int err;

    if (o->n_ids > 1)
        qsort(o->ids, o->n_ids, sizeof(*o->ids), cmp_u64);
    /* Keep the unique ids out lacks, while out's stacks are still sorted. */
    for (size_t i = 0; i < o->n_ids; i++) {
        if ((i && o->ids[i] == o->ids[i - 1]) || opd_drain_stack(out, o->ids[i]))
            continue;
        o->ids[n++] = o->ids[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (bpf_map_lookup_elem(fd, &o->ids[i], &st))
            continue;
        err = opd_drain_add_stack(out, o->ids[i], &st);
        if (err)
            return err;
    }
    opd_drain_finish(out);
    return 0;
}

int opd_offcpu_drain(struct opd_offcpu *o, struct opd_drain *out)
{
    /* opd_sampler_drain() switched generations and waited for running programs: the
     * previous one is quiescent. */
    uint32_t old = (__atomic_load_n(&o->skel->bss->opd_state.gen, __ATOMIC_RELAXED) & 1) ^ 1;
    int fd = bpf_map__fd(old ? o->skel->maps.opd_offcpu1 : o->skel->maps.opd_offcpu0);
    struct opd_sample_key key;
    uint64_t ns;
    int err = 0;

    o->n_ids = 0;
    for (;;) {
        if (bpf_map_get_next_key(fd, NULL, &key)) {
            if (errno != ENOENT)
                err = -errno;
            break;
        }
        if (bpf_map_lookup_elem(fd, &key, &ns) == 0 && ns) {
            err = opd_drain_add_value(out, OPD_PROF_OFF_CPU, &key, opd_offcpu_scale(ns, o->thr));
            if (!err)
                err = push_id(o, key.ustack);
            if (!err)
                err = push_id(o, key.kstack);
            if (err)
                break;
        }
        if (bpf_map_delete_elem(fd, &key) && errno != ENOENT) {
            err = -errno;
            break;
        }
    }
    if (!err)
        err = add_stacks(o, out);
    return err;
}
