/* Inline attribute lists of resources and scopes (key + value, no dictionary). */
#include "otlp/intern.h"

#include <errno.h>
#include <string.h>

#include "collector/mem.h"

static struct opd_kv *attrs_find(const struct opd_attrs *a, const char *key)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        if (strcmp(a->v[i].key, key) == 0)
            return &a->v[i];
    return NULL;
}

int opd_attrs_set(struct opd_batch *b, struct opd_attrs *a, const char *key,
                  const struct opd_value *value)
{
    struct opd_kv *kv = attrs_find(a, key);
    struct opd_value copy;
    const char *k = NULL;

    if (opd_value_copy(&b->arena, &copy, value))
        return -ENOMEM;
    if (kv) {
        kv->value = copy;
        return 0;
    }
    k = opd_arena_strdup(&b->arena, key);
    if (!k)
        return -ENOMEM;
    kv = OPD_VEC_PUSH_SLOT(a->v, a->n, a->cap);
    if (!kv)
        return -ENOMEM;
    kv->key = k;
    kv->value = copy;
    return 0;
}

int opd_attrs_set_str(struct opd_batch *b, struct opd_attrs *a, const char *key, const char *value)
{
    struct opd_value v = {.type = OPD_VAL_STR, .u.str = value ? value : ""};

    return opd_attrs_set(b, a, key, &v);
}

int opd_attrs_set_int(struct opd_batch *b, struct opd_attrs *a, const char *key, int64_t value)
{
    struct opd_value v = {.type = OPD_VAL_INT, .u.i = value};

    return opd_attrs_set(b, a, key, &v);
}

const struct opd_value *opd_attrs_get(const struct opd_attrs *a, const char *key)
{
    struct opd_kv *kv = attrs_find(a, key);

    return kv ? &kv->value : NULL;
}

bool opd_attrs_remove(struct opd_attrs *a, const char *key)
{
    struct opd_kv *kv = attrs_find(a, key);
    size_t i;

    if (!kv)
        return false;
    i = (size_t)(kv - a->v);
    memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*kv));
    a->n--;
    return true;
}
