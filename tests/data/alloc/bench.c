/* Allocation-heavy benchmark for the memory profiling overhead: argv[2] malloc/free
 * pairs of sizes cycling pseudo-randomly over 16..4096 bytes. Before, waits up to argv[1]
 * ms for malloc to be probed (a uprobe shows as an int3 on its first instruction in this
 * process's own copy of the code), so that a late attachment cannot make the profiled
 * run look free. Prints: pairs, CPU seconds, wall seconds, CPU nanoseconds per pair,
 * and whether malloc was probed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int probed(void)
{
#if defined(__x86_64__)
    void *(*volatile fn)(size_t) = malloc;

    return *(volatile const unsigned char *)fn == 0xcc;
#else
    return 0;
#endif
}

int main(int argc, char **argv)
{
    long wait_ms = argc > 1 ? atol(argv[1]) : 0;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    uint32_t x = 12345;
    double c0, w0, c1, w1;

    for (long waited = 0; waited < wait_ms && !probed(); waited += 10)
        usleep(10000);
    c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    w0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < n; i++) {
        size_t size;
        volatile char *p;

        x = x * 1664525u + 1013904223u;
        size = 16 + (x >> 8) % 4081;
        p = malloc(size);
        if (!p)
            return 1;
        p[0] = (char)i;
        free((void *)p);
    }
    c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    w1 = clock_s(CLOCK_MONOTONIC);
    printf("%ld %.6f %.6f %.1f %s\n", n, c1 - c0, w1 - w0, (c1 - c0) * 1e9 / (double)n,
           probed() ? "probed" : "not-probed");
    return 0;
}
