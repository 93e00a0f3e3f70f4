/* pid namespace check of the procfs root (see pidns.h). */
#include "collector/receivers/profiling/pidns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* PROC_PID_INIT_INO: the initial pid namespace's inode number, fixed since Linux 3.8. */
#define PID_INIT_INO 0xEFFFFFFCul

int opd_pidns_gather(const char *procfs_root, struct opd_pidns_facts *f)
{
    char path[512], link[64];
    struct stat st;
    ssize_t n;
    char *end;

    f->own_ino = 0;
    f->own_dev = 0;
    if (stat("/proc/self/ns/pid", &st) == 0) {
        f->own_ino = (unsigned long)st.st_ino;
        f->own_dev = (unsigned long)st.st_dev;
    }
    /* Without the ns file (no /proc of our own) assume the initial namespace; the root
     * check below still tells a foreign procfs. */
    f->own_is_init = f->own_ino == 0 || f->own_ino == PID_INIT_INO;
    f->self_in_root = -1;
    f->root_is_own = false;
    snprintf(path, sizeof(path), "%s/self", procfs_root);
    n = readlink(path, link, sizeof(link) - 1);
    if (n <= 0)
        return n < 0 ? -errno : -ENOENT;
    link[n] = '\0';
    f->self_in_root = strtol(link, &end, 10);
    if (*end || f->self_in_root <= 0)
        return -EINVAL;
    f->root_is_own = f->self_in_root == (long)getpid();
    return 0;
}

bool opd_pidns_needs_translation(const struct opd_pidns_facts *f)
{
    return !f->own_is_init && f->root_is_own && f->own_ino;
}
