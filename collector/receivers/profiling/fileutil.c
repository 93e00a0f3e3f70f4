/* Whole-file reads for procfs and small config-like files. */
#include "collector/receivers/profiling/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "collector/mem.h"

int opd_prof_read_fileat(int dirfd, const char *path, size_t max, char **buf, size_t *len)
{
    char *b = NULL;
    size_t n = 0, cap = 0;
    int fd, err = 0;

    *buf = NULL;
    *len = 0;
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t r;

        if (n + 1 >= cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb;

            if (ncap > max + 2)
                ncap = max + 2;
            if (ncap <= n + 1) {
                err = -EFBIG;
                goto out;
            }
            nb = opd_realloc(b, ncap);
            if (!nb) {
                err = -ENOMEM;
                goto out;
            }
            b = nb;
            cap = ncap;
        }
        r = read(fd, b + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            err = -EFBIG;
            goto out;
        }
    }
    if (!b) {
        b = opd_malloc(1);
        if (!b) {
            err = -ENOMEM;
            goto out;
        }
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
out:
    close(fd);
    opd_free(b);
    return err;
}

int opd_prof_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    return opd_prof_read_fileat(AT_FDCWD, path, max, buf, len);
}

int opd_prof_read_lines(int fd, size_t chunk, int (*fn)(const char *text, size_t len, void *arg),
                        void *arg)
{
    char *buf;
    size_t have = 0;
    int err = 0;

    if (chunk < 2)
        return -EINVAL;
    buf = opd_malloc(chunk);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t r = read(fd, buf + have, chunk - have);
        char *last_nl;
        size_t used;

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = -errno;
            break;
        }
        have += (size_t)r;
        last_nl = r == 0 ? buf + have : memrchr(buf, '\n', have);
        if (!last_nl) {
            if (have == chunk)
                have = 0; /* a line longer than the chunk: drop it */
            continue;
        }
        used = (size_t)(last_nl - buf) + (r == 0 ? 0 : 1);
        err = used ? fn(buf, used, arg) : 0;
        if (err || r == 0)
            break;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    opd_free(buf);
    return err < 0 ? err : 0;
}
