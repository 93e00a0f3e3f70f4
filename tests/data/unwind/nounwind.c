/* Unwind fixture: built with -fno-asynchronous-unwind-tables -g, so its own functions
 * have only .debug_frame CFI, as hand-written or legacy code does. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static long inner(long n)
{
    volatile long a[9];

    a[0] = n;
    a[8] = a[0] * 3;
    return a[8] + 1;
}

__attribute__((noinline)) static long outer(long n)
{
    long r = inner(n) + 2;
    return r * inner(r);
}

int main(int argc, char **argv)
{
    printf("%ld\n", outer(argc > 1 ? atol(argv[1]) : 1));
    return 0;
}
