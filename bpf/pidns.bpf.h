/* Process ids as otelprofd's own pid namespace numbers them. When the daemon runs in a pid
 * namespace of its own (a sidecar sharing its pod's process namespace, without the host's
 * /proc), user space sets opd_state.pidns_dev/ino to that namespace's nsfs device and inode
 * and every program keys its records by these ids, which the daemon's /proc knows. A
 * thread outside that namespace gets 0: it is not the daemon's to profile. */
#ifndef OPD_PIDNS_BPF_H
#define OPD_PIDNS_BPF_H

static __always_inline __u64 opd_pid_tgid(void)
{
	struct bpf_pidns_info ns;

	if (!opd_state.pidns_ino)
		return bpf_get_current_pid_tgid();
	if (bpf_get_ns_current_pid_tgid(opd_state.pidns_dev, opd_state.pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ((__u64)ns.tgid << 32) | ns.pid;
}
#define OPD_PID_TGID() opd_pid_tgid()

#endif
