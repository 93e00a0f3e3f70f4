/* Unwind fixture: spends most of its time inside read(2) of /dev/zero, so most samples
 * hit kernel mode and the user stack must be unwound from the registers saved at syscall
 * entry, starting at the instruction after `syscall` in libc. Usage: sysloop [seconds]. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

/* Work after read() keeps it a call (not a tail jump) so sys_loop stays in the stack. */
__attribute__((noinline)) static void sys_loop(int fd, char *buf, size_t len)
{
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, buf, len);
        sink += (unsigned long)n + (unsigned char)buf[0];
    }
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    static char buf[1 << 20];
    struct timespec t0, t;
    int fd = open("/dev/zero", O_RDONLY);

    if (fd < 0)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sys_loop(fd, buf, sizeof(buf));
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    printf("%lu\n", sink & 1);
    close(fd);
    return 0;
}
