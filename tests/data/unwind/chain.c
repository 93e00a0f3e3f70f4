/* Unwind fixture: a known five-deep call chain main -> chain_a -> chain_b -> chain_c ->
 * chain_d -> chain_leaf whose leaf spins. Built with -O2 -fomit-frame-pointer, so only
 * CFI can recover the callers. Usage: chain [seconds]. Each level does work after its call
 * so the compiler can neither inline nor turn the call into a jump. Prints the number of
 * iterations done, the throughput that the overhead benchmark compares. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long chain_leaf(unsigned long n)
{
    unsigned long x = n;

    for (unsigned long i = 0; i < 2000000; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

/* Each level keeps a local array live across the call so that its frame differs from
 * its neighbours' (different CFA offsets). */
#define LEVEL(name, next, size)                                                                    \
    __attribute__((noinline)) static unsigned long name(unsigned long n)                         \
    {                                                                                              \
        volatile unsigned long buf[size];                                                          \
        buf[0] = n;                                                                                \
        unsigned long r = next(buf[0] + 1);                                                        \
        buf[size - 1] = r;                                                                         \
        return buf[size - 1] ^ buf[0];                                                             \
    }

LEVEL(chain_d, chain_leaf, 3)
LEVEL(chain_c, chain_d, 7)
LEVEL(chain_b, chain_c, 12)
LEVEL(chain_a, chain_b, 33)

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    struct timespec t0, t;
    unsigned long iterations = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sink += chain_a(sink);
        iterations++;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    /* The throughput and the CPU it took, read by the overhead benchmarks (which subtract
     * the CPU from a profiler's that ran this as its child). */
    {
        struct timespec cpu;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
        printf("%lu iterations %.6f cpu_seconds\n", iterations,
               (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);
    }
    return 0;
}
