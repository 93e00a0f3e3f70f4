/* Profiling fixture: process churn. Starts argv[1] (default 2000) short-lived children,
 * at most 8 at a time; each burns about argv[2] ms (default 5) of CPU in
 * opd_fx_child_work and exits. Prints the number of children that ran. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) void opd_fx_child_work(double ms)
{
    struct timespec ts;
    double until, now;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    until = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 + ms;
    do {
        for (unsigned long i = 0; i < 100000; i++)
            sink += i * i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        now = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    } while (now < until);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    double ms = argc > 2 ? atof(argv[2]) : 5.0;
    int running = 0, done = 0;

    for (int i = 0; i < n; i++) {
        pid_t pid;

        if (running == 8) {
            if (wait(NULL) > 0)
                done++;
            running--;
        }
        pid = fork();
        if (pid == 0) {
            opd_fx_child_work(ms);
            _exit(0);
        }
        if (pid > 0)
            running++;
    }
    while (running-- > 0) {
        if (wait(NULL) > 0)
            done++;
    }
    printf("%d\n", done);
    return done == n ? 0 : 1;
}
