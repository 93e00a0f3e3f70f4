/* Context-switch benchmark for the off-CPU overhead: two processes bounce one byte over a
 * pair of pipes argv[1] times (every bounce blocks one side and wakes the other). Prints:
 * round trips, wall seconds, wall nanoseconds per round trip. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int ab[2], ba[2];
    char c = 'x';
    double t0, t1;
    pid_t child;

    if (pipe(ab) || pipe(ba))
        return 1;
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        for (long i = 0; i < n; i++) {
            if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    t0 = now();
    for (long i = 0; i < n; i++) {
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            return 1;
    }
    t1 = now();
    waitpid(child, NULL, 0);
    printf("%ld %.6f %.1f\n", n, t1 - t0, (t1 - t0) * 1e9 / (double)n);
    return 0;
}
