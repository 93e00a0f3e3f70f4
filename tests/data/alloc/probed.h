/* Waiting until the profiler probes this process: a uprobe shows as an int3 on the first
 * instruction of the probed function in this process's own copy of the code. munmap is
 * the last function the receiver probes in libc, so once it is probed all of libc's are;
 * malloc is checked too, since it may come from a preloaded allocator probed apart. */
#ifndef OPD_FX_PROBED_H
#define OPD_FX_PROBED_H

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int opd_fx_probed(void)
{
#if defined(__x86_64__)
    int (*volatile unmap)(void *, size_t) = munmap;
    void *(*volatile alloc)(size_t) = malloc;

    return *(volatile const unsigned char *)unmap == 0xcc &&
           *(volatile const unsigned char *)alloc == 0xcc;
#else
    return 0;
#endif
}

/* Waits until probed, at most max_ms (the whole time where the check is not available),
 * then 200 ms more for the probes of a library attached after the ones checked. */
static void opd_fx_wait_probed(long max_ms)
{
    for (long waited = 0; waited < max_ms && !opd_fx_probed(); waited += 10)
        usleep(10000);
    usleep(200000);
}

#endif
