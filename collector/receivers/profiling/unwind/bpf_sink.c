/* Writing rows, file slots and ranges into the unwinder's BPF maps. */
#include "bpf_sink.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>

#include "collector/mem.h"

#define BATCH 4096

static int write_rows(void *arg, uint32_t start, const struct opd_unwind_row *rows, uint32_t n)
{
    struct opd_unwind_bpf_maps *m = arg;
    uint32_t keys[BATCH];
    uint32_t done = 0;

    while (done < n) {
        uint32_t cnt = n - done < BATCH ? n - done : BATCH;
        uint32_t i;
        int err;

        for (i = 0; i < cnt; i++)
            keys[i] = start + done + i;
        err = bpf_map_update_batch(m->rows_fd, keys, (void *)(rows + done), &cnt, NULL);
        if (err) {
            /* Older kernels lack batch updates of arrays; the element path reports the
             * real error if there is one. */
            cnt = n - done < BATCH ? n - done : BATCH;
            for (i = 0; i < cnt; i++) {
                err = bpf_map_update_elem(m->rows_fd, &keys[i], &rows[done + i], BPF_ANY);
                if (err)
                    return err;
            }
        }
        done += cnt;
    }
    return 0;
}

static int write_file(void *arg, uint32_t id, const struct opd_unwind_file *f)
{
    struct opd_unwind_bpf_maps *m = arg;

    return bpf_map_update_elem(m->files_fd, &id, f, BPF_ANY);
}

static int range_update(void *arg, const struct opd_unwind_range_key *k,
                        const struct opd_unwind_range *v)
{
    struct opd_unwind_bpf_maps *m = arg;

    return bpf_map_update_elem(m->ranges_fd, k, v, BPF_ANY);
}

static int range_remove(void *arg, const struct opd_unwind_range_key *k)
{
    struct opd_unwind_bpf_maps *m = arg;
    int err = bpf_map_delete_elem(m->ranges_fd, k);

    return err == -ENOENT ? 0 : err;
}

void opd_unwind_bpf_sinks(struct opd_unwind_bpf_maps *maps, struct opd_unwind_sink *tables,
                          struct opd_unwind_range_sink *ranges)
{
    tables->write_rows = write_rows;
    tables->write_file = write_file;
    tables->arg = maps;
    ranges->update = range_update;
    ranges->remove = range_remove;
    ranges->arg = maps;
}

int opd_unwind_bpf_read_stats(int stats_fd, uint64_t out[OPD_UNW__MAX])
{
    int ncpu = libbpf_num_possible_cpus();
    uint64_t *v;
    int err = 0;

    if (ncpu <= 0)
        return ncpu < 0 ? ncpu : -EINVAL;
    v = opd_calloc((size_t)ncpu, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (uint32_t i = 0; i < OPD_UNW__MAX; i++) {
        out[i] = 0;
        if ((err = bpf_map_lookup_elem(stats_fd, &i, v)))
            break;
        for (int c = 0; c < ncpu; c++)
            out[i] += v[c];
    }
    opd_free(v);
    return err;
}

const char *opd_unwind_stat_name(unsigned idx)
{
    static const char *names[OPD_UNW__MAX] = {
        [OPD_UNW_WALKS] = "otelprofd_unwind_walks",
        [OPD_UNW_FRAMES_CFI] = "otelprofd_unwind_frames_table",
        [OPD_UNW_FRAMES_FP] = "otelprofd_unwind_frames_frame_pointer",
        [OPD_UNW_STOP_OUTERMOST] = "otelprofd_unwind_stop_outermost",
        [OPD_UNW_STOP_FP_END] = "otelprofd_unwind_stop_frame_pointer_end",
        [OPD_UNW_STOP_TRUNCATED] = "otelprofd_unwind_stop_truncated",
        [OPD_UNW_ERR_READ] = "otelprofd_unwind_error_read",
        [OPD_UNW_ERR_NO_PROGRESS] = "otelprofd_unwind_error_no_progress",
        [OPD_UNW_ERR_RULE] = "otelprofd_unwind_error_unsupported_rule",
        [OPD_UNW_ERR_PC] = "otelprofd_unwind_error_pc",
        [OPD_UNW_ERR_FP] = "otelprofd_unwind_error_frame_pointer",
        [OPD_UNW_NO_RANGE] = "otelprofd_unwind_no_range",
        [OPD_UNW_STALE_FILE] = "otelprofd_unwind_stale_table",
    };

    return idx < OPD_UNW__MAX ? names[idx] : NULL;
}

int opd_unwind_bpf_drain_unknown(int unknown_fd, struct opd_unwind_procs *procs, unsigned max)
{
    uint32_t key, next, *pids;
    unsigned n = 0, synced = 0;
    int err;

    pids = opd_calloc(max ? max : 1, sizeof(*pids));
    if (!pids)
        return -ENOMEM;
    /* Collect first: deleting while iterating would restart the walk. */
    err = bpf_map_get_next_key(unknown_fd, NULL, &next);
    while (!err && n < max) {
        pids[n++] = next;
        key = next;
        err = bpf_map_get_next_key(unknown_fd, &key, &next);
    }
    for (unsigned i = 0; i < n; i++) {
        bpf_map_delete_elem(unknown_fd, &pids[i]);
        err = opd_unwind_procs_sync_proc(procs, pids[i]);
        if (err == -ENOMEM) {
            opd_free(pids);
            return err;
        }
        synced += err == 0;
    }
    opd_free(pids);
    return (int)synced;
}
