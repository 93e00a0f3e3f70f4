/* Off-CPU fixture: main → opd_fx_sleeper → opd_fx_nap, where opd_fx_nap sleeps in
 * nanosleep. Sleeps argv[1] times argv[2] milliseconds, then prints its pid and the time
 * it really spent in nanosleep, in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "raw_syscall.h"

static volatile unsigned long sink;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) double opd_fx_nap(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    double t0 = now();
    long ret;

    OPD_FX_SYSCALL3(SYS_nanosleep, &ts, 0, 0, ret);
    (void)ret;
    return now() - t0;
}

__attribute__((noinline)) double opd_fx_sleeper(int n, long ms)
{
    double slept = 0;

    for (int i = 0; i < n; i++) {
        slept += opd_fx_nap(ms);
        sink++;
    }
    return slept;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    long ms = argc > 2 ? atol(argv[2]) : 100;
    double slept = opd_fx_sleeper(n, ms);

    printf("%d %.6f\n", (int)getpid(), slept);
    return 0;
}
