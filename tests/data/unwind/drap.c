/* Unwind fixture: stack realignment with a variable-size frame makes GCC use a DRAP
 * register, whose CFA is the expression *(rbp - 8); built with -mavx. Calls through the
 * lazy PLT (-z lazy) so the table holds PLT expression rows. realigned() calls a spinning
 * leaf, so samples must unwind through the DRAP frame. Usage: drap [seconds]. */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef double v4d __attribute__((vector_size(32)));

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long drap_leaf(const char *buf, unsigned long x)
{
    for (unsigned long i = 0; i < 1000000; i++)
        x = x * 6364136223846793005ul + (unsigned char)buf[i & 7];
    return x;
}

__attribute__((noinline)) static double realigned(int n)
{
    v4d aligned = {1, 2, 3, 4};
    char *buf = alloca((size_t)n + 1);
    volatile v4d *pa = &aligned;

    memset(buf, 1, (size_t)n);
    buf[n] = 0;
    sink += drap_leaf(buf, sink);
    return (*pa)[1] + (double)strlen(buf);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.0;
    struct timespec t0, t;
    double r = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        r += realigned(16 + (int)(sink & 15));
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("%f\n", r);
    return 0;
}
