/* receiver "profiling": samples the stacks of every in-scope thread on this host with eBPF
 * at samples_per_second, and every reporter_interval turns what the kernel aggregated
 * into one batch (one resource per process, symbolized frames) for the next component. */
#ifndef OPD_PROFILING_RECEIVER_H
#define OPD_PROFILING_RECEIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/component.h"
#include "collector/receivers/profiling/k8s_scope_glue.h"
#include "config/config_map.h"

struct opd_profiling_scope_cfg {
    struct opd_strlist pids;            /* process ids (decimal) */
    struct opd_strlist comm;            /* POSIX extended regexes over the process name */
    struct opd_strlist cgroup_prefixes; /* cgroup v2 paths, e.g. "/kubepods.slice" */
};

struct opd_profiling_sym_cfg {
    bool enabled;
    struct opd_strlist debug_dirs;
    int64_t cache_size; /* bytes */
    bool dwarf_lines;
};

struct opd_profiling_memory_cfg {
    bool enabled;
    int64_t sample_bytes;                   /* mean bytes between samples */
    struct opd_profiling_scope_cfg include; /* pids and comm only */
};

struct opd_profiling_unwind_cfg {
    char *method;         /* "auto", "frame_pointer" or "eh_frame" */
    int64_t table_memory; /* bytes of unwind table rows in the kernel */
    int64_t max_files;    /* executable files whose tables are loaded at once */
};

struct opd_profiling_config {
    int64_t samples_per_second;
    int64_t reporter_interval; /* ns */
    char *event;               /* "cpu-clock" or "cycles" */
    bool kernel_frames;
    int64_t max_frames;
    int64_t max_stacks; /* kernel aggregation map entries per generation; 0 = sized from Hz */
    struct opd_profiling_scope_cfg include;
    struct opd_profiling_scope_cfg exclude;
    struct opd_profiling_sym_cfg symbolization;
    bool service_name_from_env;
    bool off_cpu;             /* reserved: must stay false */
    double off_cpu_threshold; /* fraction of context switches recorded; 0 = off */
    struct opd_profiling_memory_cfg memory;
    int64_t max_processes;
    char *procfs_root;
    char *cgroup_root;
    struct opd_prof_k8s_scope_cfg scope; /* Kubernetes namespaces / pod labels */
    struct opd_profiling_unwind_cfg unwinding;
    /* What each sample carries (see struct opd_sample_attrs). */
    struct opd_strlist sample_attributes; /* "thread.name", "thread.id" */
    char *thread_names;                   /* "normalized" or "raw" */
    int64_t max_thread_names;
    bool string_attributes;
    int64_t bpf_memory_limit_mib; /* bound on the BPF maps' kernel memory; 0 = none */
};

extern const struct opd_config_map opd_profiling_config_map[];
extern const struct opd_factory opd_profiling_receiver_factory;

#endif
