/* perf-PID.map parser; inputs starting with 'K' go to the kallsyms parser instead. */
#include <stdint.h>

#include "collector/receivers/profiling/ksyms.h"
#include "collector/receivers/profiling/perfmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_symtab t;
    size_t i;
    int n;

    opd_symtab_init(&t);
    if (size && data[0] == 'K')
        n = opd_ksyms_parse((const char *)data + 1, size - 1, &t);
    else
        n = opd_perfmap_parse((const char *)data, size, &t);
    if (n > 0) {
        for (i = 0; i < t.n; i++) {
            const struct opd_symtab_entry *e = opd_symtab_lookup(&t, t.v[i].start, 1);

            if (e)
                opd_ksyms_module(&t, e);
        }
    }
    opd_symtab_fini(&t);
    return 0;
}
