/* Sinks that write unwind tables and ranges into the BPF maps of bpf/walk.bpf.h. */
#ifndef OPD_UNWIND_BPF_SINK_H
#define OPD_UNWIND_BPF_SINK_H

#include "collector/receivers/profiling/unwind/cache.h"
#include "collector/receivers/profiling/unwind/procs.h"

/* File descriptors of the loaded maps opd_unwind_rows, opd_unwind_files and
 * opd_unwind_ranges. The caller keeps them open while the sinks are used. */
struct opd_unwind_bpf_maps {
    int rows_fd;
    int files_fd;
    int ranges_fd;
};

/* Fills *tables and *ranges with sinks writing to the maps in *maps (which must outlive
 * them). Rows go in batches (BPF_MAP_UPDATE_BATCH), one element at a time on kernels
 * without batch support for arrays. */
void opd_unwind_bpf_sinks(struct opd_unwind_bpf_maps *maps, struct opd_unwind_sink *tables,
                          struct opd_unwind_range_sink *ranges);

/* Sums the per-CPU counters of map opd_unwind_stats (fd) into out[OPD_UNW__MAX]. Returns
 * 0 or a negative errno. */
int opd_unwind_bpf_read_stats(int stats_fd, uint64_t out[OPD_UNW__MAX]);

/* Metric name of each counter of opd_unwind_stats ("otelprofd_unwind_walks", ...). */
const char *opd_unwind_stat_name(unsigned idx);

/* Takes the pids the unwinder found no range for out of map opd_unwind_unknown (fd),
 * and syncs each one's ranges from /proc (gone processes are skipped). Returns the
 * number of pids synced or a negative errno. At most max pids per call. */
int opd_unwind_bpf_drain_unknown(int unknown_fd, struct opd_unwind_procs *procs, unsigned max);

#endif
