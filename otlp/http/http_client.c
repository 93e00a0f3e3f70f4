#include "otlp/http/http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collector/log.h"
#include "collector/mem.h"

#define MAX_RESPONSE_BYTES (1u << 20)

struct opd_http_client {
    char *url, *who, *user_agent;
    struct opd_tls_config tls;
    char *ca_file, *cert_file, *key_file;
    /* tls.server_name_override: requests go to a URL naming the override (so TLS sends and
     * verifies it), connect_to routes them to the real host, host_hdr keeps Host real. */
    char *connect_to, *host_hdr;
    int64_t timeout_ns;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    _Atomic bool cancelled;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *u)
{
    struct opd_http_client *c = u;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
    struct opd_http_client *c = u;
    pthread_mutex_unlock(&c->share_locks[data]);
}

int64_t opd_http_parse_retry_after(const char *v, int64_t now_unix)
{
    struct tm tm;
    char *end;

    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        long long s = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        if (*end || s < 0 || s > 86400LL * 7)
            return -1;
        return s * 1000000000LL;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end)
        return -1;
    int64_t when = (int64_t)timegm(&tm);
    if (when <= now_unix)
        return 0;
    if (when - now_unix > 86400LL * 7)
        return -1;
    return (when - now_unix) * 1000000000LL;
}

struct xfer {
    struct opd_http_client *c;
    struct opd_http_result *res;
    size_t cap;
};

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
    struct xfer *x = u;
    size_t len = sz * n;
    struct opd_http_result *r = x->res;

    if (r->body_len + len > MAX_RESPONSE_BYTES)
        return len; /* keep the head; the rest only matters for logging */
    if (r->body_len + len > x->cap) {
        size_t ncap = x->cap ? x->cap : 512;
        uint8_t *nb;
        while (ncap < r->body_len + len)
            ncap *= 2;
        nb = opd_realloc(r->body, ncap);
        if (!nb)
            return 0;
        r->body = nb;
        x->cap = ncap;
    }
    memcpy(r->body + r->body_len, p, len);
    r->body_len += len;
    return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
    struct xfer *x = u;
    size_t len = sz * n;
    char line[256];

    if (len >= sizeof(line))
        return len;
    memcpy(line, p, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "retry-after:", 12) == 0) {
        int64_t d = opd_http_parse_retry_after(line + 12, (int64_t)time(NULL));
        if (d > 0)
            x->res->retry_after_ns = d;
    } else if (strncasecmp(line, "content-type:", 13) == 0) {
        const char *v = line + 13;
        while (*v == ' ')
            v++;
        size_t n = strlen(v);
        if (n >= sizeof(x->res->content_type))
            n = sizeof(x->res->content_type) - 1;
        memcpy(x->res->content_type, v, n);
        x->res->content_type[n] = '\0';
    }
    return len;
}

static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct opd_http_client *c = u;
    return atomic_load(&c->cancelled) ? 1 : 0;
}

/* Rewrites c->url for a TLS name override (see the struct). Returns 0, -EINVAL, -ENOMEM. */
static int override_name(struct opd_http_client *c, const char *name)
{
    const char *hp = c->url + 8, *end = hp + strcspn(hp, "/"), *colon;
    char host[256], port[8] = "443", *url;
    size_t hl, need, ct_len, hh_len;

    colon = *hp == '[' ? strstr(hp, "]:") : memchr(hp, ':', (size_t)(end - hp));
    if (colon && colon < end) {
        if (*hp == '[')
            colon++;
        hl = (size_t)(colon - hp);
        snprintf(port, sizeof(port), "%.*s", (int)(end - colon - 1), colon + 1);
    } else {
        hl = (size_t)(end - hp);
    }
    if (hl == 0 || hl >= sizeof(host) || strchr(name, ':') || strchr(name, '/')) {
        OPD_ERR(c->who, "cannot apply tls.server_name_override \"%s\" to %s", name, c->url);
        return -EINVAL;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    need = strlen(c->url) + strlen(name) + 16;
    url = opd_malloc(need);
    ct_len = strlen(name) + 2 * sizeof(port) + hl + 4;
    hh_len = hl + sizeof(port) + 8;
    c->connect_to = opd_malloc(ct_len);
    c->host_hdr = opd_malloc(hh_len);
    if (!url || !c->connect_to || !c->host_hdr) {
        opd_free(url);
        return -ENOMEM;
    }
    snprintf(url, need, "https://%s:%s%s", name, port, end);
    snprintf(c->connect_to, ct_len, "%s:%s:%s:%s", name, port, host, port);
    snprintf(c->host_hdr, hh_len, "Host: %s:%s", host, port);
    opd_free(c->url);
    c->url = url;
    return 0;
}

struct opd_http_client *opd_http_client_create(const struct opd_http_client_opts *o)
{
    struct opd_http_client *c = opd_calloc(1, sizeof(*c));
    int rc = -ENOMEM;

    pthread_once(&global_once, global_init);
    if (!c)
        goto fail;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    c->who = opd_strdup(o->who ? o->who : "http");
    c->user_agent = opd_strdup(o->user_agent ? o->user_agent : "otelprofd");
    if (!c->who || !c->user_agent)
        goto fail;
    if (!o->url || (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8))) {
        OPD_ERR(c->who, "endpoint \"%s\" must start with http:// or https://",
                o->url ? o->url : "");
        rc = -EINVAL;
        goto fail;
    }
    c->url = opd_strdup(o->url);
    if (!c->url)
        goto fail;
    c->tls = o->tls;
#define DUP(f)                                                                                     \
    if (o->tls.f && *o->tls.f && !(c->f = opd_strdup(o->tls.f)))                                   \
    goto fail
    DUP(ca_file);
    DUP(cert_file);
    DUP(key_file);
#undef DUP
    if (o->tls.server_name_override && *o->tls.server_name_override &&
        strncmp(o->url, "https://", 8) == 0) {
        rc = override_name(c, o->tls.server_name_override);
        if (rc)
            goto fail;
        rc = -ENOMEM;
    }
    if (o->tls.insecure_skip_verify)
        OPD_WARN(c->who, "tls.insecure_skip_verify is on: the server certificate is NOT "
                         "verified");
    c->timeout_ns = o->timeout_ns > 0 ? o->timeout_ns : 30000000000LL;
    c->share = curl_share_init();
    if (!c->share)
        goto fail;
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    return c;
fail:
    opd_http_client_destroy(c);
    errno = -rc;
    return NULL;
}

void opd_http_client_destroy(struct opd_http_client *c)
{
    if (!c)
        return;
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    opd_free(c->url);
    opd_free(c->who);
    opd_free(c->user_agent);
    opd_free(c->ca_file);
    opd_free(c->cert_file);
    opd_free(c->key_file);
    opd_free(c->connect_to);
    opd_free(c->host_hdr);
    opd_free(c);
}

void opd_http_client_cancel_all(struct opd_http_client *c)
{
    atomic_store(&c->cancelled, true);
}

int opd_http_post(struct opd_http_client *c, const char *const *headers, size_t n_headers,
                  const uint8_t *body, size_t len, struct opd_http_result *res)
{
    struct xfer x = {.c = c, .res = res};
    struct curl_slist *hl = NULL, *t, connect_to = {NULL, NULL};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *h;
    CURLcode cc;
    int rc;

    memset(res, 0, sizeof(res[0]));
    if (atomic_load(&c->cancelled)) {
        snprintf(res->error, sizeof(res->error), "exporter shutting down");
        return -EAGAIN;
    }
    h = curl_easy_init();
    if (!h) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -EAGAIN;
    }
    for (size_t i = 0; i < n_headers; i++) {
        t = curl_slist_append(hl, headers[i]);
        if (!t) {
            rc = -EAGAIN;
            snprintf(res->error, sizeof(res->error), "out of memory");
            goto out;
        }
        hl = t;
    }
    if (c->host_hdr) {
        t = curl_slist_append(hl, c->host_hdr);
        if (!t) {
            rc = -EAGAIN;
            snprintf(res->error, sizeof(res->error), "out of memory");
            goto out;
        }
        hl = t;
    }
    /* curl adds "Expect: 100-continue" to large bodies; OTLP servers need no handshake. */
    t = curl_slist_append(hl, "Expect:");
    if (t)
        hl = t;
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->timeout_ns / 1000000));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->connect_to) {
        connect_to.data = c->connect_to;
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, &connect_to);
    }
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    }
    if (c->tls.insecure_skip_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(res->error, sizeof(res->error), "POST %s: %s", c->url,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = -EAGAIN;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    if (res->status >= 200 && res->status < 300)
        rc = 0;
    else if (res->status == 429 || res->status == 502 || res->status == 503 || res->status == 504)
        rc = -EAGAIN;
    else
        rc = -EIO;
out:
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return rc;
}
