/* Maps each file named on the command line (PROT_READ | PROT_EXEC, private) and, for the
 * ones that hold hostile_elf.h's spin code at offset 0x1000, runs it there in turn until
 * SECONDS have passed, so that samples land in those mappings. Prints "ready" once
 * everything is mapped. Built with frame pointers; spin keeps them too.
 *
 *   hostile_fixture SECONDS FILE...
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/data/hostile/hostile_elf.h"

typedef void (*spin_fn)(unsigned long n);

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    spin_fn spins[64];
    int nspins = 0, i;
    double end;

    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS FILE...\n", argv[0]);
        return 2;
    }
    end = now() + atof(argv[1]);
    for (i = 2; i < argc && nspins < 64; i++) {
        struct stat st;
        uint8_t *p;
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st)) {
            perror(argv[i]);
            return 1;
        }
        p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        close(fd);
        if (p == MAP_FAILED) {
            perror(argv[i]);
            return 1;
        }
        if ((size_t)st.st_size >= OPD_HOSTILE_CODE_OFF + sizeof(opd_hostile_spin_code) &&
            !memcmp(p + OPD_HOSTILE_CODE_OFF, opd_hostile_spin_code,
                    sizeof(opd_hostile_spin_code)))
            spins[nspins++] = (spin_fn)(uintptr_t)(p + OPD_HOSTILE_CODE_OFF);
    }
    printf("ready %d\n", nspins);
    fflush(stdout);
    while (now() < end)
        for (i = 0; i < nspins; i++)
            spins[i](2000000);
    return 0;
}
