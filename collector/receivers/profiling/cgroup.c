/* cgroup path -> container.id and pod UID, for every runtime naming we know of:
 * containerd "cri-containerd-<id>.scope", CRI-O "crio-<id>.scope", docker "docker-<id>.scope"
 * and "/docker/<id>", podman "libpod-<id>.scope", cgroupfs "/kubepods/<qos>/pod<uid>/<id>",
 * systemd slices "kubepods-<qos>-pod<uid_with_underscores>.slice". */
#include "collector/receivers/profiling/proctab.h"

#include <errno.h>
#include <string.h>

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The component [s, s+n) with a trailing ".scope"/".slice" removed. */
static size_t strip_unit_suffix(const char *s, size_t n)
{
    if (n > 6 && (memcmp(s + n - 6, ".scope", 6) == 0 || memcmp(s + n - 6, ".slice", 6) == 0))
        return n - 6;
    return n;
}

/* A container id is 64 lowercase hex chars that end the component and start it or follow
 * a '-' or ':' ("cri-containerd-<id>", "docker-<id>", "<id>"). */
static int component_container_id(const char *s, size_t n, char id[65])
{
    size_t i;

    n = strip_unit_suffix(s, n);
    if (n < 64)
        return 0;
    for (i = n - 64; i < n; i++)
        if (!is_hex(s[i]))
            return 0;
    if (n > 64 && s[n - 65] != '-' && s[n - 65] != ':')
        return 0;
    memcpy(id, s + n - 64, 64);
    id[64] = '\0';
    return 1;
}

/* A pod UID is "pod" (at the start or after '-') then a 36-char UUID whose separators are
 * '-' (cgroupfs) or '_' (systemd, which reserves '-'). */
static int component_pod_uid(const char *s, size_t n, char uid[37])
{
    size_t i, j;

    n = strip_unit_suffix(s, n);
    for (i = 0; i + 3 + 36 <= n; i++) {
        const char *u = s + i + 3;
        int ok = 1;

        if (memcmp(s + i, "pod", 3) != 0 || (i > 0 && s[i - 1] != '-'))
            continue;
        if (i + 3 + 36 != n)
            continue;
        for (j = 0; j < 36 && ok; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                ok = u[j] == '-' || u[j] == '_';
            else
                ok = is_hex(u[j]);
        }
        if (!ok)
            continue;
        for (j = 0; j < 36; j++)
            uid[j] = u[j] == '_' ? '-' : u[j];
        uid[36] = '\0';
        return 1;
    }
    return 0;
}

int opd_cgroup_parse(const char *path, char container_id[65], char pod_uid[37])
{
    const char *p;

    if (!path || !container_id || !pod_uid)
        return -EINVAL;
    container_id[0] = '\0';
    pod_uid[0] = '\0';
    /* The innermost match wins: a nested cgroup of a container is still that container. */
    for (p = path; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char id[65], uid[37];

        if (component_container_id(p, n, id))
            memcpy(container_id, id, sizeof(id));
        if (component_pod_uid(p, n, uid))
            memcpy(pod_uid, uid, sizeof(uid));
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

static void copy_span(char *out, size_t len, const char *s, size_t n)
{
    if (n >= len)
        n = len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

int opd_cgroup_pick(const char *contents, size_t n, char *out, size_t len)
{
    const char *p = contents, *end = contents + n;
    const char *v2 = NULL, *first = NULL, *with_id = NULL;
    size_t v2_len = 0, first_len = 0, with_id_len = 0;

    if (!contents || !out || len == 0)
        return -EINVAL;
    out[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *c1 = memchr(p, ':', (size_t)(le - p));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;

        if (c2) {
            const char *path = c2 + 1;
            size_t plen = (size_t)(le - path);
            char tmp[4096], id[65], uid[37];

            if (!first) {
                first = path;
                first_len = plen;
            }
            if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1 && !v2) {
                v2 = path;
                v2_len = plen;
            }
            copy_span(tmp, sizeof(tmp), path, plen);
            opd_cgroup_parse(tmp, id, uid);
            /* On hybrid hosts "0::/" is present but only v1 lines name the container. */
            if (id[0] && (!with_id || path == v2)) {
                with_id = path;
                with_id_len = plen;
            }
        }
        p = nl ? nl + 1 : end;
    }
    if (with_id)
        copy_span(out, len, with_id, with_id_len);
    else if (v2)
        copy_span(out, len, v2, v2_len);
    else if (first)
        copy_span(out, len, first, first_len);
    else
        return -ENOENT;
    return 0;
}
