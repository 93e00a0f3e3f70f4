/* Profiling fixture: a known call chain main → opd_fx_alpha → opd_fx_beta → opd_fx_gamma,
 * where gamma burns CPU. Built with frame pointers by the test. Runs for argv[1] seconds
 * of its own CPU time, then prints that CPU time in seconds on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) void opd_fx_gamma(double until)
{
    while (cpu_seconds() < until) {
        for (unsigned long i = 0; i < 2000000; i++)
            sink += i * i;
    }
}

__attribute__((noinline)) void opd_fx_beta(double until)
{
    opd_fx_gamma(until);
    sink++;
}

__attribute__((noinline)) void opd_fx_alpha(double until)
{
    opd_fx_beta(until);
    sink++;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3.0;

    opd_fx_alpha(cpu_seconds() + secs);
    printf("%.3f\n", cpu_seconds());
    return 0;
}
