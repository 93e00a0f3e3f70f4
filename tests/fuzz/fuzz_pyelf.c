/* libFuzzer target for CPython detection in an ELF file (python/pyelf.c): .dynsym/.symtab
 * scanned for _PyRuntime, PyCode_Type, _PyEval_EvalFrameDefault and Py_Version, whose value
 * is read out of its section's file bytes. Any file a process maps as libpython* reaches
 * this reader, so the whole input is the file, written to a memfd and opened by path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector/receivers/profiling/python/pyelf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_py_elf info;
    char path[64];
    int fd = memfd_create("libpython3.12.so.1.0", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (opd_py_elf_inspect(path, &info) == 0 && info.major != 3)
            abort(); /* a detection always names a CPython 3 version */
    }
    close(fd);
    return 0;
}
