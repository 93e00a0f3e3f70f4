/* Fixture shared library: an exported function, a hidden one (only in .symtab, so a stripped
 * copy needs its debug file), and one with a C++ mangled name. */
#include <stdint.h>

__attribute__((noinline, visibility("hidden"))) int opd_fixture_hidden(int x)
{
    volatile int acc = x;

    for (int i = 0; i < 3; i++)
        acc = acc * 31 + i;
    return acc;
}

/* An Itanium-mangled name: opd::fixture::spin(int). */
__attribute__((noinline)) int opd_fixture_mangled(int x) __asm__("_ZN3opd7fixture4spinEi");
__attribute__((noinline)) int opd_fixture_mangled(int x)
{
    volatile int acc = x;

    acc += 7;
    return acc;
}

__attribute__((noinline)) int opd_fixture_lib_function(int x)
{
    return opd_fixture_hidden(x) + opd_fixture_mangled(x);
}

/* Inlined into its caller: DWARF names it at the caller's pcs. */
static inline __attribute__((always_inline)) int opd_fixture_inlined(volatile int *p)
{
    int acc = 0;

    for (int i = 0; i < 4; i++)
        acc += *p * i; /* inlined body */
    return acc;
}

__attribute__((noinline)) int opd_fixture_inline_caller(int x)
{
    volatile int v = x;

    return opd_fixture_inlined(&v) + 1; /* call site */
}

/* Addresses for the test, which cannot name the hidden symbols itself. */
uintptr_t opd_fixture_addr_hidden(void)
{
    return (uintptr_t)&opd_fixture_hidden;
}

uintptr_t opd_fixture_addr_mangled(void)
{
    return (uintptr_t)&opd_fixture_mangled;
}
