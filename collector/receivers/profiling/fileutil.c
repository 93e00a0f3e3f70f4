/* Whole-file reads for procfs and small config-like files. */
#include "collector/receivers/profiling/fileutil.h"

#include <errno.h>
#include <fcntl.h>
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
