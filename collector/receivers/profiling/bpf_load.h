/* Loading a BPF object so that what the kernel thinks of each program can be told: which
 * program a failed load stopped at and the verifier's reason, and for a good load each
 * program's verifier cost (instructions processed, against the kernel's limit of one
 * million). The profiling sampler (sampler.c) loads through this and turns a failure into
 * a smaller object without the program's feature (see opd_sampler_create).
 *
 * Thread safety: one load at a time per process (libbpf's print hook, through which a
 * failing program is named, is process-wide). */
#ifndef OPD_PROFILING_BPF_LOAD_H
#define OPD_PROFILING_BPF_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_object;

/* The kernel's limit on instructions processed while verifying one program. */
#define OPD_BPF_VERIFIER_LIMIT 1000000u

#define OPD_BPF_MAX_PROGS 32

struct opd_bpf_prog_cost {
    char name[64];
    uint32_t insns;   /* instructions the verifier processed; 0 when unknown */
    bool from_log;    /* read from the verifier log (kernels before 5.16) */
};

struct opd_bpf_load {
    const char *who; /* log name; borrowed */
    /* After a failed load: the program the kernel (or libbpf, for a relocation) refused,
     * and why in one line; empty when no program was named. */
    char failed_prog[64];
    char failed_why[256];
    /* After a good load: every loaded program's cost, in object order. */
    struct opd_bpf_prog_cost progs[OPD_BPF_MAX_PROGS];
    size_t n_progs;
    double seconds; /* wall time of the load */
    /* Per-program verifier log buffers (log level "stats": the cost and, for a refused
     * program, the verifier's error), owned. */
    char *logs;
    size_t log_bytes;
};

/* Installs otelprofd's libbpf print hook (libbpf's lines go to the daemon's log under
 * "receiver/profiling/libbpf"; verifier dumps only at debug level). Idempotent. */
void opd_bpf_print_init(void);

/* Loads obj (opened, configured, not loaded) by calling load(arg) — the skeleton's load,
 * which also maps its global data — after giving every program that will load a log
 * buffer at the stats level, then fills ld. Returns 0 or the negative errno of the load;
 * ld->failed_* then say which program and why (logged at debug level with the verifier's
 * whole log). ld must be zeroed with who set before the first call; call
 * opd_bpf_load_fini() after the last. */
int opd_bpf_load(struct opd_bpf_load *ld, struct bpf_object *obj, int (*load)(void *arg),
                 void *arg);

/* Frees ld's buffers. */
void opd_bpf_load_fini(struct opd_bpf_load *ld);

/* Writes the costs as "name=insns name=insns …" into buf (always terminated). */
void opd_bpf_load_costs_string(const struct opd_bpf_load *ld, char *buf, size_t len);

/* Whether the kernel offers helper func_id to programs of prog_type (libbpf's feature
 * probe): 1 yes, 0 no, negative errno when the probe itself failed. */
int opd_bpf_probe_helper(int prog_type, int func_id);

#endif
