/* Fixture program: prints its pid and the address of a function it then spins in, so a test
 * can symbolize a pc of a live process. PROBE_NAME is set at build time, giving two
 * binaries that differ only in that function's name. */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#ifndef PROBE_NAME
#define PROBE_NAME opd_probe_alpha
#endif

__attribute__((noinline)) void PROBE_NAME(volatile unsigned long *n)
{
    for (;;) {
        (*n)++;
        if ((*n & 0xffffff) == 0)
            usleep(1000);
    }
}

int main(void)
{
    volatile unsigned long n = 0;

    alarm(120); /* never outlive a test that forgot us */
    printf("%d %llx\n", (int)getpid(), (unsigned long long)(uintptr_t)&PROBE_NAME);
    fflush(stdout);
    PROBE_NAME(&n);
    return 0;
}
