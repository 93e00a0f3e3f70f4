/* Unwind fixture: burns CPU in a qsort comparator, so samples pass through Debian's libc
 * (built without frame pointers) back to main. Usage: qsort_cb [seconds]. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N 20000

static volatile unsigned long spin;

static int slow_compare(const void *a, const void *b)
{
    unsigned long x = *(const unsigned int *)a, y = *(const unsigned int *)b;

    for (int i = 0; i < 200; i++)
        spin += (unsigned long)i;
    return x < y ? -1 : x > y;
}

static volatile unsigned int sink;

/* Does work after qsort returns, so the call stays a call (not a tail jump) and
 * sort_once appears in the stack. */
__attribute__((noinline)) static void sort_once(unsigned int *v, unsigned seed)
{
    for (int i = 0; i < N; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = seed;
    }
    qsort(v, N, sizeof(*v), slow_compare);
    sink += v[0] ^ v[N - 1];
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    static unsigned int v[N];
    struct timespec t0, t;
    unsigned seed = 1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sort_once(v, seed++);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("%u\n", v[0] & 1);
    return 0;
}
