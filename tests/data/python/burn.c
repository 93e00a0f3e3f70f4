/* Fixture: a native function a Python program calls through ctypes; it burns CPU for the
 * given number of seconds so samples land in it with Python frames beneath. */
#include <time.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) unsigned long opd_py_burn(double seconds)
{
    volatile unsigned long n = 0;
    double end = now() + seconds;

    while (now() < end) {
        for (int i = 0; i < 100000; i++)
            n += (unsigned long)i;
    }
    return n;
}
