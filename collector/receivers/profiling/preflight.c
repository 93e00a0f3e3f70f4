/* Host checks before loading the sampler (see preflight.h). */
#include "collector/receivers/profiling/preflight.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* What the programs need (bpf/walk.h): BTF and CO-RE, the BPF ring buffer (5.8), BTF
 * tracepoints, tail calls from programs that call functions (x86_64, 5.10). Newer helpers
 * (bpf_task_pt_regs, 5.15) are probed at load and replaced where missing. */
#define MIN_MAJOR 5
#define MIN_MINOR 10

static bool has_cap(const struct opd_preflight_facts *f, int cap)
{
    return (f->cap_eff >> cap) & 1;
}

static int read_int_file(const char *path, int *v)
{
    FILE *fp = fopen(path, "re");
    int ret = -errno;

    if (!fp)
        return ret;
    ret = fscanf(fp, "%d", v) == 1 ? 0 : -EINVAL;
    fclose(fp);
    return ret;
}

static int read_cap_eff(uint64_t *cap)
{
    char line[256];
    FILE *fp = fopen("/proc/self/status", "re");
    int ret = -ENOENT;

    if (!fp)
        return -errno;
    while (fgets(line, sizeof(line), fp)) {
        if (sscanf(line, "CapEff: %" SCNx64, cap) == 1) {
            ret = 0;
            break;
        }
    }
    fclose(fp);
    return ret;
}

int opd_preflight_gather(struct opd_preflight_facts *f)
{
    struct utsname u;
    int ret;

    memset(f, 0, sizeof(*f));
    if (uname(&u) == 0) {
        snprintf(f->release, sizeof(f->release), "%s", u.release);
        if (sscanf(u.release, "%d.%d", &f->kmajor, &f->kminor) != 2)
            f->kmajor = f->kminor = 0;
    }
    f->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
    if (read_int_file("/proc/sys/kernel/perf_event_paranoid", &f->paranoid))
        f->paranoid = 99;
    ret = read_cap_eff(&f->cap_eff);
    return ret;
}

int opd_preflight_check(const struct opd_preflight_facts *f, char *err, size_t errlen, char *warn,
                        size_t warnlen)
{
    bool admin = has_cap(f, OPD_CAP_SYS_ADMIN);
    bool bpf = admin || has_cap(f, OPD_CAP_BPF);
    bool perfmon = admin || has_cap(f, OPD_CAP_PERFMON);
    size_t w = 0;

    if (warnlen)
        warn[0] = '\0';
    if (f->kmajor && (f->kmajor < MIN_MAJOR || (f->kmajor == MIN_MAJOR && f->kminor < MIN_MINOR))) {
        snprintf(err, errlen,
                 "kernel %s is too old: the eBPF sampler needs Linux %d.%d or newer (tail calls "
                 "from programs with functions, the BPF ring buffer, BTF tracepoints)",
                 f->release, MIN_MAJOR, MIN_MINOR);
        return -ENOTSUP;
    }
    if (!f->btf) {
        snprintf(err, errlen,
                 "kernel BTF is missing (/sys/kernel/btf/vmlinux): use a kernel built with "
                 "CONFIG_DEBUG_INFO_BTF=y");
        return -ENOTSUP;
    }
    if (!bpf || !perfmon) {
        snprintf(err, errlen,
                 "missing %s%s%s (kernel.perf_event_paranoid=%d does not help: system-wide "
                 "sampling with BPF needs them): run as root, or grant them, e.g. "
                 "`setcap cap_bpf,cap_perfmon,cap_sys_ptrace,cap_dac_read_search+ep otelprofd`, "
                 "or in Kubernetes securityContext.capabilities.add: [BPF, PERFMON, SYS_PTRACE, "
                 "DAC_READ_SEARCH]",
                 bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "",
                 perfmon ? "" : "CAP_PERFMON", f->paranoid);
        return -EPERM;
    }
    /* Reading user memory from the perf interrupt could lock up 5.19 and 6.0 kernels that
     * lack the stable fix (Parca refused to run on them). Only a warning: distributions
     * backported it, and the version string cannot tell. */
    if (((f->kmajor == 5 && f->kminor == 19) || (f->kmajor == 6 && f->kminor == 0)) && warnlen > w)
        w += (size_t)snprintf(warn + w, warnlen - w,
                              "kernel %s: 5.19/6.0 kernels without the stable fix for "
                              "bpf_probe_read_user from perf interrupts may lock up; ",
                              f->release);
    if (!has_cap(f, OPD_CAP_SYS_PTRACE) && warnlen > w)
        w += (size_t)snprintf(warn + w, warnlen - w,
                              "no CAP_SYS_PTRACE: maps and binaries of other users' processes "
                              "are unreadable, their frames stay unsymbolized; ");
    if (!has_cap(f, OPD_CAP_DAC_READ_SEARCH) && warnlen > w)
        w += (size_t)snprintf(warn + w, warnlen - w,
                              "no CAP_DAC_READ_SEARCH: files without read permission for us "
                              "cannot be symbolized; ");
    return 0;
}
