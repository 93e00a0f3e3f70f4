/* Bytes -> CPython line tables (3.10 and 3.11+ encodings) and a fake process memory in
 * which a code object, its strings and its line table are read, and in which the
 * read-ahead walk follows thread states and frames (pywalk.h): whatever a sampled process
 * holds, decoding must stay in bounds and the walk must end. First byte picks the layout. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/receivers/profiling/python/pycode.h"
#include "collector/receivers/profiling/python/pylayout.h"
#include "collector/receivers/profiling/python/pywalk.h"

struct mem {
    const uint8_t *p;
    size_t n;
};

#define BASE 0x1000ULL

static int mem_read(void *arg, uint64_t addr, void *buf, size_t len)
{
    const struct mem *m = arg;

    if (addr < BASE || addr - BASE > m->n || len > m->n - (addr - BASE))
        return -14;
    memcpy(buf, m->p + (addr - BASE), len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct opd_py_layout *l;
    struct opd_py_code c;
    struct mem m;

    if (size < 2)
        return 0;
    l = opd_py_layout_find(3, 10 + data[0] % 4);
    for (uint32_t idx = 0; idx < 64; idx += 7) {
        opd_py_line_310(data + 1, size - 1, 1, idx);
        opd_py_line_311(data + 1, size - 1, 1, idx);
    }
    m.p = data + 1;
    m.n = size - 1;
    /* The type word at +8 is the "code type" so the object is accepted when it fits. */
    if (m.n >= 16) {
        uint64_t type;

        memcpy(&type, m.p + 8, 8);
        if (opd_py_code_read(l, mem_read, &m, BASE, type, &c) == 0) {
            for (uint32_t idx = 0; idx < 32; idx++)
                opd_py_code_line(l, &c, idx);
        }
        opd_py_code_fini(&c);
    }
    /* Pointers in the data that land inside it are followed (threads, frames, codes). */
    {
        uint64_t codes[64];

        opd_py_walk_codes(l, mem_read, &m, BASE, 0x1234, codes, 64);
    }
    return 0;
}
