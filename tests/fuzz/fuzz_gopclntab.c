/* Go pclntab reader and its line tables: the first 8 bytes pick the text address, the rest
 * is the table. */
#include <stdint.h>
#include <string.h>

#include "collector/receivers/profiling/gopclntab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_symtab t;
    uint64_t text = 0;
    size_t i;

    if (size >= 8) {
        memcpy(&text, data, 8);
        data += 8;
        size -= 8;
    }
    opd_symtab_init(&t);
    if (opd_gopclntab_parse(data, size, text, &t) > 0 && opd_symtab_finish(&t) == 0)
        for (i = 0; i < t.n && i < 256; i++) {
            const char *file;
            int64_t line;

            opd_symtab_lookup(&t, t.v[i].start + t.v[i].size / 2, 1);
            opd_gopclntab_line(data, size, t.v[i].aux, 0, &file, &line);
            opd_gopclntab_line(data, size, t.v[i].aux, t.v[i].size / 2, &file, &line);
        }
    opd_symtab_fini(&t);
    return 0;
}
