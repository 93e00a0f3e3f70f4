/* Writes the crafted files of hostile_elf.h into a directory, one per kind
 * (<dir>/<name>.so), and, given a fuzz_ehframe reproducer (a selector byte, then an ELF
 * file), that ELF as <dir>/repro-<tag>.so with spin's code copied to its offset 0x1000 so
 * that a fixture can run it there.
 *
 *   hostile_gen DIR [REPRO TAG]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/data/hostile/hostile_elf.h"

static int write_file(const char *path, const uint8_t *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (write(fd, data, n) != (ssize_t)n)
        rc = -EIO;
    close(fd);
    return rc;
}

static int write_repro(const char *dir, const char *repro, const char *tag)
{
    char path[4096];
    uint8_t *data, *elf;
    struct stat st;
    size_t len;
    int fd, rc = -EINVAL;

    fd = open(repro, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st))
        return -errno;
    data = malloc((size_t)st.st_size);
    if (data && read(fd, data, (size_t)st.st_size) == st.st_size &&
        (elf = opd_hostile_repro_elf(data, (size_t)st.st_size, &len))) {
        snprintf(path, sizeof(path), "%s/repro-%s.so", dir, tag);
        rc = write_file(path, elf, len);
    }
    free(data);
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    static uint8_t buf[OPD_HOSTILE_SIZE];
    char path[4096];
    int k, rc;

    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s DIR [REPRO TAG]\n", argv[0]);
        return 2;
    }
    for (k = 0; k < OPD_HOSTILE_NKINDS; k++) {
        opd_hostile_build((enum opd_hostile_kind)k, buf);
        snprintf(path, sizeof(path), "%s/%s.so", argv[1], opd_hostile_name(k));
        if ((rc = write_file(path, buf, sizeof(buf)))) {
            fprintf(stderr, "%s: %s\n", path, strerror(-rc));
            return 1;
        }
    }
    if (argc == 4 && (rc = write_repro(argv[1], argv[2], argv[3]))) {
        fprintf(stderr, "%s: %s\n", argv[2], strerror(-rc));
        return 1;
    }
    return 0;
}
