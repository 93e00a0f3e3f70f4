/* Allocation fixture for large blocks:
 *   main → opd_fx_mapper → opd_fx_map_one: argv[2] blocks of 1 MiB by anonymous mmap; the
 *     second half is unmapped again, the first half kept
 *   main → opd_fx_big_malloc: argv[2] blocks of 1 MiB by malloc (which glibc serves with
 *     mmap itself: must count once), all freed
 * Waits until probed (at most argv[1] ms) before, and 2.5 s after, still holding the
 * kept mappings. Prints its pid. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "probed.h"

#define BLOCK (1 << 20)

static void *volatile sink;

__attribute__((noinline)) void *opd_fx_map_one(void)
{
    void *p = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        exit(1);
    return p;
}

__attribute__((noinline)) void opd_fx_mapper(void **maps, int n)
{
    for (int i = 0; i < n; i++)
        maps[i] = opd_fx_map_one();
    for (int i = n / 2; i < n; i++)
        munmap(maps[i], BLOCK);
}

__attribute__((noinline)) void opd_fx_big_malloc(int n)
{
    for (int i = 0; i < n; i++) {
        sink = malloc(BLOCK);
        free(sink);
    }
}

int main(int argc, char **argv)
{
    long wait_ms = argc > 1 ? atol(argv[1]) : 2000;
    int n = argc > 2 ? atoi(argv[2]) : 64;
    void **maps = calloc((size_t)n, sizeof(void *));

    if (!maps)
        return 1;
    opd_fx_wait_probed(wait_ms);
    opd_fx_mapper(maps, n);
    opd_fx_big_malloc(n);
    printf("%d\n", (int)getpid());
    fflush(stdout);
    usleep(2500 * 1000); /* two reporter intervals of the tests, alive */
    return 0;
}
