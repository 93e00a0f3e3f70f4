/* Unwind fixture: a SIGPROF handler that burns CPU, so samples land in a signal frame
 * and must unwind through the kernel-made frame (glibc's __restore_rt) back into the
 * interrupted loop and main. Usage: sigspin [seconds]. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void handler_work(void)
{
    unsigned long x = sink;

    for (unsigned long i = 0; i < 4000000; i++)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    sink = x;
}

__attribute__((noinline)) static void on_prof(int sig)
{
    (void)sig;
    handler_work();
    sink++;
}

__attribute__((noinline)) static void busy_loop(double seconds)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long)i;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    struct itimerval it = {{0, 5000}, {0, 5000}};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_prof;
    sigaction(SIGPROF, &sa, NULL);
    setitimer(ITIMER_PROF, &it, NULL);
    busy_loop(seconds);
    printf("%lu\n", (unsigned long)sink & 1);
    return 0;
}
