/* Writing rows, file slots and ranges into the unwinder's BPF maps. */
#include "bpf_sink.h"

#include <bpf/bpf.h>
#include <errno.h>

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
