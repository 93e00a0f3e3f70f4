/* pprof files in a directory (see pprof_files.h). */
#include "collector/engine/pprof_files.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "otlp/profiles.h"

/* Appends s to buf[*n..cap) with every byte other than letters, digits, '.', '_' and '-'
 * made '_' (file names come from process names). */
static void name_part(char *buf, size_t cap, size_t *n, const char *s)
{
    for (; *s && *n + 1 < cap; s++) {
        char c = *s;

        buf[(*n)++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '.' || c == '_' || c == '-'
                          ? c
                          : '_';
    }
    buf[*n] = '\0';
}

/* The name of pp's file, without directory and ".pb.gz". */
static void file_name(const struct opd_pprof *pp, char *buf, size_t cap)
{
    const struct opd_value *exe = opd_attrs_get(&pp->resource->attrs, "process.executable.name");
    const struct opd_value *svc = opd_attrs_get(&pp->resource->attrs, "service.name");
    const struct opd_value *pid = opd_attrs_get(&pp->resource->attrs, "process.pid");
    time_t secs = (time_t)(pp->time_unix_nano / 1000000000u);
    unsigned ms = (unsigned)(pp->time_unix_nano / 1000000u % 1000u);
    char part[64];
    struct tm tm;
    size_t n = 0;

    buf[0] = '\0';
    name_part(buf, cap, &n,
              exe && exe->type == OPD_VAL_STR && exe->u.str[0]   ? exe->u.str
              : svc && svc->type == OPD_VAL_STR && svc->u.str[0] ? svc->u.str
                                                                 : "process");
    if (pid && pid->type == OPD_VAL_INT)
        snprintf(part, sizeof(part), "-%" PRId64, pid->u.i);
    else if (pid && pid->type == OPD_VAL_STR)
        snprintf(part, sizeof(part), "-%.20s", pid->u.str);
    else
        part[0] = '\0';
    name_part(buf, cap, &n, part);
    name_part(buf, cap, &n, ".");
    name_part(buf, cap, &n, pp->name);
    gmtime_r(&secs, &tm);
    strftime(part, sizeof(part), ".%Y%m%dT%H%M%S", &tm);
    name_part(buf, cap, &n, part);
    snprintf(part, sizeof(part), ".%03uZ", ms);
    name_part(buf, cap, &n, part);
}

int opd_pprof_file_write(const char *dir, const struct opd_pprof *pp)
{
    char base[256], tmp[PATH_MAX], path[PATH_MAX];
    int fd, err = 0;

    file_name(pp, base, sizeof(base));
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= sizeof(tmp))
        return -ENAMETOOLONG;
    fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    if (write(fd, pp->data, pp->len) != (ssize_t)pp->len)
        err = -EIO;
    if (fchmod(fd, 0644) || close(fd))
        err = err ? err : -errno;
    for (int k = 0; !err; k++) {
        if (k)
            snprintf(path, sizeof(path), "%s/%s-%d.pb.gz", dir, base, k);
        else
            snprintf(path, sizeof(path), "%s/%s.pb.gz", dir, base);
        if (!link(tmp, path))
            break;
        if (errno != EEXIST || k >= 1000)
            err = -errno;
    }
    unlink(tmp);
    return err;
}
