/* Unwind fixture: a recursion DEPTH frames deep (far beyond 127) whose bottom spins, to
 * check the frame budget. Built with -O2 -fomit-frame-pointer. Usage: deep [seconds]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEPTH 300

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long deep_spin(unsigned long x)
{
    for (unsigned long i = 0; i < 3000000; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

/* Work after the recursive call keeps it a real call, not a jump. */
__attribute__((noinline)) static unsigned long deep_recurse(int depth, unsigned long x)
{
    volatile unsigned long pad[2];
    unsigned long r;

    pad[0] = x;
    r = depth ? deep_recurse(depth - 1, pad[0] + 1) : deep_spin(pad[0]);
    pad[1] = r;
    return pad[1] ^ (unsigned long)depth;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sink += deep_recurse(DEPTH, sink);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("%lu\n", (unsigned long)sink & 1);
    return 0;
}
