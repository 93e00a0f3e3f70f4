/* Which pid namespace the receiver's procfs root speaks. The kernel names processes by
 * their ids in the host's (initial) pid namespace. When otelprofd runs in another pid
 * namespace (a container without hostPID, or a sidecar sharing its pod's process
 * namespace), either the host's procfs is mounted into it (a hostPath volume of /proc at
 * /host/proc, procfs_root: /host/proc) and host ids apply, or procfs_root is the
 * namespace's own /proc: then the sampler must key records by the namespace's ids (and
 * can only profile the processes of that namespace), or metadata and symbols would be
 * read for whatever process has that id there. */
#ifndef OPD_PROFILING_PIDNS_H
#define OPD_PROFILING_PIDNS_H

#include <stdbool.h>
#include <stddef.h>

struct opd_pidns_facts {
    bool own_is_init;      /* this process runs in the initial pid namespace */
    bool root_is_own;      /* procfs_root numbers processes as this process's namespace */
    long self_in_root;     /* this process's id as procfs_root/self names it, or -1 */
    unsigned long own_ino; /* inode of /proc/self/ns/pid, 0 when unknown */
    unsigned long own_dev; /* its device (nsfs) */
};

/* Gathers the facts for procfs_root ("/proc", "/host/proc"). Returns 0, or -errno when
 * procfs_root/self cannot be read (not a procfs, or not mounted). */
int opd_pidns_gather(const char *procfs_root, struct opd_pidns_facts *f);

/* Whether the sampled ids must be translated into this process's own pid namespace: it
 * is not the initial one and procfs_root numbers processes as it does. */
bool opd_pidns_needs_translation(const struct opd_pidns_facts *f);

#endif
