#include "rotation.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/mem.h"

/* Splits path into directory, stem and extension ("out/p.jsonl" → "out", "p", ".jsonl"). */
static void split(const char *path, char *dir, size_t dcap, char *stem, size_t scap, char *ext,
                  size_t ecap)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');

    if (slash)
        snprintf(dir, dcap, "%.*s", (int)(slash - path), path);
    else
        snprintf(dir, dcap, ".");
    if (slash && slash == path)
        snprintf(dir, dcap, "/");
    if (!dot || dot == base)
        dot = base + strlen(base);
    snprintf(stem, scap, "%.*s", (int)(dot - base), base);
    snprintf(ext, ecap, "%s", dot);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A backup name is stem + "-" + "YYYY-MM-DDTHH-MM-SS.mmm" + ext. */
static bool is_backup(const char *name, const char *stem, const char *ext)
{
    size_t sl = strlen(stem), el = strlen(ext), nl = strlen(name);

    return nl == sl + 1 + 23 + el && strncmp(name, stem, sl) == 0 && name[sl] == '-' &&
           strcmp(name + nl - el, ext) == 0 && name[sl + 11] == 'T';
}

static int prune(const char *dir, const char *stem, const char *ext, int64_t max_backups,
                 int64_t max_days)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    time_t now = time(NULL);
    DIR *d = opendir(dir);
    int err = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        char **slot;
        if (!is_backup(de->d_name, stem, ext))
            continue;
        slot = OPD_VEC_PUSH_SLOT(names, n, cap);
        if (!slot || !(*slot = opd_strdup(de->d_name))) {
            if (slot)
                n--;
            err = -ENOMEM;
            break;
        }
    }
    closedir(d);
    /* Timestamps sort lexically: the oldest come first. */
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        struct stat st;
        bool drop = max_backups > 0 && (int64_t)(n - i) > max_backups;

        snprintf(full, sizeof(full), "%s/%s", dir, names[i]);
        if (!drop && max_days > 0 && stat(full, &st) == 0)
            drop = now - st.st_mtime > max_days * 86400;
        if (drop)
            unlink(full);
        opd_free(names[i]);
    }
    opd_free(names);
    return err;
}

int opd_file_rotate(const char *path, int64_t max_backups, int64_t max_days, bool localtime)
{
    char dir[2048], stem[1024], ext[256], stamp[64], backup[4096];
    struct timespec ts;
    struct tm tm;

    split(path, dir, sizeof(dir), stem, sizeof(stem), ext, sizeof(ext));
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime)
        localtime_r(&ts.tv_sec, &tm);
    else
        gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H-%M-%S", &tm);
    snprintf(backup, sizeof(backup), "%s/%s-%s.%03ld%s", dir, stem, stamp,
             ts.tv_nsec / 1000000, ext);
    if (rename(path, backup) != 0)
        return -errno;
    return prune(dir, stem, ext, max_backups, max_days);
}
