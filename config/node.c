/* The config tree: construction, lookup, copy and merge. */
#include "config/node.h"

#include <errno.h>

#include "collector/mem.h"

struct opd_node *opd_node_create(enum opd_node_type type, const struct opd_cfg_pos *pos)
{
    struct opd_node *n = opd_calloc(1, sizeof(*n));

    if (!n) {
        errno = ENOMEM;
        return NULL;
    }
    n->type = type;
    if (pos)
        n->pos = *pos;
    return n;
}

/* Maps smaller than this are searched linearly; an index would cost more than it saves. */
#define MAP_INDEX_MIN 16

static size_t key_hash(const char *s)
{
    size_t h = 14695981039346656037ull;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_insert(size_t *tab, size_t cap, const char *key, size_t pos)
{
    size_t i = key_hash(key) & (cap - 1);

    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = pos + 1;
}

/* Keeps map's index in step after a pair was appended; returns 0 or -ENOMEM. */
static int index_added(struct opd_node *map)
{
    size_t cap;
    size_t *tab;

    if (map->n < MAP_INDEX_MIN)
        return 0;
    if (map->hidx && map->n * 2 <= map->hcap) {
        index_insert(map->hidx, map->hcap, map->pairs[map->n - 1].key, map->n - 1);
        return 0;
    }
    for (cap = 64; cap < map->n * 4; cap *= 2)
        ;
    tab = opd_calloc(cap, sizeof(*tab));
    if (!tab)
        return -ENOMEM;
    for (size_t i = 0; i < map->n; i++)
        index_insert(tab, cap, map->pairs[i].key, i);
    opd_free(map->hidx);
    map->hidx = tab;
    map->hcap = cap;
    return 0;
}

void opd_node_destroy(struct opd_node *node)
{
    if (!node)
        return;
    for (size_t i = 0; i < node->n; i++) {
        if (node->type == OPD_NODE_MAP) {
            opd_free(node->pairs[i].key);
            opd_node_destroy(node->pairs[i].value);
        } else if (node->type == OPD_NODE_SEQ) {
            opd_node_destroy(node->items[i]);
        }
    }
    opd_free(node->pairs);
    opd_free(node->hidx);
    opd_free(node->items);
    opd_free(node->text);
    opd_free(node);
}

int opd_node_map_add(struct opd_node *map, const char *key, const struct opd_cfg_pos *key_pos,
                     struct opd_node *value)
{
    struct opd_node_pair *p;
    char *k = opd_strdup(key);

    if (!k)
        return -ENOMEM;
    p = OPD_VEC_PUSH_SLOT(map->pairs, map->n, map->cap);
    if (!p) {
        opd_free(k);
        return -ENOMEM;
    }
    p->key = k;
    p->key_pos = *key_pos;
    p->value = value;
    if (index_added(map)) {
        /* Undo, so that the caller still owns value. */
        map->n--;
        opd_free(k);
        return -ENOMEM;
    }
    return 0;
}

int opd_node_seq_add(struct opd_node *seq, struct opd_node *item)
{
    struct opd_node **slot = OPD_VEC_PUSH_SLOT(seq->items, seq->n, seq->cap);

    if (!slot)
        return -ENOMEM;
    *slot = item;
    return 0;
}

const struct opd_node_pair *opd_node_map_find(const struct opd_node *map, const char *key)
{
    if (!map || map->type != OPD_NODE_MAP)
        return NULL;
    if (map->hidx) {
        for (size_t i = key_hash(key) & (map->hcap - 1); map->hidx[i];
             i = (i + 1) & (map->hcap - 1))
            if (strcmp(map->pairs[map->hidx[i] - 1].key, key) == 0)
                return &map->pairs[map->hidx[i] - 1];
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key, key) == 0)
            return &map->pairs[i];
    return NULL;
}

const struct opd_node *opd_node_map_get(const struct opd_node *map, const char *key)
{
    const struct opd_node_pair *p = opd_node_map_find(map, key);

    return p ? p->value : NULL;
}

const char *opd_node_type_name(enum opd_node_type type)
{
    switch (type) {
    case OPD_NODE_NULL:
        return "a null";
    case OPD_NODE_SCALAR:
        return "a string";
    case OPD_NODE_MAP:
        return "a map";
    case OPD_NODE_SEQ:
        return "a list";
    }
    return "an unknown node";
}

struct opd_node *opd_node_copy(const struct opd_node *node)
{
    struct opd_node *c = opd_node_create(node->type, &node->pos);

    if (!c)
        return NULL;
    if (node->text && !(c->text = opd_strdup(node->text)))
        goto fail;
    for (size_t i = 0; i < node->n; i++) {
        struct opd_node *sub;

        if (node->type == OPD_NODE_MAP) {
            sub = opd_node_copy(node->pairs[i].value);
            if (!sub)
                goto fail;
            if (opd_node_map_add(c, node->pairs[i].key, &node->pairs[i].key_pos, sub)) {
                opd_node_destroy(sub);
                goto fail;
            }
        } else if (node->type == OPD_NODE_SEQ) {
            sub = opd_node_copy(node->items[i]);
            if (!sub)
                goto fail;
            if (opd_node_seq_add(c, sub)) {
                opd_node_destroy(sub);
                goto fail;
            }
        }
    }
    return c;
fail:
    opd_node_destroy(c);
    errno = ENOMEM;
    return NULL;
}

int opd_node_merge(struct opd_node **dst, struct opd_node *src)
{
    struct opd_node *d = *dst;
    int err = 0;

    if (!d || d->type != OPD_NODE_MAP || src->type != OPD_NODE_MAP) {
        opd_node_destroy(d);
        *dst = src;
        return 0;
    }
    for (size_t i = 0; i < src->n; i++) {
        struct opd_node_pair *sp = &src->pairs[i];
        struct opd_node_pair *dp = (struct opd_node_pair *)opd_node_map_find(d, sp->key);

        if (!sp->value)
            continue;
        if (dp) {
            dp->key_pos = sp->key_pos;
            err = opd_node_merge(&dp->value, sp->value);
            sp->value = NULL;
            if (err)
                goto out;
            continue;
        }
        err = opd_node_map_add(d, sp->key, &sp->key_pos, sp->value);
        if (err)
            goto out;
        sp->value = NULL;
    }
    /* The map itself now comes from the later file too. */
    d->pos = src->pos;
out:
    opd_node_destroy(src);
    return err;
}
