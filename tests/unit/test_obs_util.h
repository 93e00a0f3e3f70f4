/* Helpers shared by the observability unit tests: a free loopback port and a blocking
 * HTTP GET. Header-only so each test binary stays one source file plus this. */
#ifndef OPD_TEST_OBS_UTIL_H
#define OPD_TEST_OBS_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port that was free a moment ago (the kernel's pick for port 0). */
static inline int obs_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* GETs path from 127.0.0.1:port with extra header lines (may be ""); returns the whole
 * response (status line, head, body) in a malloc'ed string, or NULL. */
static inline char *obs_http_get(int port, const char *path, const char *headers)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    char req[1024];
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0), n;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!buf || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        goto fail;
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                 path, headers);
    if (write(fd, req, (size_t)n) != n)
        goto fail;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto fail;
            buf = nb;
            cap *= 2;
        }
        if (poll(&p, 1, 5000) <= 0)
            break;
        r = read(fd, buf + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* Replaces the string option name of a config bound with map (found by its offset). */
#include "config/config_map.h"
static inline void obs_cfg_set_str(const struct opd_config_map *map, void *cfg, const char *name,
                                   const char *value)
{
    for (; map->type != OPD_CFG_END; map++)
        if (strcmp(map->name, name) == 0) {
            char **slot = (char **)((char *)cfg + map->offset);
            free(*slot);
            *slot = strdup(value);
            return;
        }
    abort();
}

/* The current string value of option name. */
static inline const char *obs_cfg_str(const struct opd_config_map *map, void *cfg, const char *name)
{
    for (; map->type != OPD_CFG_END; map++)
        if (strcmp(map->name, name) == 0)
            return *(char **)((char *)cfg + map->offset);
    abort();
}

#endif
