/* API server location and credentials (see k8s_auth.h). */
#include "collector/k8s/k8s_auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "config/errors.h"
#include "config/node.h"

void opd_k8s_conn_fini(struct opd_k8s_conn *c)
{
    opd_free(c->server);
    opd_free(c->ca_file);
    opd_free(c->ca_data);
    opd_free(c->token);
    opd_free(c->token_file);
    opd_free(c->cert_file);
    opd_free(c->key_file);
    opd_free(c->cert_data);
    opd_free(c->key_data);
    memset(c, 0, sizeof(*c));
}

/* Reads a whole small file (at most max bytes) into a new NUL-terminated buffer. */
static int read_small(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n;
    int err;

    *out = NULL;
    if (!f)
        return -errno;
    buf = opd_malloc(max + 1);
    if (!buf) {
        err = -ENOMEM;
        goto out;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        err = -EIO;
        goto out;
    }
    if (n > max) {
        err = -EFBIG;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = n;
    err = 0;
out:
    opd_free(buf);
    fclose(f);
    return err;
}

long opd_k8s_conn_token(const struct opd_k8s_conn *c, char *buf, size_t len)
{
    char *file = NULL;
    const char *tok = c->token;
    size_t n;
    int err;

    if (c->token_file) {
        err = read_small(c->token_file, 64 * 1024, &file, NULL);
        if (err)
            return err;
        tok = file;
    }
    if (!tok) {
        n = 0;
        goto out;
    }
    n = strlen(tok);
    while (n > 0 && isspace((unsigned char)tok[n - 1]))
        n--;
    if (n + 1 > len) {
        opd_free(file);
        return -ENAMETOOLONG;
    }
    memcpy(buf, tok, n);
out:
    if (len)
        buf[n] = '\0';
    opd_free(file);
    return (long)n;
}

static int set_server(struct opd_k8s_conn *c, const char *host, const char *port)
{
    size_t n = strlen(host) + (port ? strlen(port) : 0) + 16;

    c->server = opd_malloc(n);
    if (!c->server)
        return -ENOMEM;
    /* An IPv6 service address needs brackets in a URL. */
    if (strchr(host, ':'))
        snprintf(c->server, n, "https://[%s]:%s", host, port ? port : "443");
    else
        snprintf(c->server, n, "https://%s:%s", host, port ? port : "443");
    return 0;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = opd_malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int opd_k8s_conn_from_service_account(struct opd_k8s_conn *c, const char *sa_dir, bool with_token,
                                      char *err, size_t errlen)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    FILE *f;

    memset(c, 0, sizeof(*c));
    if (!sa_dir)
        sa_dir = OPD_K8S_SA_DIR;
    if (!host || !host[0]) {
        snprintf(err, errlen,
                 "KUBERNETES_SERVICE_HOST is not set: not running in a cluster (use "
                 "auth_type: kubeConfig outside one)");
        return -ENOENT;
    }
    if (set_server(c, host, port && port[0] ? port : NULL) ||
        !(c->ca_file = join(sa_dir, "ca.crt")))
        goto nomem;
    /* Without the CA the system trust store is used. */
    f = fopen(c->ca_file, "r");
    if (f) {
        fclose(f);
    } else {
        opd_free(c->ca_file);
        c->ca_file = NULL;
    }
    if (with_token && !(c->token_file = join(sa_dir, "token")))
        goto nomem;
    return 0;
nomem:
    opd_k8s_conn_fini(c);
    return -ENOMEM;
}

static long b64_decode(const char *s, uint8_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;

    for (; *s; s++) {
        int v;
        char ch = *s;

        if (ch >= 'A' && ch <= 'Z')
            v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z')
            v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9')
            v = ch - '0' + 52;
        else if (ch == '+' || ch == '-')
            v = 62;
        else if (ch == '/' || ch == '_')
            v = 63;
        else if (ch == '=' || isspace((unsigned char)ch))
            continue;
        else
            return -EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return n;
}

static const char *scalar(const struct opd_node *map, const char *key)
{
    const struct opd_node *v = opd_node_map_get(map, key);

    return v && v->type == OPD_NODE_SCALAR ? v->text : NULL;
}

/* Finds the entry named name in a kubeconfig list (clusters, contexts, users) and returns
 * its inner map (the value of field). */
static const struct opd_node *named(const struct opd_node *root, const char *list,
                                    const char *field, const char *name)
{
    const struct opd_node *seq = opd_node_map_get(root, list);

    if (!seq || seq->type != OPD_NODE_SEQ || !name)
        return NULL;
    for (size_t i = 0; i < seq->n; i++) {
        const char *nm = scalar(seq->items[i], "name");

        if (nm && strcmp(nm, name) == 0) {
            const struct opd_node *v = opd_node_map_get(seq->items[i], field);
            return v && v->type == OPD_NODE_MAP ? v : NULL;
        }
    }
    return NULL;
}

static int path_field(char **dst, const char *dir, const char *value)
{
    if (!value)
        return 0;
    *dst = value[0] == '/' ? opd_strdup(value) : join(dir, value);
    return *dst ? 0 : -ENOMEM;
}

static int data_field(uint8_t **dst, size_t *len, const char *value)
{
    long n;

    if (!value)
        return 0;
    *dst = opd_malloc(strlen(value) + 1);
    if (!*dst)
        return -ENOMEM;
    n = b64_decode(value, *dst);
    if (n < 0)
        return -EINVAL;
    *len = (size_t)n;
    return 0;
}

static int kubeconfig_path(const char *path, char *out, size_t len)
{
    const char *kc = getenv("KUBECONFIG"), *home = getenv("HOME");

    if (path) {
        snprintf(out, len, "%s", path);
    } else if (kc && kc[0]) {
        const char *colon = strchr(kc, ':');
        int n = colon ? (int)(colon - kc) : (int)strlen(kc);

        snprintf(out, len, "%.*s", n, kc);
    } else if (home && home[0]) {
        snprintf(out, len, "%s/.kube/config", home);
    } else {
        return -ENOENT;
    }
    return 0;
}

int opd_k8s_conn_from_kubeconfig(struct opd_k8s_conn *c, const char *path, char *err, size_t errlen)
{
    struct opd_cfg_errors errs;
    struct opd_node *root = NULL;
    const struct opd_node *ctx, *cluster, *user;
    const char *ctx_name, *server, *insecure;
    char file[4096], dir[4096], *slash;
    int rc;

    memset(c, 0, sizeof(*c));
    opd_cfg_errors_init(&errs);
    if (kubeconfig_path(path, file, sizeof(file))) {
        snprintf(err, errlen, "no kubeconfig: neither KUBECONFIG nor HOME is set");
        rc = -ENOENT;
        goto out;
    }
    snprintf(dir, sizeof(dir), "%s", file);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    root = opd_yaml_parse_file(file, &errs);
    if (!root || root->type != OPD_NODE_MAP) {
        if (opd_cfg_errors_count(&errs))
            opd_cfg_error_format(&errs.v[0], err, errlen);
        else
            snprintf(err, errlen, "%s: not a kubeconfig", file);
        rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
        goto out;
    }
    ctx_name = scalar(root, "current-context");
    ctx = named(root, "contexts", "context", ctx_name);
    if (!ctx) {
        snprintf(err, errlen, "%s: current-context %s not found", file,
                 ctx_name ? ctx_name : "(unset)");
        rc = -EINVAL;
        goto out;
    }
    cluster = named(root, "clusters", "cluster", scalar(ctx, "cluster"));
    user = named(root, "users", "user", scalar(ctx, "user"));
    server = cluster ? scalar(cluster, "server") : NULL;
    if (!server || (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)) {
        snprintf(err, errlen, "%s: context %s has no cluster with an http(s) server", file,
                 ctx_name);
        rc = -EINVAL;
        goto out;
    }
    rc = -ENOMEM;
    if (!(c->server = opd_strdup(server)))
        goto out;
    while (strlen(c->server) > 0 && c->server[strlen(c->server) - 1] == '/')
        c->server[strlen(c->server) - 1] = '\0';
    insecure = scalar(cluster, "insecure-skip-tls-verify");
    c->insecure = insecure && strcmp(insecure, "true") == 0;
    if ((rc = path_field(&c->ca_file, dir, scalar(cluster, "certificate-authority"))) ||
        (rc = data_field(&c->ca_data, &c->ca_len, scalar(cluster, "certificate-authority-data"))))
        goto bad;
    if (user) {
        const char *tok = scalar(user, "token");

        if (tok && !(c->token = opd_strdup(tok))) {
            rc = -ENOMEM;
            goto out;
        }
        if ((rc = path_field(&c->token_file, dir, scalar(user, "tokenFile"))) ||
            (rc = path_field(&c->cert_file, dir, scalar(user, "client-certificate"))) ||
            (rc = path_field(&c->key_file, dir, scalar(user, "client-key"))) ||
            (rc = data_field(&c->cert_data, &c->cert_len,
                             scalar(user, "client-certificate-data"))) ||
            (rc = data_field(&c->key_data, &c->key_len, scalar(user, "client-key-data"))))
            goto bad;
        if (opd_node_map_get(user, "exec") || opd_node_map_get(user, "auth-provider")) {
            snprintf(err, errlen,
                     "%s: user %s uses an exec or auth-provider plugin, which is not "
                     "supported; use a token, tokenFile or client certificate",
                     file, scalar(ctx, "user"));
            rc = -EINVAL;
            goto out;
        }
    }
    rc = 0;
    goto out;
bad:
    if (rc == -EINVAL)
        snprintf(err, errlen, "%s: bad base64 in a *-data field", file);
out:
    if (rc)
        opd_k8s_conn_fini(c);
    opd_node_destroy(root);
    opd_cfg_errors_fini(&errs);
    return rc;
}
