/* Debug file lookup. Candidate paths are built as gdb does; every candidate is verified
 * before use so a stale or foreign debug file cannot mislabel frames. */
#include "collector/receivers/profiling/debuginfo.h"

#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "collector/mem.h"

unsigned long opd_debugfile_crc(int fd)
{
    unsigned char buf[65536];
    unsigned long crc = crc32(0L, Z_NULL, 0);
    off_t off = 0;
    ssize_t r;

    while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
        crc = crc32(crc, buf, (uInt)r);
        off += r;
    }
    return r < 0 ? 0 : crc;
}

/* Opens path and checks it against info; fills out on a match. */
static int try_candidate(const char *path, const struct opd_elf_info *info, bool by_crc,
                         struct opd_debugfile *out)
{
    struct opd_elf_info ci = {0};
    struct Elf *elf = NULL;
    int fd, err = -ENOENT;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ENOENT;
    elf = opd_elf_open_fd(fd);
    if (!elf)
        goto out;
    err = opd_elf_read(elf, OPD_ELF_HEADERS, &ci, NULL, NULL);
    if (err == -ENOMEM)
        goto out;
    err = -ENOENT;
    if (info->build_id_len) {
        if (ci.build_id_len != info->build_id_len ||
            memcmp(ci.build_id, info->build_id, info->build_id_len) != 0)
            goto out;
    } else if (!by_crc || opd_debugfile_crc(fd) != info->debuglink_crc) {
        goto out;
    }
    out->fd = fd;
    out->elf = elf;
    fd = -1;
    elf = NULL;
    err = 0;
out:
    opd_elf_info_fini(&ci);
    opd_elf_close(elf);
    if (fd >= 0)
        close(fd);
    return err;
}

static int by_build_id(const char *prefix, const char *dir, const struct opd_elf_info *info,
                       struct opd_debugfile *out)
{
    char path[PATH_MAX], hex[2 * OPD_BUILD_ID_MAX + 1];
    int n;

    if (info->build_id_len < 2)
        return -ENOENT;
    opd_elf_build_id_hex(info, hex, sizeof(hex));
    n = snprintf(path, sizeof(path), "%s%s/.build-id/%.2s/%s.debug", prefix, dir, hex, hex + 2);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENOENT;
    return try_candidate(path, info, false, out);
}

static int by_debuglink(const char *const *dirs, size_t n_dirs, const char *root,
                        const char *bin_path, const struct opd_elf_info *info,
                        struct opd_debugfile *out)
{
    char bindir[PATH_MAX], path[PATH_MAX];
    const char *slash;
    size_t i;
    int n, err;

    if (!info->debuglink[0] || !bin_path || bin_path[0] != '/')
        return -ENOENT;
    slash = strrchr(bin_path, '/');
    n = snprintf(bindir, sizeof(bindir), "%.*s", (int)(slash - bin_path), bin_path);
    if (n < 0 || (size_t)n >= sizeof(bindir))
        return -ENOENT;
    /* <root><bindir>/<link>, then <root><bindir>/.debug/<link> */
    n = snprintf(path, sizeof(path), "%s%s/%s", root, bindir, info->debuglink);
    if (n > 0 && (size_t)n < sizeof(path) && strcmp(path + strlen(root), bin_path) != 0) {
        err = try_candidate(path, info, true, out);
        if (err != -ENOENT)
            return err;
    }
    n = snprintf(path, sizeof(path), "%s%s/.debug/%s", root, bindir, info->debuglink);
    if (n > 0 && (size_t)n < sizeof(path)) {
        err = try_candidate(path, info, true, out);
        if (err != -ENOENT)
            return err;
    }
    /* <debug_dir><bindir>/<link>: host first, then inside root. */
    for (i = 0; i < 2 * n_dirs; i++) {
        const char *prefix = i < n_dirs ? "" : root;

        if (i >= n_dirs && !root[0])
            break;
        n = snprintf(path, sizeof(path), "%s%s%s/%s", prefix, dirs[i % n_dirs], bindir,
                     info->debuglink);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        err = try_candidate(path, info, true, out);
        if (err != -ENOENT)
            return err;
    }
    return -ENOENT;
}

int opd_debugfile_find(const char *const *debug_dirs, size_t n_dirs, const char *root,
                       const char *bin_path, const struct opd_elf_info *info,
                       struct opd_debugfile *out)
{
    size_t i;
    int err;

    out->fd = -1;
    out->elf = NULL;
    if (!root)
        root = "";
    for (i = 0; i < 2 * n_dirs; i++) {
        const char *prefix = i < n_dirs ? "" : root;

        if (i >= n_dirs && !root[0])
            break;
        err = by_build_id(prefix, debug_dirs[i % n_dirs], info, out);
        if (err != -ENOENT)
            return err;
    }
    return by_debuglink(debug_dirs, n_dirs, root, bin_path, info, out);
}

void opd_debugfile_close(struct opd_debugfile *f)
{
    if (!f)
        return;
    opd_elf_close(f->elf);
    if (f->fd >= 0)
        close(f->fd);
    f->elf = NULL;
    f->fd = -1;
}
