/* CPU list parsing (see cpus.h). */
#include "collector/receivers/profiling/cpus.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "collector/mem.h"

static const char *online_path = "/sys/devices/system/cpu/online";

static int parse_num(const char **p, const char *end, long *v)
{
    long x = 0;
    const char *s = *p;

    if (s >= end || !isdigit((unsigned char)*s))
        return -EINVAL;
    while (s < end && isdigit((unsigned char)*s)) {
        x = x * 10 + (*s - '0');
        if (x > 1 << 20)
            return -EINVAL;
        s++;
    }
    *p = s;
    *v = x;
    return 0;
}

int opd_cpus_parse(const char *text, size_t len, uint8_t *mask, int n)
{
    const char *p = text, *end = text + len;
    int count = 0;

    memset(mask, 0, (size_t)(n > 0 ? n : 0));
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p == end)
        return 0;
    for (;;) {
        long lo, hi;

        if (parse_num(&p, end, &lo))
            return -EINVAL;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (parse_num(&p, end, &hi) || hi < lo)
                return -EINVAL;
        }
        for (long c = lo; c <= hi && c < n; c++) {
            if (!mask[c])
                count++;
            mask[c] = 1;
        }
        if (p == end)
            break;
        if (*p != ',')
            return -EINVAL;
        p++;
    }
    return count;
}

int opd_cpus_online(uint8_t **mask, int n)
{
    char buf[4096];
    ssize_t len;
    int fd, ret;

    *mask = opd_calloc((size_t)n, 1);
    if (!*mask)
        return -ENOMEM;
    fd = open(online_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    len = read(fd, buf, sizeof(buf) - 1);
    ret = len < 0 ? -errno : 0;
    close(fd);
    if (ret)
        goto out;
    ret = opd_cpus_parse(buf, (size_t)len, *mask, n);
out:
    if (ret < 0) {
        opd_free(*mask);
        *mask = NULL;
    }
    return ret;
}
