/* The metadata cache (see k8s_cache.h): three string-keyed hash indexes over one set of
 * entries, under a reader/writer lock. The uid index owns the entries; the name and
 * container indexes point into it and are only removed when they still point at the
 * entry being dropped, because a recreated pod may already have taken its name. */
#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_select.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"

struct entry {
    struct opd_k8s_object *o;
    uint64_t seq; /* value of the cache's put counter when last put */
};

struct node {
    struct node *next;
    char *key;
    struct entry *e;
};

struct smap {
    struct node **b;
    size_t nb, n;
};

struct opd_k8s_cache {
    pthread_rwlock_t lock;
    struct smap by_uid, by_name, by_cid;
    size_t max_objects;
    uint64_t grace_ns;
    uint64_t seq;
    struct opd_k8s_cache_stats st;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static struct node **smap_slot(struct smap *m, const char *key)
{
    struct node **p;

    if (!m->nb)
        return NULL;
    for (p = &m->b[hash(key) & (m->nb - 1)]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0)
            return p;
    return p;
}

static struct entry *smap_get(struct smap *m, const char *key)
{
    struct node **p = smap_slot(m, key);

    return p && *p ? (*p)->e : NULL;
}

static int smap_grow(struct smap *m)
{
    size_t nb = m->nb ? m->nb * 2 : 64;
    struct node **b = opd_calloc(nb, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i], *next;

        for (; n; n = next) {
            size_t h = hash(n->key) & (nb - 1);

            next = n->next;
            n->next = b[h];
            b[h] = n;
        }
    }
    opd_free(m->b);
    m->b = b;
    m->nb = nb;
    return 0;
}

/* Points key at e (replacing what it pointed at). Returns 0 or -ENOMEM. */
static int smap_put(struct smap *m, const char *key, struct entry *e)
{
    struct node **p, *n;

    if ((m->n + 1 > m->nb * 2 || !m->nb) && smap_grow(m))
        return -ENOMEM;
    p = smap_slot(m, key);
    if (*p) {
        (*p)->e = e;
        return 0;
    }
    n = opd_calloc(1, sizeof(*n));
    if (!n || !(n->key = opd_strdup(key))) {
        opd_free(n);
        return -ENOMEM;
    }
    n->e = e;
    *p = n;
    m->n++;
    return 0;
}

/* Removes key when it points at e (any entry when e is NULL). */
static void smap_del(struct smap *m, const char *key, const struct entry *e)
{
    struct node **p = smap_slot(m, key), *n;

    if (!p || !*p || (e && (*p)->e != e))
        return;
    n = *p;
    *p = n->next;
    opd_free(n->key);
    opd_free(n);
    m->n--;
}

static void smap_fini(struct smap *m, bool owns)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i], *next;

        for (; n; n = next) {
            next = n->next;
            if (owns) {
                opd_k8s_object_unref(n->e->o);
                opd_free(n->e);
            }
            opd_free(n->key);
            opd_free(n);
        }
    }
    opd_free(m->b);
    memset(m, 0, sizeof(*m));
}

static void name_key(char *buf, size_t len, enum opd_k8s_kind kind, const char *ns,
                     const char *name)
{
    snprintf(buf, len, "%d/%s/%s", (int)kind, ns, name);
}

struct opd_k8s_cache *opd_k8s_cache_create(size_t max_objects, uint64_t grace_ns)
{
    struct opd_k8s_cache *c = opd_calloc(1, sizeof(*c));

    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_rwlock_init(&c->lock, NULL);
    c->max_objects = max_objects ? max_objects : 1;
    c->grace_ns = grace_ns;
    return c;
}

void opd_k8s_cache_destroy(struct opd_k8s_cache *c)
{
    if (!c)
        return;
    smap_fini(&c->by_name, false);
    smap_fini(&c->by_cid, false);
    smap_fini(&c->by_uid, true);
    pthread_rwlock_destroy(&c->lock);
    opd_free(c);
}

static void unindex(struct opd_k8s_cache *c, struct entry *e)
{
    char key[768];

    name_key(key, sizeof(key), e->o->kind, e->o->ns, e->o->name);
    smap_del(&c->by_name, key, e);
    for (size_t i = 0; i < e->o->n_containers; i++)
        if (e->o->containers[i].id[0])
            smap_del(&c->by_cid, e->o->containers[i].id, e);
}

static int reindex(struct opd_k8s_cache *c, struct entry *e)
{
    char key[768];
    int err;

    name_key(key, sizeof(key), e->o->kind, e->o->ns, e->o->name);
    if ((err = smap_put(&c->by_name, key, e)))
        return err;
    for (size_t i = 0; i < e->o->n_containers; i++)
        if (e->o->containers[i].id[0] && (err = smap_put(&c->by_cid, e->o->containers[i].id, e)))
            return err;
    return 0;
}

/* Drops entry e entirely (caller holds the write lock). */
static void drop(struct opd_k8s_cache *c, struct entry *e)
{
    unindex(c, e);
    c->st.objects[e->o->kind]--;
    smap_del(&c->by_uid, e->o->uid, e);
    opd_k8s_object_unref(e->o);
    opd_free(e);
}

/* Evicts the deleted entry deleted longest ago; returns false when none is deleted. */
static bool evict_one(struct opd_k8s_cache *c)
{
    struct entry *victim = NULL;
    uint64_t oldest = UINT64_MAX;

    for (size_t i = 0; i < c->by_uid.nb; i++)
        for (struct node *n = c->by_uid.b[i]; n; n = n->next) {
            uint64_t d = atomic_load(&n->e->o->deleted_ns);

            if (d && d < oldest) {
                oldest = d;
                victim = n->e;
            }
        }
    if (!victim)
        return false;
    drop(c, victim);
    c->st.expired++;
    return true;
}

int opd_k8s_cache_put(struct opd_k8s_cache *c, struct opd_k8s_object *o)
{
    struct entry *e;
    int err = 0;

    pthread_rwlock_wrlock(&c->lock);
    e = smap_get(&c->by_uid, o->uid);
    if (e) {
        unindex(c, e);
        opd_k8s_object_unref(e->o);
        e->o = opd_k8s_object_ref(o);
        c->st.updated++;
    } else {
        size_t total = c->by_uid.n;

        if (total >= c->max_objects && !evict_one(c)) {
            c->st.refused++;
            err = -ENOSPC;
            goto out;
        }
        e = opd_calloc(1, sizeof(*e));
        if (!e) {
            err = -ENOMEM;
            goto out;
        }
        e->o = opd_k8s_object_ref(o);
        if ((err = smap_put(&c->by_uid, o->uid, e))) {
            opd_k8s_object_unref(e->o);
            opd_free(e);
            goto out;
        }
        c->st.objects[o->kind]++;
        c->st.added++;
    }
    atomic_store(&o->deleted_ns, 0);
    e->seq = ++c->seq;
    if ((err = reindex(c, e)))
        drop(c, e);
out:
    pthread_rwlock_unlock(&c->lock);
    return err;
}

void opd_k8s_cache_delete(struct opd_k8s_cache *c, const char *uid, uint64_t now_ns)
{
    struct entry *e;

    pthread_rwlock_wrlock(&c->lock);
    e = smap_get(&c->by_uid, uid);
    if (e && !atomic_load(&e->o->deleted_ns)) {
        atomic_store(&e->o->deleted_ns, now_ns ? now_ns : 1);
        c->st.deleted++;
    }
    pthread_rwlock_unlock(&c->lock);
}

uint64_t opd_k8s_cache_sync_begin(struct opd_k8s_cache *c, enum opd_k8s_kind kind, const char *ns)
{
    uint64_t token;

    pthread_rwlock_rdlock(&c->lock);
    token = c->seq;
    pthread_rwlock_unlock(&c->lock);
    return token;
}

void opd_k8s_cache_sync_end(struct opd_k8s_cache *c, enum opd_k8s_kind kind, const char *ns,
                            uint64_t token, uint64_t now_ns)
{
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < c->by_uid.nb; i++)
        for (struct node *n = c->by_uid.b[i]; n; n = n->next) {
            struct opd_k8s_object *o = n->e->o;

            if (o->kind != kind || n->e->seq > token || atomic_load(&o->deleted_ns) ||
                (ns[0] && strcmp(o->ns, ns) != 0))
                continue;
            atomic_store(&o->deleted_ns, now_ns ? now_ns : 1);
            c->st.deleted++;
        }
    pthread_rwlock_unlock(&c->lock);
}

size_t opd_k8s_cache_sweep(struct opd_k8s_cache *c, uint64_t now_ns)
{
    size_t dropped = 0;
    bool again = true;

    pthread_rwlock_wrlock(&c->lock);
    /* drop() edits the bucket being walked, so restart the walk after each drop. */
    while (again) {
        again = false;
        for (size_t i = 0; i < c->by_uid.nb && !again; i++)
            for (struct node *n = c->by_uid.b[i]; n; n = n->next) {
                uint64_t d = atomic_load(&n->e->o->deleted_ns);

                if (d && now_ns >= d && now_ns - d >= c->grace_ns) {
                    drop(c, n->e);
                    c->st.expired++;
                    dropped++;
                    again = true;
                    break;
                }
            }
    }
    pthread_rwlock_unlock(&c->lock);
    return dropped;
}

static struct opd_k8s_object *lookup(struct opd_k8s_cache *c, struct smap *m, const char *key)
{
    struct opd_k8s_object *o = NULL;
    struct entry *e;

    pthread_rwlock_rdlock(&c->lock);
    e = smap_get(m, key);
    if (e)
        o = opd_k8s_object_ref(e->o);
    pthread_rwlock_unlock(&c->lock);
    return o;
}

struct opd_k8s_object *opd_k8s_cache_by_uid(struct opd_k8s_cache *c, const char *uid)
{
    return uid && uid[0] ? lookup(c, &c->by_uid, uid) : NULL;
}

struct opd_k8s_object *opd_k8s_cache_pod_by_container(struct opd_k8s_cache *c,
                                                      const char *container_id)
{
    return container_id && container_id[0] ? lookup(c, &c->by_cid, container_id) : NULL;
}

struct opd_k8s_object *opd_k8s_cache_by_name(struct opd_k8s_cache *c, enum opd_k8s_kind kind,
                                             const char *ns, const char *name)
{
    char key[768];

    if (!name || !name[0])
        return NULL;
    name_key(key, sizeof(key), kind, ns ? ns : "", name);
    return lookup(c, &c->by_name, key);
}

void opd_k8s_cache_get_stats(struct opd_k8s_cache *c, struct opd_k8s_cache_stats *out)
{
    pthread_rwlock_rdlock(&c->lock);
    *out = c->st;
    pthread_rwlock_unlock(&c->lock);
}

void opd_k8s_cache_foreach(struct opd_k8s_cache *c, enum opd_k8s_kind kind,
                           void (*fn)(const struct opd_k8s_object *o, void *arg), void *arg)
{
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < c->by_uid.nb; i++)
        for (struct node *n = c->by_uid.b[i]; n; n = n->next)
            if (n->e->o->kind == kind)
                fn(n->e->o, arg);
    pthread_rwlock_unlock(&c->lock);
}
