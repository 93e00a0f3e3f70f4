/* Start-up checks of what the sampler needs from the host: kernel version, kernel BTF,
 * perf_event_paranoid and capabilities. Split into gathering facts (reads /proc, /sys)
 * and judging them (pure), so the judgement is testable without a special host. */
#ifndef OPD_PROFILING_PREFLIGHT_H
#define OPD_PROFILING_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capability bit numbers (linux/capability.h), spelled out for older headers. */
#define OPD_CAP_DAC_READ_SEARCH 2
#define OPD_CAP_SYS_PTRACE      19
#define OPD_CAP_SYS_ADMIN       21
#define OPD_CAP_PERFMON         38
#define OPD_CAP_BPF             39

struct opd_preflight_facts {
    char release[128];  /* uname -r */
    int kmajor, kminor; /* parsed from release; 0 when unparsable */
    bool btf;           /* /sys/kernel/btf/vmlinux readable */
    int paranoid;       /* kernel.perf_event_paranoid; 99 when unreadable */
    uint64_t cap_eff;   /* CapEff of this process */
};

/* Reads the facts of this host and process. Returns 0 or -errno. */
int opd_preflight_gather(struct opd_preflight_facts *f);

/* Judges f. Returns 0 when sampling can work; otherwise -ENOTSUP (kernel too old, no
 * BTF) or -EPERM (missing rights), with a message in err saying exactly what to grant
 * or change. Non-fatal shortcomings (symbolization will be partial without
 * CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH) are written to warn (may be empty). */
int opd_preflight_check(const struct opd_preflight_facts *f, char *err, size_t errlen, char *warn,
                        size_t warnlen);

#endif
