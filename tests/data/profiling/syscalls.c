/* Profiling fixture: spends most of its time in the kernel. opd_fx_reader issues read(2)
 * of /dev/zero itself (inline `syscall`, no libc wrapper without frame pointer in between),
 * so its samples carry kernel frames directly under main → opd_fx_reader. Runs for
 * argv[1] seconds of wall time. */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

static inline __attribute__((always_inline)) long raw_read(int fd, void *p, unsigned long n)
{
    long ret;

    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(0L), "D"((long)fd), "S"(p), "d"(n)
                     : "rcx", "r11", "memory");
    return ret;
}

__attribute__((noinline)) long opd_fx_reader(int fd, double until)
{
    struct timespec ts;
    long total = 0;

    do {
        for (int i = 0; i < 64; i++)
            total += raw_read(fd, buf, sizeof(buf));
        clock_gettime(CLOCK_MONOTONIC, &ts);
    } while ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 < until);
    return total;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 3.0;
    struct timespec ts;
    int fd = open("/dev/zero", O_RDONLY);

    if (fd < 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return opd_fx_reader(fd, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + secs) > 0 ? 0 : 1;
}
