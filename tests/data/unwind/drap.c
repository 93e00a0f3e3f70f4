/* Unwind fixture: stack realignment with a variable-size frame makes GCC use a DRAP
 * register, whose CFA is the expression *(rbp - 8); built with -mavx. Also calls through
 * the lazy PLT (-z lazy) so the table holds PLT expression rows. */
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef double v4d __attribute__((vector_size(32)));

__attribute__((noinline)) static double realigned(int n)
{
    v4d aligned = {1, 2, 3, 4};
    char *buf = alloca((size_t)n + 1);
    volatile v4d *pa = &aligned;

    memset(buf, 1, (size_t)n);
    buf[n] = 0;
    return (*pa)[1] + (double)strlen(buf);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;

    printf("%f\n", realigned(n));
    return 0;
}
