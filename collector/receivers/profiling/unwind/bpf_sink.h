/* Sinks that write unwind tables and ranges into the BPF maps of bpf/unwind.bpf.h. */
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

#endif
