/* Allocation fixture: two chains allocating the same bytes; one leaks every block, the
 * other frees every block:
 *   main → opd_fx_leaker → opd_fx_leak_one: argv[2] MiB by malloc(8192), kept
 *   main → opd_fx_freer → opd_fx_free_one: argv[2] MiB by posix_memalign(64, 8192), freed
 * Waits until probed (at most argv[1] ms) before, and 2.5 s after, still holding the
 * leaked blocks. Prints its pid and the bytes leaked. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "probed.h"

static void *volatile sink;

__attribute__((noinline)) void *opd_fx_leak_one(void)
{
    return malloc(8192);
}

__attribute__((noinline)) size_t opd_fx_leaker(size_t bytes, void ***kept, size_t *n)
{
    size_t done = 0;

    *n = bytes / 8192;
    *kept = malloc(*n * sizeof(void *));
    if (!*kept)
        exit(1);
    for (size_t i = 0; i < *n; i++) {
        (*kept)[i] = opd_fx_leak_one();
        done += 8192;
    }
    return done;
}

__attribute__((noinline)) void opd_fx_free_one(void)
{
    void *p = NULL;

    if (posix_memalign(&p, 64, 8192) == 0) {
        sink = p;
        free(p);
    }
}

__attribute__((noinline)) void opd_fx_freer(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 8192)
        opd_fx_free_one();
    sink = NULL;
}

int main(int argc, char **argv)
{
    long wait_ms = argc > 1 ? atol(argv[1]) : 2000;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 64;
    void **kept;
    size_t n, leaked;

    opd_fx_wait_probed(wait_ms);
    leaked = opd_fx_leaker(mib << 20, &kept, &n);
    opd_fx_freer(mib << 20);
    printf("%d %zu\n", (int)getpid(), leaked);
    fflush(stdout);
    usleep(2500 * 1000); /* two reporter intervals of the tests, alive */
    for (size_t i = 0; i < n; i++)
        free(kept[i]);
    free(kept);
    return 0;
}
