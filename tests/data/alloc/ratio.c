/* Allocation fixture: two known chains allocating known byte totals in a 3:1 ratio,
 * every block freed at once:
 *   main → opd_fx_alloc_big → opd_fx_alloc_a: 3 × argv[2] MiB by malloc(4096)
 *   main → opd_fx_alloc_small → opd_fx_alloc_b: argv[2] MiB by calloc(16, 64)
 * Waits until probed (at most argv[1] ms) before, and 2.5 s after. Prints its pid. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "probed.h"

static void *volatile sink;

__attribute__((noinline)) void opd_fx_alloc_a(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 4096) {
        sink = malloc(4096);
        free(sink);
    }
}

__attribute__((noinline)) void opd_fx_alloc_big(size_t bytes)
{
    opd_fx_alloc_a(bytes);
    sink = NULL;
}

__attribute__((noinline)) void opd_fx_alloc_b(size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 1024) {
        sink = calloc(16, 64);
        free(sink);
    }
}

__attribute__((noinline)) void opd_fx_alloc_small(size_t bytes)
{
    opd_fx_alloc_b(bytes);
    sink = NULL;
}

int main(int argc, char **argv)
{
    long wait_ms = argc > 1 ? atol(argv[1]) : 2000;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 64;

    opd_fx_wait_probed(wait_ms);
    /* Interleaved in slices, so that both chains see the same conditions. */
    for (int i = 0; i < 16; i++) {
        opd_fx_alloc_big(3 * (mib << 20) / 16);
        opd_fx_alloc_small((mib << 20) / 16);
    }
    printf("%d\n", (int)getpid());
    fflush(stdout);
    usleep(2500 * 1000); /* two reporter intervals of the tests, alive */
    return 0;
}
