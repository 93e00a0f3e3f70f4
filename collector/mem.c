#include "mem.h"

#include <errno.h>
#include <stdint.h>

long opd_mem_fail_countdown = -1;

int opd_vec_reserve(void **vec, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    if (ncap > SIZE_MAX / elem)
        return -ENOMEM;
    p = opd_realloc(*vec, ncap * elem);
    if (!p)
        return -ENOMEM;
    *vec = p;
    *cap = ncap;
    return 0;
}
