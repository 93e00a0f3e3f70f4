/* Fixture "JIT": copies a tiny function into anonymous executable memory, describes it in
 * /tmp/perf-<pid>.map as a JIT runtime does (pid as seen in its own pid namespace), prints
 * "<pid> <hex address>" and spins in the copied code. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
    /* x86-64 "jmp ." (eb fe) and aarch64 "b ." (00 00 00 14): a one-instruction spin. */
#if defined(__x86_64__)
    static const uint8_t spin[] = {0xeb, 0xfe};
#elif defined(__aarch64__)
    static const uint8_t spin[] = {0x00, 0x00, 0x00, 0x14};
#else
#error "unsupported architecture"
#endif
    char path[64];
    uint8_t *code;
    FILE *f;

    alarm(120); /* never outlive a test that forgot us */
    code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return 1;
    memset(code, 0x90, 64);
    memcpy(code + 32, spin, sizeof(spin));
    if (mprotect(code, 4096, PROT_READ | PROT_EXEC))
        return 1;
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
    f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "%llx 40 JIT:opd_jit_spin\n", (unsigned long long)(uintptr_t)code);
    fclose(f);
    printf("%d %llx\n", (int)getpid(), (unsigned long long)(uintptr_t)(code + 32));
    fflush(stdout);
    ((void (*)(void))(uintptr_t)(code + 32))();
    return 0;
}
