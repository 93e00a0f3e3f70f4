/* Builds the unwind table of every ELF file under some directories (default /usr/bin and
 * /lib/x86_64-linux-gnu, not recursive; or the directories given as arguments,
 * recursively) and reports how many have tables, their total size and the build time:
 * the "table memory for all executables on this host" figure of bench/RESULTS.unwind.md.
 * As a test it requires that every ELF file either builds or is cleanly rejected, and
 * that almost no FDE is dropped as malformed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/receivers/profiling/unwind/cache.h"
#include "collector/receivers/profiling/unwind/elf_cfi.h"
#include "collector/receivers/profiling/unwind/procs.h"

struct census {
    unsigned long files, elf, tables, no_cfi, not_native, other_err;
    unsigned long rows, raw_rows, fdes, bad_fdes, plt_rows, deref_rows, invalid_rows;
    unsigned long max_rows;
    char max_path[4096];
    double seconds;
};

static int is_elf(const char *path)
{
    unsigned char m[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

    if (fd < 0)
        return 0;
    ok = read(fd, m, 4) == 4 && !memcmp(m, "\177ELF", 4);
    close(fd);
    return ok;
}

static void one(struct census *c, const char *path)
{
    struct opd_unwind_table t;
    int err;

    c->files++;
    if (!is_elf(path))
        return;
    c->elf++;
    err = opd_elf_cfi_build(path, NULL, &t, NULL);
    if (err == -ENOENT) {
        c->no_cfi++;
        return;
    }
    if (err == -ENOEXEC) {
        c->not_native++;
        return;
    }
    if (err) {
        c->other_err++;
        fprintf(stderr, "%s: %s\n", path, strerror(-err));
        return;
    }
    c->tables++;
    c->rows += t.nrows;
    c->raw_rows += t.stats.raw_rows;
    c->fdes += t.stats.fdes;
    c->bad_fdes += t.stats.bad_fdes;
    c->plt_rows += t.stats.plt_rows;
    c->deref_rows += t.stats.deref_rows;
    c->invalid_rows += t.stats.invalid_rows;
    if (t.stats.bad_fdes)
        fprintf(stderr, "%s: %u malformed FDEs dropped\n", path, t.stats.bad_fdes);
    if (t.nrows > c->max_rows) {
        c->max_rows = t.nrows;
        snprintf(c->max_path, sizeof(c->max_path), "%s", path);
    }
    opd_unwind_table_fini(&t);
}

static void walk(struct census *c, const char *dir, int recursive, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d || depth > 8) {
        if (d)
            closedir(d);
        return;
    }
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode) && recursive)
            walk(c, path, recursive, depth + 1);
        else if (S_ISREG(st.st_mode))
            one(c, path);
    }
    closedir(d);
}

/* --running: the tables every running process needs, shared by build id, through the
 * same cache and range code the receiver uses (with sinks that only count). */
static unsigned long n_keys;

static int count_rows(void *arg, uint32_t start, const struct opd_unwind_row *rows, uint32_t n)
{
    return 0;
}

static int count_file(void *arg, uint32_t id, const struct opd_unwind_file *f)
{
    return 0;
}

static int count_key(void *arg, const struct opd_unwind_range_key *k,
                     const struct opd_unwind_range *v)
{
    n_keys++;
    return 0;
}

static int drop_key(void *arg, const struct opd_unwind_range_key *k)
{
    return 0;
}

static int running(void)
{
    struct opd_unwind_sink ts = {count_rows, count_file, NULL};
    struct opd_unwind_range_sink rs = {count_key, drop_key, NULL};
    struct opd_unwind_cache_config cfg = {.capacity_rows = 1u << 26, .max_files = 1u << 16};
    struct opd_unwind_cache_stats st;
    struct opd_unwind_cache *c = opd_unwind_cache_create(&cfg, &ts, NULL, "census");
    struct opd_unwind_procs *p = c ? opd_unwind_procs_create(c, &rs, NULL) : NULL;
    struct timespec t0, t1;
    unsigned long pids = 0;
    struct dirent *e;
    DIR *d;

    if (!p)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    d = opendir("/proc");
    while (d && (e = readdir(d))) {
        char *end;
        unsigned long pid = strtoul(e->d_name, &end, 10);

        if (*end || !pid)
            continue;
        if (!opd_unwind_procs_sync_proc(p, (uint32_t)pid))
            pids++;
    }
    if (d)
        closedir(d);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    opd_unwind_cache_get_stats(c, &st);
    printf("running: %lu processes, %u distinct files with tables (%lu without), %u rows = "
           "%.1f MiB, %lu range keys (%.1f MiB of LPM values), %.2f s\n",
           pids, st.files_loaded, (unsigned long)st.builds_failed, st.rows_used,
           (double)st.rows_used * sizeof(struct opd_unwind_row) / (1 << 20), n_keys,
           (double)n_keys * (sizeof(struct opd_unwind_range_key) +
                             sizeof(struct opd_unwind_range)) / (1 << 20),
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    opd_unwind_procs_destroy(p);
    opd_unwind_cache_destroy(c);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *defaults[] = {"/usr/bin", "/lib/x86_64-linux-gnu"};
    struct census c;
    struct timespec t0, t1;
    int i;

    if (argc > 1 && !strcmp(argv[1], "--running"))
        return running();
    memset(&c, 0, sizeof(c));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (argc > 1) {
        for (i = 1; i < argc; i++)
            walk(&c, argv[i], 1, 0);
    } else {
        for (i = 0; i < 2; i++)
            walk(&c, defaults[i], 0, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("files %lu, ELF %lu, tables %lu, without CFI %lu, other machine/class %lu, "
           "errors %lu\n",
           c.files, c.elf, c.tables, c.no_cfi, c.not_native, c.other_err);
    printf("rows %lu (%.1f MiB at 16 bytes), raw rows %lu, FDEs %lu, malformed FDEs %lu, "
           "PLT rows %lu, DRAP rows %lu, unsupported-CFA rows %lu\n",
           c.rows, (double)c.rows * 16 / (1 << 20), c.raw_rows, c.fdes, c.bad_fdes, c.plt_rows,
           c.deref_rows, c.invalid_rows);
    printf("largest %s: %lu rows; build time %.2f s (%.0f us per table)\n", c.max_path,
           c.max_rows, c.seconds, c.tables ? c.seconds * 1e6 / (double)c.tables : 0);
    if (c.elf == 0 || c.tables == 0 || c.other_err > 0 || c.bad_fdes * 1000 > c.fdes) {
        fprintf(stderr, "census failed\n");
        return 1;
    }
    return 0;
}
