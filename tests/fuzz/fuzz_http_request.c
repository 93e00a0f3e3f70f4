/* libFuzzer target for the HTTP/1.1 request head parser of the built-in server: any bytes
 * either need more input, fail with a defined error, or give a request whose fields point
 * inside the head and satisfy the parser's promises. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/httpserver/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, const char *buf, size_t n)
{
    return p >= buf && p < buf + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_http_request req;
    char *buf;
    int n;

    /* A private copy sized exactly, so that ASan catches any read past the end. */
    buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    n = opd_http_parse_request(buf, size, &req);
    if (n > 0) {
        if ((size_t)n > size || !inside(req.method, buf, (size_t)n) ||
            !inside(req.path, buf, (size_t)n) || req.path[0] != '/' ||
            req.n_headers > OPD_HTTP_MAX_HEADERS ||
            (req.version_minor != 0 && req.version_minor != 1) ||
            (req.chunked && req.content_length >= 0) || req.content_length < -1)
            abort();
        for (size_t i = 0; i < req.n_headers; i++)
            if (!inside(req.headers[i].name, buf, (size_t)n) ||
                !inside(req.headers[i].value, buf, (size_t)n) || !req.headers[i].name[0])
                abort();
        (void)opd_http_wants_openmetrics(&req);
        (void)opd_http_header(&req, "Host");
    } else if (n != 0 && n != -EINVAL && n != -E2BIG && n != -EPROTONOSUPPORT) {
        abort();
    }
    free(buf);
    return 0;
}
