#include "telemetry.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mem.h"

struct opd_telemetry {
    pthread_mutex_t lock;
    struct opd_metric **metrics;
    size_t n, cap;
};

struct opd_telemetry *opd_telemetry_create(void)
{
    struct opd_telemetry *t = opd_calloc(1, sizeof(*t));

    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

static void metric_free(struct opd_metric *m)
{
    if (!m)
        return;
    opd_free(m->name);
    opd_free(m->labels);
    opd_free(m->help);
    opd_free(m);
}

void opd_telemetry_destroy(struct opd_telemetry *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        metric_free(t->metrics[i]);
    opd_free(t->metrics);
    pthread_mutex_destroy(&t->lock);
    opd_free(t);
}

static struct opd_metric *find_locked(struct opd_telemetry *t, const char *name,
                                      const char *labels)
{
    for (size_t i = 0; i < t->n; i++) {
        struct opd_metric *m = t->metrics[i];
        if (strcmp(m->name, name) == 0 && strcmp(m->labels, labels ? labels : "") == 0)
            return m;
    }
    return NULL;
}

struct opd_metric *opd_telemetry_find(struct opd_telemetry *t, const char *name,
                                      const char *labels)
{
    struct opd_metric *m;

    if (!t)
        return NULL;
    pthread_mutex_lock(&t->lock);
    m = find_locked(t, name, labels);
    pthread_mutex_unlock(&t->lock);
    return m;
}

struct opd_metric *opd_telemetry_metric(struct opd_telemetry *t, enum opd_metric_type type,
                                        const char *name, const char *labels, const char *help)
{
    struct opd_metric *m = NULL;
    int err = 0;

    if (!t) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    m = find_locked(t, name, labels);
    if (m) {
        if (m->type != type) {
            m = NULL;
            err = EINVAL;
        }
        goto out;
    }
    m = opd_calloc(1, sizeof(*m));
    if (!m)
        goto nomem;
    m->type = type;
    m->name = opd_strdup(name);
    m->labels = opd_strdup(labels ? labels : "");
    m->help = opd_strdup(help ? help : "");
    if (!m->name || !m->labels || !m->help)
        goto nomem;
    if (opd_vec_reserve((void **)&t->metrics, &t->cap, t->n + 1, sizeof(*t->metrics)))
        goto nomem;
    t->metrics[t->n++] = m;
    goto out;
nomem:
    metric_free(m);
    m = NULL;
    err = ENOMEM;
out:
    pthread_mutex_unlock(&t->lock);
    if (!m)
        errno = err;
    return m;
}

void opd_telemetry_foreach(struct opd_telemetry *t, void (*fn)(const struct opd_metric *, void *),
                           void *arg)
{
    size_t n;

    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    /* Metrics are never removed, so the first n entries stay valid without the lock. */
    for (size_t i = 0; i < n; i++)
        fn(t->metrics[i], arg);
}

const char *opd_metric_format(const struct opd_metric *m, char *buf, size_t len)
{
    int64_t v = opd_metric_get(m);

    if (m->scale > 1)
        snprintf(buf, len, "%.9g", (double)v / (double)m->scale);
    else
        snprintf(buf, len, "%lld", (long long)v);
    return buf;
}

int opd_telemetry_write_prometheus(struct opd_telemetry *t, FILE *out)
{
    size_t n;

    pthread_mutex_lock(&t->lock);
    n = t->n;
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        const struct opd_metric *m = t->metrics[i];
        int first = 1;

        /* HELP and TYPE once per name, before its first series. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->metrics[j]->name, m->name) == 0)
                first = 0;
        if (first) {
            fprintf(out, "# HELP %s %s\n", m->name, m->help);
            fprintf(out, "# TYPE %s %s\n", m->name,
                    m->type == OPD_METRIC_COUNTER ? "counter" : "gauge");
            for (size_t j = i; j < n; j++) {
                const struct opd_metric *s = t->metrics[j];
                if (strcmp(s->name, m->name) != 0)
                    continue;
                char v[48];

                opd_metric_format(s, v, sizeof(v));
                if (s->labels[0])
                    fprintf(out, "%s{%s} %s\n", s->name, s->labels, v);
                else
                    fprintf(out, "%s %s\n", s->name, v);
            }
        }
    }
    return ferror(out) ? -EIO : 0;
}
