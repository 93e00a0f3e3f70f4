/* LIST body and WATCH stream decoding (see k8s_stream.h). */
#include "collector/k8s/k8s_stream.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "collector/mem.h"

void opd_k8s_stream_init(struct opd_k8s_stream *s, enum opd_k8s_kind kind, size_t max_line,
                         opd_k8s_event_fn fn, void *arg)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->max_line = max_line;
    s->fn = fn;
    s->arg = arg;
}

void opd_k8s_stream_fini(struct opd_k8s_stream *s)
{
    opd_free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}

static const char *jstr(const json_t *obj, const char *key)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_type(const char *t, enum opd_k8s_event_type *out)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

    for (size_t i = 0; t && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(t, names[i]) == 0) {
            *out = (enum opd_k8s_event_type)i;
            return 0;
        }
    }
    return -EPROTO;
}

int opd_k8s_event_decode(enum opd_k8s_kind kind, const char *line, size_t len, opd_k8s_event_fn fn,
                         void *arg)
{
    struct opd_k8s_event ev = {.resource_version = "", .message = ""};
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *obj, *meta, *code;
    const char *rv;
    int err = -EPROTO;

    if (!json_is_object(root))
        goto out;
    obj = json_object_get(root, "object");
    if (parse_type(jstr(root, "type"), &ev.type) || !json_is_object(obj))
        goto out;
    meta = json_object_get(obj, "metadata");
    rv = jstr(meta, "resourceVersion");
    ev.resource_version = rv ? rv : "";
    switch (ev.type) {
    case OPD_K8S_BOOKMARK:
        err = fn(arg, &ev);
        break;
    case OPD_K8S_ERROR:
        /* object is a Status: {"kind":"Status","code":410,"reason":"Expired",...} */
        code = json_object_get(obj, "code");
        ev.code = json_is_integer(code) ? (int)json_integer_value(code) : 0;
        ev.message = jstr(obj, "message") ? jstr(obj, "message") : "";
        err = fn(arg, &ev);
        break;
    default:
        ev.obj = opd_k8s_object_decode(kind, obj);
        if (!ev.obj) {
            err = errno == ENOMEM ? -ENOMEM : -EPROTO;
            goto out;
        }
        err = fn(arg, &ev);
        opd_k8s_object_unref(ev.obj);
        break;
    }
out:
    json_decref(root);
    return err;
}

int opd_k8s_stream_feed(struct opd_k8s_stream *s, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        int err;

        if (s->len + take > s->max_line)
            return -EMSGSIZE;
        if (!nl && s->len == 0 && take == 0)
            break;
        if (nl && s->len == 0) {
            /* The whole line is in this chunk: decode it in place. */
            if (take > 0) {
                err = opd_k8s_event_decode(s->kind, data, take, s->fn, s->arg);
                if (err)
                    return err;
                s->events++;
            }
        } else {
            if (opd_vec_reserve((void **)&s->buf, &s->cap, s->len + take + 1, 1))
                return -ENOMEM;
            memcpy(s->buf + s->len, data, take);
            s->len += take;
            if (nl) {
                size_t n = s->len;

                s->len = 0;
                if (n > 0) {
                    err = opd_k8s_event_decode(s->kind, s->buf, n, s->fn, s->arg);
                    if (err)
                        return err;
                    s->events++;
                }
            }
        }
        if (!nl)
            break;
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

int opd_k8s_list_decode(enum opd_k8s_kind kind, const char *body, size_t len,
                        struct opd_k8s_list *out)
{
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *items, *meta, *it;
    const char *rv, *cont;
    size_t i;
    int err = -EPROTO;

    if (!json_is_object(root))
        goto out;
    items = json_object_get(root, "items");
    meta = json_object_get(root, "metadata");
    /* "items": null is how the API server writes an empty list. */
    if ((!json_is_array(items) && !json_is_null(items)) || !json_is_object(meta))
        goto out;
    rv = jstr(meta, "resourceVersion");
    cont = jstr(meta, "continue");
    err = -ENOMEM;
    out->resource_version = opd_strdup(rv ? rv : "");
    out->cont = opd_strdup(cont ? cont : "");
    if (!out->resource_version || !out->cont)
        goto out;
    if (json_is_array(items) && json_array_size(items) > 0) {
        out->items = opd_calloc(json_array_size(items), sizeof(*out->items));
        if (!out->items)
            goto out;
        json_array_foreach(items, i, it)
        {
            struct opd_k8s_object *o = opd_k8s_object_decode(kind, it);

            if (!o && errno == ENOMEM)
                goto out;
            if (!o) {
                out->skipped++;
                continue;
            }
            out->items[out->n++] = o;
        }
    }
    err = 0;
out:
    json_decref(root);
    return err;
}

void opd_k8s_list_fini(struct opd_k8s_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        opd_k8s_object_unref(l->items[i]);
    opd_free(l->items);
    opd_free(l->resource_version);
    opd_free(l->cont);
    memset(l, 0, sizeof(*l));
}
