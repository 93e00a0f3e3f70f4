/* /proc/PID/maps parser, and the /proc/PID/cgroup picker and container id parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/receivers/profiling/proctab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_proc_mapping *m;
    char cg[4096], id[65], pod[37];
    int n;

    n = opd_procmaps_parse((const char *)data, size, OPD_MAP_EXEC, &m);
    if (n >= 0) {
        for (int i = 0; i < n; i++)
            if (m[i].end <= m[i].start || !m[i].path)
                abort();
        opd_procmaps_free(m, (size_t)n);
    }
    n = opd_procmaps_parse((const char *)data, size, 0, &m);
    if (n >= 0)
        opd_procmaps_free(m, (size_t)n);
    if (opd_cgroup_pick((const char *)data, size, cg, sizeof(cg)) == 0) {
        opd_cgroup_parse(cg, id, pod);
        if (strlen(id) != 0 && strlen(id) != 64)
            abort();
        if (strlen(pod) != 0 && strlen(pod) != 36)
            abort();
    }
    return 0;
}
