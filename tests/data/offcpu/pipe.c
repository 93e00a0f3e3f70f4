/* Off-CPU fixture: main → opd_fx_waiter → opd_fx_read_pipe, where opd_fx_read_pipe blocks
 * in read() on a pipe that a child process writes one byte to every argv[2] milliseconds,
 * argv[1] times. Prints the parent's pid and the time it really spent blocked in read,
 * in seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
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

__attribute__((noinline)) double opd_fx_read_pipe(int fd)
{
    char c;
    double t0 = now();
    long ret;

    OPD_FX_SYSCALL3(SYS_read, fd, &c, 1, ret);
    if (ret != 1)
        exit(1);
    return now() - t0;
}

__attribute__((noinline)) double opd_fx_waiter(int fd, int n)
{
    double blocked = 0;

    for (int i = 0; i < n; i++) {
        blocked += opd_fx_read_pipe(fd);
        sink++;
    }
    return blocked;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    long ms = argc > 2 ? atol(argv[2]) : 100;
    int p[2];
    pid_t child;
    double blocked;

    if (pipe(p))
        return 1;
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        close(p[0]);
        for (int i = 0; i < n; i++) {
            usleep((useconds_t)ms * 1000);
            if (write(p[1], "x", 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    close(p[1]);
    blocked = opd_fx_waiter(p[0], n);
    waitpid(child, NULL, 0);
    printf("%d %.6f\n", (int)getpid(), blocked);
    return 0;
}
