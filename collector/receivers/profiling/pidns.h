/* Which pid namespace the receiver's procfs root speaks. The BPF programs see process ids
 * as the host's (initial) pid namespace numbers them. When otelprofd runs in another pid
 * namespace (a container without hostPID, or sharing a pod's process namespace) and reads
 * its own /proc, those ids name other processes or none, so metadata and symbols would
 * be read for the wrong process. The receiver then needs the host's procfs, mounted into
 * the container (e.g. a hostPath volume of /proc at /host/proc, procfs_root: /host/proc). */
#ifndef OPD_PROFILING_PIDNS_H
#define OPD_PROFILING_PIDNS_H

#include <stdbool.h>
#include <stddef.h>

struct opd_pidns_facts {
    bool own_is_init;      /* this process runs in the initial pid namespace */
    bool root_is_own;      /* procfs_root numbers processes as this process's namespace */
    long self_in_root;     /* this process's id as procfs_root/self names it, or -1 */
    unsigned long own_ino; /* inode of /proc/self/ns/pid, 0 when unknown */
};

/* Gathers the facts for procfs_root ("/proc", "/host/proc"). Returns 0, or -errno when
 * procfs_root/self cannot be read (not a procfs, or not mounted). */
int opd_pidns_gather(const char *procfs_root, struct opd_pidns_facts *f);

/* Whether the BPF programs' process ids can be looked up under procfs_root: yes in the
 * initial pid namespace, or when procfs_root is a procfs of an ancestor namespace (the
 * host's). Otherwise writes the reason and the remedy into err and returns -EINVAL. */
int opd_pidns_check(const char *procfs_root, const struct opd_pidns_facts *f, char *err,
                    size_t len);

#endif
