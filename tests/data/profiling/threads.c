/* Thread fixture: argv[1] threads named worker-0 … worker-N-1 (as a pool names them),
 * each burning CPU for argv[2] seconds of wall time, all at once. Prints its pid when the
 * threads are up, and exits when they are done. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static pthread_barrier_t start;
static double seconds;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void opd_fx_work(double until)
{
    while (now() < until)
        for (unsigned long i = 0; i < 20000; i++)
            sink += i;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);
    opd_fx_work(now() + seconds);
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    pthread_attr_t attr;
    char name[16];

    seconds = argc > 2 ? atof(argv[2]) : 3.0;
    if (!t || pthread_barrier_init(&start, NULL, (unsigned)n + 1))
        return 1;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t[i], &attr, worker, NULL))
            return 1;
        snprintf(name, sizeof(name), "worker-%d", i);
        pthread_setname_np(t[i], name);
    }
    printf("%d\n", (int)getpid());
    fflush(stdout);
    pthread_barrier_wait(&start);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
