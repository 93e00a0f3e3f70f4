#include "collector/httpserver/http_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the characters allowed in methods and field names. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field values: visible ASCII, blanks and obs-text; no controls. */
static bool is_vchar_or_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static const char *find_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return buf + i;
    return NULL;
}

/* Parses a decimal Content-Length without sign or blanks; -1 when invalid or huge. */
static int64_t parse_length(const char *s)
{
    int64_t v = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

/* Does a comma-separated header value hold token (case-insensitive)? */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;

    while (*p) {
        const char *end;
        size_t n;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        end = p;
        while (*end && *end != ',')
            end++;
        n = (size_t)(end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p = end;
    }
    return false;
}

static int parse_request_line(char *line, struct opd_http_request *req)
{
    char *sp1, *sp2, *q;

    sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line)
        return -EINVAL;
    *sp1 = '\0';
    for (char *c = line; *c; c++)
        if (!is_tchar((unsigned char)*c))
            return -EINVAL;
    sp2 = strchr(sp1 + 1, ' ');
    if (!sp2)
        return -EINVAL;
    *sp2 = '\0';
    if (sp1[1] != '/')
        return -EINVAL; /* origin-form only: the endpoints are never proxied to */
    for (char *c = sp1 + 1; *c; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
            return -EINVAL;
    if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
        return -EINVAL;
    if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
        req->version_minor = 1;
    else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
        req->version_minor = 0;
    else
        return -EPROTONOSUPPORT;
    req->method = line;
    req->path = sp1 + 1;
    q = strchr(sp1 + 1, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    } else {
        req->query = "";
    }
    return 0;
}

static int parse_header_line(char *line, struct opd_http_request *req)
{
    char *colon = strchr(line, ':');
    char *v, *end;

    if (line[0] == ' ' || line[0] == '\t')
        return -EINVAL; /* obsolete line folding */
    if (!colon || colon == line)
        return -EINVAL;
    for (char *c = line; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return -EINVAL;
    *colon = '\0';
    v = colon + 1;
    for (char *c = v; *c; c++)
        if (!is_vchar_or_blank((unsigned char)*c))
            return -EINVAL;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (req->n_headers >= OPD_HTTP_MAX_HEADERS)
        return -E2BIG;
    req->headers[req->n_headers].name = line;
    req->headers[req->n_headers].value = v;
    req->n_headers++;
    return 0;
}

/* Interprets the fields the server acts on. */
static int interpret_headers(struct opd_http_request *req)
{
    bool close_asked = false, keep_asked = false;

    req->content_length = -1;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct opd_http_header *h = &req->headers[i];

        if (strcasecmp(h->name, "Content-Length") == 0) {
            int64_t n = parse_length(h->value);
            if (n < 0 || (req->content_length >= 0 && req->content_length != n))
                return -EINVAL;
            req->content_length = n;
        } else if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
            req->chunked = true; /* any transfer coding: we do not decode bodies */
        } else if (strcasecmp(h->name, "Connection") == 0) {
            close_asked |= has_token(h->value, "close");
            keep_asked |= has_token(h->value, "keep-alive");
        }
    }
    /* Both framings at once is a smuggling vector (RFC 9112 6.1): refuse it. */
    if (req->chunked && req->content_length >= 0)
        return -EINVAL;
    req->keep_alive = req->version_minor >= 1 ? !close_asked : keep_asked && !close_asked;
    return 0;
}

int opd_http_parse_request(char *buf, size_t len, struct opd_http_request *req)
{
    const char *end = find_head_end(buf, len);
    size_t head_len;
    char *line, *next;
    int err;

    if (!end)
        return 0;
    head_len = (size_t)(end - buf) + 4;
    if (memchr(buf, '\0', head_len))
        return -EINVAL;
    memset(req, 0, sizeof(*req));
    buf[head_len - 2] = '\0'; /* the head now ends at the last field's CRLF */
    line = buf;
    for (int first = 1; *line; first = 0, line = next) {
        char *crlf = strstr(line, "\r\n");

        if (!crlf)
            return -EINVAL;
        *crlf = '\0';
        next = crlf + 2;
        if (memchr(line, '\r', (size_t)(crlf - line)) || strchr(line, '\n'))
            return -EINVAL; /* bare CR or LF inside a line */
        err = first ? parse_request_line(line, req) : parse_header_line(line, req);
        if (err)
            return err;
    }
    if (!req->method)
        return -EINVAL;
    err = interpret_headers(req);
    return err ? err : (int)head_len;
}

const char *opd_http_header(const struct opd_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

bool opd_http_wants_openmetrics(const struct opd_http_request *req)
{
    const char *accept = opd_http_header(req, "Accept");
    const char *p, *end;

    if (!accept)
        return false;
    p = strcasestr(accept, "application/openmetrics-text");
    if (!p)
        return false;
    end = strchr(p, ',');
    if (!end)
        end = p + strlen(p);
    /* Only a zero quality on that media range turns it down. */
    for (const char *c = p; c + 2 < end; c++)
        if ((c[0] == 'q' || c[0] == 'Q') && c[1] == '=' && (c == p || c[-1] == ';' || c[-1] == ' '))
            return strtod(c + 2, NULL) > 0.0;
    return true;
}

const char *opd_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
