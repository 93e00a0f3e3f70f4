/* Raw system calls for the off-CPU fixtures. The call is made from the named fixture
 * function itself, not from a libc wrapper: libc's wrappers keep no frame pointer, and a
 * frame-pointer walk from inside them skips their caller. */
#ifndef OPD_FX_RAW_SYSCALL_H
#define OPD_FX_RAW_SYSCALL_H

#include <sys/syscall.h>

#if defined(__x86_64__)
#define OPD_FX_SYSCALL3(nr, a, b, c, ret)                                                          \
    __asm__ volatile("syscall"                                                                     \
                     : "=a"(ret)                                                                   \
                     : "0"((long)(nr)), "D"((long)(a)), "S"((long)(b)), "d"((long)(c))             \
                     : "rcx", "r11", "memory")
#elif defined(__aarch64__)
#define OPD_FX_SYSCALL3(nr, a, b, c, ret)                                                          \
    do {                                                                                           \
        register long x8_ __asm__("x8") = (long)(nr);                                              \
        register long x0_ __asm__("x0") = (long)(a);                                               \
        register long x1_ __asm__("x1") = (long)(b);                                               \
        register long x2_ __asm__("x2") = (long)(c);                                               \
        __asm__ volatile("svc 0" : "+r"(x0_) : "r"(x8_), "r"(x1_), "r"(x2_) : "memory");           \
        (ret) = x0_;                                                                               \
    } while (0)
#else
#error "off-CPU fixtures need x86-64 or arm64"
#endif

#endif
