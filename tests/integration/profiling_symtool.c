/* Test helper: symbolizes user addresses of a live process with the receiver's symbolizer and
 * prints one line per address:
 * "<function or ?>\t<mapping path>\t<gnu build id>\t<type>[\t<file>:<line>]".
 * Usage: profiling_symtool [--procfs DIR] [--debug-dir DIR] [--lines] PID HEXADDR...
 * Exit 0 when every address was named, 1 when one was not, 2 on usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/receivers/profiling/proctab.h"
#include "collector/receivers/profiling/symbolizer.h"

int main(int argc, char **argv)
{
    const char *procfs = "/proc", *debug_dir = NULL;
    struct opd_proctab_config pc = {0};
    struct opd_symbolizer_config sc = {0};
    struct opd_proctab *tab = NULL;
    struct opd_symbolizer *sym = NULL;
    int i = 1, rc = 2, pid;

    while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
        if (strcmp(argv[i], "--lines") == 0) {
            sc.dwarf_lines = true;
            i++;
            continue;
        }
        if (strcmp(argv[i], "--procfs") == 0)
            procfs = argv[i + 1];
        else if (strcmp(argv[i], "--debug-dir") == 0)
            debug_dir = argv[i + 1];
        else
            goto usage;
        i += 2;
    }
    if (argc - i < 2)
        goto usage;
    pid = atoi(argv[i++]);
    pc.procfs_root = procfs;
    sc.procfs_root = procfs;
    if (debug_dir) {
        sc.debug_dirs = &debug_dir;
        sc.n_debug_dirs = 1;
    }
    tab = opd_proctab_create(&pc, NULL, "symtool");
    sym = tab ? opd_symbolizer_create(&sc, tab, NULL, "symtool") : NULL;
    if (!sym) {
        fprintf(stderr, "symtool: %s\n", strerror(errno));
        rc = 1;
        goto out;
    }
    rc = 0;
    for (; i < argc; i++) {
        struct opd_sym_frame f;
        unsigned long long a = strtoull(argv[i], NULL, 16);
        int err = opd_symbolizer_user(sym, pid, a, 0, 1, &f);

        printf("%s\t%s\t%s\t%s", err ? "?" : f.function, f.mapping.path, f.mapping.build_id_gnu,
               f.type_name);
        if (f.file)
            printf("\t%s:%lld", f.file, (long long)f.line);
        printf("\n");
        if (err)
            rc = 1;
    }
out:
    opd_symbolizer_destroy(sym);
    opd_proctab_destroy(tab);
    return rc;
usage:
    fprintf(stderr, "usage: %s [--procfs DIR] [--debug-dir DIR] [--lines] PID HEXADDR...\n",
            argv[0]);
    return 2;
}
