/* The shared Kubernetes metadata client (see k8s_client.h): the registry of clients by
 * settings, the watcher threads (LIST → WATCH → relist on 410) and the janitor thread
 * that expires deleted objects and publishes metrics. HTTP is libcurl, one easy handle
 * per watcher, reused across requests so TLS sessions and connections are kept. */
#include "collector/k8s/k8s_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/k8s/k8s_auth.h"
#include "collector/k8s/k8s_stream.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"

#define WHO            "k8s"
#define MAX_LIST_BODY  (512u << 20)
#define MAX_EVENT_LINE (16u << 20)
#define MAX_ERR_BODY   4096u

struct opd_k8s_client;

struct watcher {
    struct opd_k8s_client *c;
    pthread_t thread;
    bool started;
    enum opd_k8s_kind kind;
    char *ns;       /* "" = all namespaces */
    char *path;     /* "/api/v1/namespaces/x/pods" */
    char *selector; /* fieldSelector value or NULL */
    CURL *curl;
    char *rv; /* resourceVersion to watch from */
    bool synced;
    /* per request */
    long status;
    char *body;
    size_t body_len, body_cap;
    bool body_too_big;
    struct opd_k8s_stream stream;
    int stream_err;
};

struct opd_k8s_client {
    struct opd_k8s_client *next; /* registry list */
    char *key;
    int refs; /* under registry_lock */
    char *who;
    struct opd_k8s_conn conn;
    struct opd_k8s_cache *cache;
    uint64_t backoff_initial, backoff_max;
    int watch_timeout_s, list_limit;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* stop, synced */
    bool stop;
    size_t n_synced;
    struct opd_k8s_client_stats st;

    struct watcher *w;
    size_t n_w;
    pthread_t janitor;
    bool janitor_started;

    struct opd_metric *m_pods, *m_added, *m_deleted, *m_relists, *m_errors, *m_refused;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct opd_k8s_client *registry;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct opd_k8s_client *c)
{
    bool s;

    pthread_mutex_lock(&c->lock);
    s = c->stop;
    pthread_mutex_unlock(&c->lock);
    return s;
}

/* Sleeps ns unless the client stops first; returns true when stopping. */
static bool sleep_or_stop(struct opd_k8s_client *c, uint64_t ns)
{
    struct timespec ts;
    bool s;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec += (long)(ns % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    while (!c->stop && pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT)
        ;
    s = c->stop;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void stat_add(struct opd_k8s_client *c, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&c->lock);
    *field += n;
    pthread_mutex_unlock(&c->lock);
}

/* ---- HTTP ---------------------------------------------------------------------------- */

static size_t on_body(char *data, size_t sz, size_t nmemb, void *arg)
{
    struct watcher *w = arg;
    size_t n = sz * nmemb;

    if (w->status == 0)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &w->status);
    if (w->stream.fn && w->status == 200) {
        w->stream_err = opd_k8s_stream_feed(&w->stream, data, n);
        return w->stream_err ? 0 : n;
    }
    /* A list body, or the Status body of an error answer (kept short). */
    if (w->body_len + n > (w->status == 200 ? MAX_LIST_BODY : MAX_ERR_BODY)) {
        w->body_too_big = w->status == 200;
        return w->status == 200 ? 0 : n;
    }
    if (opd_vec_reserve((void **)&w->body, &w->body_cap, w->body_len + n + 1, 1))
        return 0;
    memcpy(w->body + w->body_len, data, n);
    w->body_len += n;
    w->body[w->body_len] = '\0';
    return n;
}

static int on_progress(void *arg, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln)
{
    struct watcher *w = arg;

    return stopping(w->c) ? 1 : 0;
}

static int setup_tls(struct watcher *w)
{
    const struct opd_k8s_conn *cn = &w->c->conn;
    CURL *h = w->curl;

    if (cn->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cn->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, cn->ca_file);
    if (cn->ca_data) {
        struct curl_blob b = {cn->ca_data, cn->ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (cn->cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, cn->cert_file);
    if (cn->key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, cn->key_file);
    if (cn->cert_data) {
        struct curl_blob b = {cn->cert_data, cn->cert_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    }
    if (cn->key_data) {
        struct curl_blob b = {cn->key_data, cn->key_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    }
    return 0;
}

/* Performs one GET of query on the watcher's path. stream selects watch decoding.
 * Returns 0 with w->status set, -ESTALE (410 event in the stream), -EINTR (stopping) or
 * another -errno for transport and decoding failures. */
static int http_get(struct watcher *w, const char *query, bool stream, long timeout_s)
{
    struct opd_k8s_client *c = w->c;
    struct curl_slist *hdrs = NULL;
    char tok[8192], auth[8300], *url = NULL;
    long tl;
    size_t n;
    CURLcode rc;
    int err;

    tl = opd_k8s_conn_token(&c->conn, tok, sizeof(tok));
    if (tl < 0) {
        OPD_WARN(c->who, "reading token %s: %s", c->conn.token_file ? c->conn.token_file : "",
                 strerror((int)-tl));
        return (int)tl;
    }
    n = strlen(c->conn.server) + strlen(w->path) + strlen(query) + 2;
    url = opd_malloc(n);
    if (!url)
        return -ENOMEM;
    snprintf(url, n, "%s%s?%s", c->conn.server, w->path, query);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (tl > 0) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
        hdrs = curl_slist_append(hdrs, auth);
    }
    w->status = 0;
    w->body_len = 0;
    w->body_too_big = false;
    w->stream_err = 0;
    if (stream)
        opd_k8s_stream_init(&w->stream, w->kind, MAX_EVENT_LINE, w->stream.fn, w->stream.arg);
    else
        w->stream.fn = NULL;
    curl_easy_setopt(w->curl, CURLOPT_URL, url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT, timeout_s);
    rc = curl_easy_perform(w->curl);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    opd_free(url);
    if (stream)
        opd_k8s_stream_fini(&w->stream);
    if (w->status == 0)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &w->status);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return -EINTR;
    if (rc == CURLE_WRITE_ERROR && w->stream_err)
        return w->stream_err;
    if (rc == CURLE_WRITE_ERROR && w->body_too_big)
        return -EFBIG;
    if (rc == CURLE_OPERATION_TIMEDOUT && stream)
        return 0; /* our own bound on a quiet watch: reconnect from the last version */
    if (rc != CURLE_OK) {
        OPD_WARN(c->who, "GET %s%s: %s", w->path, stream ? " (watch)" : "", curl_easy_strerror(rc));
        err = rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
        return err;
    }
    return 0;
}

static void log_status(struct watcher *w, const char *what)
{
    struct opd_k8s_client *c = w->c;

    if (w->status == 401 || w->status == 403)
        stat_add(c, &c->st.auth_errors, 1);
    OPD_WARN(c->who, "%s %s: HTTP %ld%s%.300s", what, w->path, w->status, w->body_len ? ": " : "",
             w->body_len ? w->body : "");
}

/* ---- LIST / WATCH -------------------------------------------------------------------- */

static void sel_query(struct watcher *w, char *q, size_t len)
{
    q[0] = '\0';
    if (w->selector) {
        char *esc = curl_easy_escape(w->curl, w->selector, 0);

        if (esc) {
            snprintf(q, len, "&fieldSelector=%s", esc);
            curl_free(esc);
        }
    }
}

static int set_rv(struct watcher *w, const char *rv)
{
    char *d;

    if (!rv || !rv[0])
        return 0;
    d = opd_strdup(rv);
    if (!d)
        return -ENOMEM;
    opd_free(w->rv);
    w->rv = d;
    return 0;
}

/* LISTs every page into the cache and leaves the list's resourceVersion in w->rv. */
static int list_all(struct watcher *w)
{
    struct opd_k8s_client *c = w->c;
    char q[2048], sel[1024], *cont = NULL;
    uint64_t token = opd_k8s_cache_sync_begin(c->cache, w->kind, w->ns);
    size_t total = 0, refused = 0;
    int err;

    sel_query(w, sel, sizeof(sel));
    for (;;) {
        struct opd_k8s_list l = {0};
        char *esc = cont ? curl_easy_escape(w->curl, cont, 0) : NULL;

        snprintf(q, sizeof(q), "limit=%d%s%s%s", c->list_limit, esc ? "&continue=" : "",
                 esc ? esc : "", sel);
        curl_free(esc);
        err = http_get(w, q, false, 120);
        if (err)
            goto out;
        stat_add(c, &c->st.lists, 1);
        if (w->status == 410 && cont) {
            /* The continue token expired: start the list over. */
            OPD_INFO(c->who, "list %s: continue token expired, listing again", w->path);
            opd_free(cont);
            cont = NULL;
            token = opd_k8s_cache_sync_begin(c->cache, w->kind, w->ns);
            total = 0;
            continue;
        }
        if (w->status != 200) {
            log_status(w, "list");
            err = w->status == 401 || w->status == 403 ? -EACCES : -EIO;
            goto out;
        }
        err = opd_k8s_list_decode(w->kind, w->body, w->body_len, &l);
        if (err) {
            OPD_WARN(c->who, "list %s: answer is not a list", w->path);
            opd_k8s_list_fini(&l);
            goto out;
        }
        for (size_t i = 0; i < l.n; i++)
            if (opd_k8s_cache_put(c->cache, l.items[i]) == -ENOSPC)
                refused++;
        total += l.n;
        opd_free(cont);
        cont = NULL;
        err = set_rv(w, l.resource_version);
        if (!err && l.cont[0] && !(cont = opd_strdup(l.cont)))
            err = -ENOMEM;
        opd_k8s_list_fini(&l);
        if (err || !cont)
            break;
    }
    if (!err) {
        opd_k8s_cache_sync_end(c->cache, w->kind, w->ns, token, mono_ns());
        OPD_DEBUG(c->who, "listed %zu %s%s%s at resourceVersion %s", total,
                  opd_k8s_kind_name(w->kind), w->ns[0] ? " in " : "", w->ns, w->rv ? w->rv : "");
        if (refused)
            OPD_WARN(c->who, "cache full: %zu %s not cached", refused, opd_k8s_kind_name(w->kind));
    }
out:
    opd_free(cont);
    return err;
}

static int on_event(void *arg, const struct opd_k8s_event *ev)
{
    struct watcher *w = arg;
    struct opd_k8s_client *c = w->c;

    switch (ev->type) {
    case OPD_K8S_ADDED:
    case OPD_K8S_MODIFIED:
        opd_k8s_cache_put(c->cache, ev->obj);
        break;
    case OPD_K8S_DELETED:
        opd_k8s_cache_delete(c->cache, ev->obj->uid, mono_ns());
        break;
    case OPD_K8S_BOOKMARK:
        stat_add(c, &c->st.bookmarks, 1);
        break;
    case OPD_K8S_ERROR:
        if (ev->code == 410)
            return -ESTALE;
        OPD_WARN(c->who, "watch %s: error event %d: %s", w->path, ev->code, ev->message);
        return -EPROTO;
    }
    stat_add(c, &c->st.events, 1);
    return set_rv(w, ev->resource_version);
}

/* Watches from w->rv until the server ends the watch. Returns 0 (ended normally: watch
 * again), -ESTALE (relist), -EINTR or another error (back off). */
static int watch_once(struct watcher *w)
{
    struct opd_k8s_client *c = w->c;
    char q[2048], sel[1024], *esc;
    int err;

    sel_query(w, sel, sizeof(sel));
    esc = curl_easy_escape(w->curl, w->rv ? w->rv : "", 0);
    snprintf(q, sizeof(q),
             "watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&resourceVersion=%s%s",
             c->watch_timeout_s, esc ? esc : "", sel);
    curl_free(esc);
    w->stream.fn = on_event;
    w->stream.arg = w;
    stat_add(c, &c->st.watches, 1);
    err = http_get(w, q, true, c->watch_timeout_s + 30);
    if (err)
        return err;
    if (w->status == 410)
        return -ESTALE;
    if (w->status != 200) {
        log_status(w, "watch");
        return -EIO;
    }
    return 0;
}

static void mark_synced(struct watcher *w)
{
    struct opd_k8s_client *c = w->c;

    if (w->synced)
        return;
    w->synced = true;
    pthread_mutex_lock(&c->lock);
    c->n_synced++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    struct opd_k8s_client *c = w->c;
    uint64_t backoff = c->backoff_initial;
    bool need_list = true;

    while (!stopping(c)) {
        int err;

        if (need_list) {
            err = list_all(w);
            if (err) {
                if (err == -EINTR)
                    break;
                stat_add(c, &c->st.errors, 1);
                opd_metric_add(c->m_errors, 1);
                if (sleep_or_stop(c, backoff + (uint64_t)rand() % (backoff / 4 + 1)))
                    break;
                backoff = backoff * 2 > c->backoff_max ? c->backoff_max : backoff * 2;
                continue;
            }
            need_list = false;
            mark_synced(w);
        }
        err = watch_once(w);
        if (err == 0) {
            backoff = c->backoff_initial;
            continue;
        }
        if (err == -EINTR)
            break;
        if (err == -ESTALE) {
            OPD_INFO(c->who, "watch %s: resourceVersion %s too old (410 Gone), relisting", w->path,
                     w->rv ? w->rv : "");
            stat_add(c, &c->st.relists, 1);
            opd_metric_add(c->m_relists, 1);
            need_list = true;
            continue;
        }
        /* Dropped connection, bad answer: back off, then watch again from the last
         * version seen (the server answers 410 if it is too old by then). */
        stat_add(c, &c->st.errors, 1);
        opd_metric_add(c->m_errors, 1);
        if (err == -EPROTO || err == -EMSGSIZE)
            need_list = true;
        if (sleep_or_stop(c, backoff + (uint64_t)rand() % (backoff / 4 + 1)))
            break;
        backoff = backoff * 2 > c->backoff_max ? c->backoff_max : backoff * 2;
    }
    return NULL;
}

static void *janitor_main(void *arg)
{
    struct opd_k8s_client *c = arg;

    while (!sleep_or_stop(c, 1000000000ull)) {
        struct opd_k8s_cache_stats st;

        opd_k8s_cache_sweep(c->cache, mono_ns());
        opd_k8s_cache_get_stats(c->cache, &st);
        opd_metric_set(c->m_pods, (int64_t)st.objects[OPD_K8S_POD]);
        opd_metric_set(c->m_added, (int64_t)st.added);
        opd_metric_set(c->m_deleted, (int64_t)st.deleted);
        opd_metric_set(c->m_refused, (int64_t)st.refused);
    }
    return NULL;
}

/* ---- construction -------------------------------------------------------------------- */

static const char *kind_path(enum opd_k8s_kind kind)
{
    switch (kind) {
    case OPD_K8S_POD:
        return "/api/v1%s%s/pods";
    case OPD_K8S_REPLICASET:
        return "/apis/apps/v1%s%s/replicasets";
    case OPD_K8S_JOB:
        return "/apis/batch/v1%s%s/jobs";
    case OPD_K8S_DEPLOYMENT:
        return "/apis/apps/v1%s%s/deployments";
    case OPD_K8S_STATEFULSET:
        return "/apis/apps/v1%s%s/statefulsets";
    case OPD_K8S_DAEMONSET:
        return "/apis/apps/v1%s%s/daemonsets";
    default:
        return "/api/v1/namespaces";
    }
}

static int add_watcher(struct opd_k8s_client *c, enum opd_k8s_kind kind, const char *ns,
                       const char *node)
{
    struct watcher *w = &c->w[c->n_w];
    char path[512], sel[512];

    memset(w, 0, sizeof(*w));
    w->c = c;
    w->kind = kind;
    if (kind == OPD_K8S_NAMESPACE) {
        snprintf(path, sizeof(path), "%s", kind_path(kind));
        sel[0] = '\0';
        if (ns[0])
            snprintf(sel, sizeof(sel), "metadata.name=%s", ns);
    } else {
        snprintf(path, sizeof(path), kind_path(kind), ns[0] ? "/namespaces/" : "", ns);
        sel[0] = '\0';
        if (kind == OPD_K8S_POD && node && node[0])
            snprintf(sel, sizeof(sel), "spec.nodeName=%s", node);
    }
    /* Namespace objects are cluster-scoped: their ns field stays "" for cache syncs. */
    w->ns = opd_strdup(kind == OPD_K8S_NAMESPACE ? "" : ns);
    w->path = opd_strdup(path);
    w->selector = sel[0] ? opd_strdup(sel) : NULL;
    w->curl = curl_easy_init();
    c->n_w++;
    if (!w->ns || !w->path || (sel[0] && !w->selector) || !w->curl)
        return -ENOMEM;
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(w->curl, CURLOPT_ACCEPT_ENCODING, "");
    /* One long-lived HTTP/1.1 connection per watch: chunked events, no h2 surprises. */
    curl_easy_setopt(w->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "otelprofd");
    return setup_tls(w);
}

static void client_free(struct opd_k8s_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < c->n_w; i++)
        if (c->w[i].started)
            pthread_join(c->w[i].thread, NULL);
    if (c->janitor_started)
        pthread_join(c->janitor, NULL);
    for (size_t i = 0; i < c->n_w; i++) {
        struct watcher *w = &c->w[i];

        if (w->curl)
            curl_easy_cleanup(w->curl);
        opd_free(w->ns);
        opd_free(w->path);
        opd_free(w->selector);
        opd_free(w->rv);
        opd_free(w->body);
    }
    opd_free(c->w);
    opd_k8s_cache_destroy(c->cache);
    opd_k8s_conn_fini(&c->conn);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    opd_free(c->key);
    opd_free(c->who);
    opd_free(c);
}

static char *settings_key(const struct opd_k8s_settings *s)
{
    size_t n = 256;
    char *k;
    int off;

    n += strlen(s->auth_type ? s->auth_type : "") + strlen(s->kubeconfig ? s->kubeconfig : "") +
         strlen(s->sa_dir ? s->sa_dir : "") + strlen(s->node ? s->node : "");
    for (size_t i = 0; i < s->n_namespaces; i++)
        n += strlen(s->namespaces[i]) + 1;
    k = opd_malloc(n);
    if (!k)
        return NULL;
    off = snprintf(k, n, "%s|%s|%s|%s|%d%d%d|%zu|%llu|%llu|%llu|%d|%d|",
                   s->auth_type ? s->auth_type : "", s->kubeconfig ? s->kubeconfig : "",
                   s->sa_dir ? s->sa_dir : "", s->node ? s->node : "", s->namespace_metadata,
                   s->owners, s->workloads, s->max_objects, (unsigned long long)s->grace_ns,
                   (unsigned long long)s->backoff_initial_ns, (unsigned long long)s->backoff_max_ns,
                   s->watch_timeout_s, s->list_limit);
    for (size_t i = 0; i < s->n_namespaces && off >= 0 && (size_t)off < n; i++)
        off += snprintf(k + off, n - (size_t)off, "%s,", s->namespaces[i]);
    return k;
}

static int connect_settings(struct opd_k8s_client *c, const struct opd_k8s_settings *s, char *err,
                            size_t errlen)
{
    const char *auth = s->auth_type && s->auth_type[0] ? s->auth_type : "serviceAccount";

    if (strcmp(auth, "serviceAccount") == 0)
        return opd_k8s_conn_from_service_account(&c->conn, s->sa_dir, true, err, errlen);
    if (strcmp(auth, "none") == 0)
        return opd_k8s_conn_from_service_account(&c->conn, s->sa_dir, false, err, errlen);
    if (strcmp(auth, "kubeConfig") == 0)
        return opd_k8s_conn_from_kubeconfig(&c->conn, s->kubeconfig, err, errlen);
    snprintf(err, errlen, "auth_type %s: expected serviceAccount, kubeConfig or none", auth);
    return -EINVAL;
}

static int client_start(struct opd_k8s_client *c, const struct opd_k8s_settings *s)
{
    size_t nns = s->n_namespaces ? s->n_namespaces : 1;
    size_t per_ns = 1 + (s->owners ? 2 : 0) + (s->workloads ? 3 : 0);
    int err;

    c->w = opd_calloc(nns * per_ns + (s->namespace_metadata ? nns : 0), sizeof(*c->w));
    if (!c->w)
        return -ENOMEM;
    for (size_t i = 0; i < nns; i++) {
        const char *ns = s->n_namespaces ? s->namespaces[i] : "";

        if ((err = add_watcher(c, OPD_K8S_POD, ns, s->node)))
            return err;
        if (s->owners && ((err = add_watcher(c, OPD_K8S_REPLICASET, ns, NULL)) ||
                          (err = add_watcher(c, OPD_K8S_JOB, ns, NULL))))
            return err;
        if (s->workloads && ((err = add_watcher(c, OPD_K8S_DEPLOYMENT, ns, NULL)) ||
                             (err = add_watcher(c, OPD_K8S_STATEFULSET, ns, NULL)) ||
                             (err = add_watcher(c, OPD_K8S_DAEMONSET, ns, NULL))))
            return err;
        if (s->namespace_metadata && (err = add_watcher(c, OPD_K8S_NAMESPACE, ns, NULL)))
            return err;
    }
    for (size_t i = 0; i < c->n_w; i++) {
        if ((err = -pthread_create(&c->w[i].thread, NULL, watcher_main, &c->w[i])))
            return err;
        c->w[i].started = true;
    }
    if ((err = -pthread_create(&c->janitor, NULL, janitor_main, c)))
        return err;
    c->janitor_started = true;
    return 0;
}

static void register_metrics(struct opd_k8s_client *c, struct opd_telemetry *t)
{
    if (!t)
        return;
    c->m_pods = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelcol_otelsvc_k8s_pod_table_size", "",
                                     "Pods in the Kubernetes metadata cache.");
    c->m_added = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelcol_otelsvc_k8s_pod_added", "",
                                      "Objects added to the Kubernetes metadata cache.");
    c->m_deleted = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelcol_otelsvc_k8s_pod_deleted", "",
                                        "Objects deleted from the Kubernetes metadata cache.");
    c->m_refused = opd_telemetry_metric(t, OPD_METRIC_GAUGE, "otelprofd_k8s_cache_refused", "",
                                        "Objects not cached because the cache was full.");
    c->m_relists = opd_telemetry_metric(t, OPD_METRIC_COUNTER, "otelprofd_k8s_relists_total", "",
                                        "Relists after 410 Gone.");
    c->m_errors = opd_telemetry_metric(t, OPD_METRIC_COUNTER, "otelprofd_k8s_request_errors_total",
                                       "", "Failed LIST/WATCH requests to the Kubernetes API.");
}

struct opd_k8s_client *opd_k8s_client_acquire(const struct opd_k8s_settings *s, const char *who,
                                              struct opd_telemetry *telemetry, char *err,
                                              size_t errlen)
{
    struct opd_k8s_client *c = NULL;
    char *key = settings_key(s);
    int rc = -ENOMEM;

    if (errlen)
        err[0] = '\0';
    if (!key)
        goto fail;
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_lock(&registry_lock);
    for (c = registry; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            break;
    if (c) {
        c->refs++;
        pthread_mutex_unlock(&registry_lock);
        opd_free(key);
        return c;
    }
    c = opd_calloc(1, sizeof(*c));
    if (!c)
        goto unlock;
    pthread_mutex_init(&c->lock, NULL);
    {
        pthread_condattr_t ca;

        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&c->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    c->key = key;
    key = NULL;
    c->who = opd_strdup(who ? who : WHO);
    c->backoff_initial = s->backoff_initial_ns ? s->backoff_initial_ns : 1000000000ull;
    c->backoff_max = s->backoff_max_ns ? s->backoff_max_ns : 30000000000ull;
    c->watch_timeout_s = s->watch_timeout_s > 0 ? s->watch_timeout_s : 300;
    c->list_limit = s->list_limit > 0 ? s->list_limit : 500;
    c->cache = opd_k8s_cache_create(s->max_objects ? s->max_objects : 100000,
                                    s->grace_ns ? s->grace_ns : 120000000000ull);
    if (!c->who || !c->cache)
        goto unlock;
    if ((rc = connect_settings(c, s, err, errlen)))
        goto unlock;
    register_metrics(c, telemetry);
    if ((rc = client_start(c, s)))
        goto unlock;
    OPD_INFO(c->who, "watching %s%s%s%s via %s", s->n_namespaces ? "namespaces " : "the cluster",
             s->n_namespaces ? s->namespaces[0] : "", s->n_namespaces > 1 ? ",…" : "",
             s->node && s->node[0] ? " (this node only)" : "", c->conn.server);
    c->refs = 1;
    c->next = registry;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
    return c;
unlock:
    pthread_mutex_unlock(&registry_lock);
fail:
    if (rc == -ENOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    client_free(c);
    opd_free(key);
    errno = -rc;
    return NULL;
}

void opd_k8s_client_release(struct opd_k8s_client *c)
{
    struct opd_k8s_client **p;

    if (!c)
        return;
    pthread_mutex_lock(&registry_lock);
    if (--c->refs > 0) {
        pthread_mutex_unlock(&registry_lock);
        return;
    }
    for (p = &registry; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    client_free(c);
}

int opd_k8s_client_wait_synced(struct opd_k8s_client *c, uint64_t timeout_ns)
{
    uint64_t deadline = mono_ns() + timeout_ns;
    int err = 0;

    pthread_mutex_lock(&c->lock);
    while (c->n_synced < c->n_w && !c->stop) {
        struct timespec ts = {(time_t)(deadline / 1000000000ull), (long)(deadline % 1000000000ull)};

        if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT) {
            err = c->n_synced < c->n_w ? -ETIMEDOUT : 0;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

struct opd_k8s_cache *opd_k8s_client_cache(struct opd_k8s_client *c)
{
    return c->cache;
}

void opd_k8s_client_get_stats(struct opd_k8s_client *c, struct opd_k8s_client_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}
