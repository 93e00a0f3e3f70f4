/* The config-map binder: defaults first, then the user's node tree, with type and bound
 * checks, unknown keys rejected, and every error collected with its position. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "collector/mem.h"
#include "config/config_map.h"
#include "config/errors.h"
#include "config/node.h"
#include "config/parse.h"
#include "config/suggest.h"

struct bind {
    struct opd_cfg_errors *errs;
    int oom;
};

static const struct opd_cfg_pos default_pos = {.file = "<default>", .line = 1, .col = 1};

static void *field(void *cfg, const struct opd_config_map *e)
{
    return (char *)cfg + e->offset;
}

static char *path_join(const char *base, const char *seg)
{
    size_t bl = base ? strlen(base) : 0;
    size_t sl = strlen(seg);
    char *p = opd_malloc(bl + sl + 3);

    if (!p)
        return NULL;
    if (bl) {
        memcpy(p, base, bl);
        memcpy(p + bl, "::", 2);
        bl += 2;
    }
    memcpy(p + bl, seg, sl + 1);
    return p;
}

static void report(struct bind *b, const struct opd_cfg_pos *pos, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* Values quoted in messages are cut at 200 bytes (%.200s) so that a message fits msg. */
static void report(struct bind *b, const struct opd_cfg_pos *pos, const char *path, const char *fmt,
                   ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (opd_cfg_errors_add(b->errs, pos, path, "%s", msg))
        b->oom = 1;
}

static const char *type_desc(enum opd_cfg_type t)
{
    switch (t) {
    case OPD_CFG_BOOL:
        return "a boolean";
    case OPD_CFG_INT:
        return "an integer";
    case OPD_CFG_DOUBLE:
        return "a number";
    case OPD_CFG_DURATION:
        return "a duration";
    case OPD_CFG_BYTES:
        return "a byte size";
    case OPD_CFG_STRING:
    case OPD_CFG_ENUM:
        return "a string";
    case OPD_CFG_STRLIST:
        return "a list of strings";
    case OPD_CFG_STRMAP:
        return "a map of strings";
    case OPD_CFG_SECTION:
        return "a map";
    case OPD_CFG_SECTIONS:
        return "a list of maps";
    case OPD_CFG_END:
        break;
    }
    return "a value";
}

/* Writes "a, b, c" of a NULL-terminated list into buf. */
static const char *join_choices(const char *const *v, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; v && v[i] && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", v[i]);

        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

static bool bounded(const struct opd_config_map *e)
{
    return e->min != 0 || e->max != 0;
}

static void free_strlist(struct opd_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        opd_free(l->v[i]);
    opd_free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void free_strmap(struct opd_strmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        opd_free(m->keys[i]);
        opd_free(m->values[i]);
    }
    opd_free(m->keys);
    opd_free(m->values);
    m->keys = m->values = NULL;
    m->n = 0;
}

static void free_seclist(const struct opd_config_map *e, struct opd_seclist *l)
{
    for (size_t i = 0; i < l->n; i++)
        opd_config_release(e->sub, (char *)l->items + i * e->elem_size);
    opd_free(l->items);
    l->items = NULL;
    l->n = 0;
}

void opd_config_release(const struct opd_config_map *map, void *cfg)
{
    for (const struct opd_config_map *e = map; e && e->type != OPD_CFG_END; e++) {
        void *f = field(cfg, e);

        switch (e->type) {
        case OPD_CFG_STRING:
        case OPD_CFG_ENUM:
            opd_free(*(char **)f);
            *(char **)f = NULL;
            break;
        case OPD_CFG_STRLIST:
            free_strlist(f);
            break;
        case OPD_CFG_STRMAP:
            free_strmap(f);
            break;
        case OPD_CFG_SECTION:
            opd_config_release(e->sub, f);
            break;
        case OPD_CFG_SECTIONS:
            free_seclist(e, f);
            break;
        default:
            break;
        }
    }
}

static void bind_map(struct bind *b, const struct opd_config_map *map, const struct opd_node *node,
                     void *cfg, const char *path);
static int apply_defaults(const struct opd_config_map *map, void *cfg);

static void bind_int_like(struct bind *b, const struct opd_config_map *e,
                          const struct opd_node *node, void *f, const char *path)
{
    const char *s = node->text;
    char v1[40], lo[40], hi[40];
    int64_t v;

    switch (e->type) {
    case OPD_CFG_INT:
        if (opd_parse_int(s, &v)) {
            report(b, &node->pos, path, "invalid integer \"%.200s\"", s);
            return;
        }
        break;
    case OPD_CFG_DURATION:
        if (opd_parse_duration(s, &v)) {
            report(b, &node->pos, path,
                   "invalid duration \"%.200s\" (expected a number with a unit: ns, us, ms, s, m, "
                   "h; e.g. 5s, 250ms, 1m30s)",
                   s);
            return;
        }
        break;
    default:
        if (opd_parse_bytes(s, &v)) {
            report(b, &node->pos, path,
                   "invalid byte size \"%.200s\" (expected a number with an optional unit: B, KB, "
                   "KiB, MB, MiB, GB, GiB, TB, TiB)",
                   s);
            return;
        }
        break;
    }
    if (bounded(e) && (v < e->min || v > e->max)) {
        if (e->type == OPD_CFG_DURATION) {
            opd_format_duration(v, v1, sizeof(v1));
            opd_format_duration(e->min, lo, sizeof(lo));
            opd_format_duration(e->max, hi, sizeof(hi));
        } else if (e->type == OPD_CFG_BYTES) {
            opd_format_bytes(v, v1, sizeof(v1));
            opd_format_bytes(e->min, lo, sizeof(lo));
            opd_format_bytes(e->max, hi, sizeof(hi));
        } else {
            snprintf(v1, sizeof(v1), "%" PRId64, v);
            snprintf(lo, sizeof(lo), "%" PRId64, e->min);
            snprintf(hi, sizeof(hi), "%" PRId64, e->max);
        }
        report(b, &node->pos, path, "value %s out of range [%s, %s]", v1, lo, hi);
        return;
    }
    *(int64_t *)f = v;
}

static void bind_scalar(struct bind *b, const struct opd_config_map *e, const struct opd_node *node,
                        void *f, const char *path)
{
    const char *s = node->text;
    char buf[512];
    double d;
    bool bv;
    char *copy;

    switch (e->type) {
    case OPD_CFG_BOOL:
        if (opd_parse_bool(s, &bv)) {
            report(b, &node->pos, path, "invalid boolean \"%.200s\" (expected true or false)", s);
            return;
        }
        *(bool *)f = bv;
        return;
    case OPD_CFG_DOUBLE:
        if (opd_parse_double(s, &d)) {
            report(b, &node->pos, path, "invalid number \"%.200s\"", s);
            return;
        }
        if (bounded(e) && (d < (double)e->min || d > (double)e->max)) {
            report(b, &node->pos, path, "value %s out of range [%" PRId64 ", %" PRId64 "]",
                   opd_format_double(d, buf, sizeof(buf)), e->min, e->max);
            return;
        }
        *(double *)f = d;
        return;
    case OPD_CFG_ENUM: {
        size_t i;

        for (i = 0; e->choices && e->choices[i]; i++)
            if (strcmp(e->choices[i], s) == 0)
                break;
        if (!e->choices || !e->choices[i]) {
            report(b, &node->pos, path, "invalid value \"%.200s\" (expected one of: %s)", s,
                   join_choices(e->choices, buf, sizeof(buf)));
            return;
        }
    }
        /* fallthrough */
    case OPD_CFG_STRING:
        copy = opd_strdup(s);
        if (!copy) {
            b->oom = 1;
            return;
        }
        opd_free(*(char **)f);
        *(char **)f = copy;
        return;
    default:
        bind_int_like(b, e, node, f, path);
        return;
    }
}

static void bind_strlist(struct bind *b, const struct opd_node *node, void *f, const char *path)
{
    struct opd_strlist l = {0};
    size_t n = node->type == OPD_NODE_SEQ ? node->n : 1;
    bool bad = false;

    l.v = opd_calloc(n, sizeof(char *));
    if (!l.v) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct opd_node *item = node->type == OPD_NODE_SEQ ? node->items[i] : node;
        char idx[24];
        char *ipath;

        if (item->type != OPD_NODE_SCALAR) {
            snprintf(idx, sizeof(idx), "%zu", i);
            ipath = path_join(path, idx);
            if (!ipath) {
                b->oom = 1;
                break;
            }
            report(b, &item->pos, ipath, "expected a string, got %s",
                   opd_node_type_name(item->type));
            opd_free(ipath);
            bad = true;
            continue;
        }
        l.v[l.n] = opd_strdup(item->text);
        if (!l.v[l.n]) {
            b->oom = 1;
            break;
        }
        l.n++;
    }
    if (bad || b->oom) {
        free_strlist(&l);
        return;
    }
    free_strlist(f);
    *(struct opd_strlist *)f = l;
}

static void bind_strmap(struct bind *b, const struct opd_node *node, void *f, const char *path)
{
    struct opd_strmap m = {0};
    bool bad = false;

    m.keys = opd_calloc(node->n, sizeof(char *));
    m.values = opd_calloc(node->n, sizeof(char *));
    if (!m.keys || !m.values) {
        b->oom = 1;
        goto out;
    }
    for (size_t i = 0; i < node->n; i++) {
        const struct opd_node_pair *p = &node->pairs[i];

        if (p->value->type != OPD_NODE_SCALAR) {
            char *ipath = path_join(path, p->key);

            if (!ipath) {
                b->oom = 1;
                break;
            }
            report(b, &p->value->pos, ipath, "expected a string, got %s",
                   opd_node_type_name(p->value->type));
            opd_free(ipath);
            bad = true;
            continue;
        }
        m.keys[m.n] = opd_strdup(p->key);
        m.values[m.n] = opd_strdup(p->value->text);
        m.n++;
        if (!m.keys[m.n - 1] || !m.values[m.n - 1]) {
            b->oom = 1;
            break;
        }
    }
out:
    if (bad || b->oom) {
        free_strmap(&m);
        return;
    }
    free_strmap(f);
    *(struct opd_strmap *)f = m;
}

static void bind_sections(struct bind *b, const struct opd_config_map *e,
                          const struct opd_node *node, void *f, const char *path)
{
    struct opd_seclist l = {0};
    struct opd_cfg_errors *errs = b->errs;
    size_t before = opd_cfg_errors_count(errs);
    int rc;

    if (e->elem_size == 0) {
        report(b, &node->pos, path, "internal error: list of sections without element size");
        return;
    }
    l.items = opd_calloc(node->n, e->elem_size);
    if (!l.items) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < node->n; i++) {
        void *item = (char *)l.items + i * e->elem_size;
        char idx[24];
        char *ipath;

        l.n++;
        rc = apply_defaults(e->sub, item);
        if (rc == -ENOMEM) {
            b->oom = 1;
            break;
        }
        if (rc) {
            report(b, &node->pos, path, "internal error: the defaults of this list do not parse");
            break;
        }
        snprintf(idx, sizeof(idx), "%zu", i);
        ipath = path_join(path, idx);
        if (!ipath) {
            b->oom = 1;
            break;
        }
        bind_map(b, e->sub, node->items[i], item, ipath);
        opd_free(ipath);
    }
    /* All or nothing: a list with a bad element keeps its previous value. */
    if (b->oom || opd_cfg_errors_count(errs) != before) {
        free_seclist(e, &l);
        return;
    }
    free_seclist(e, f);
    *(struct opd_seclist *)f = l;
}

/* Binds one value node to one map entry. A null node leaves the current value. */
static void bind_value(struct bind *b, const struct opd_config_map *e, const struct opd_node *node,
                       void *cfg, const char *path)
{
    void *f = field(cfg, e);
    enum opd_node_type want;

    if (node->type == OPD_NODE_NULL)
        return;
    switch (e->type) {
    case OPD_CFG_STRLIST:
        if (node->type == OPD_NODE_MAP)
            break;
        bind_strlist(b, node, f, path);
        return;
    case OPD_CFG_STRMAP:
        want = OPD_NODE_MAP;
        if (node->type != want)
            break;
        bind_strmap(b, node, f, path);
        return;
    case OPD_CFG_SECTION:
        bind_map(b, e->sub, node, f, path);
        return;
    case OPD_CFG_SECTIONS:
        if (node->type != OPD_NODE_SEQ)
            break;
        bind_sections(b, e, node, f, path);
        return;
    default:
        if (node->type != OPD_NODE_SCALAR)
            break;
        bind_scalar(b, e, node, f, path);
        return;
    }
    report(b, &node->pos, path, "expected %s, got %s", type_desc(e->type),
           opd_node_type_name(node->type));
}

/* Writes "a, b, c" of the entry names of map into buf. */
static const char *join_keys(const struct opd_config_map *map, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (const struct opd_config_map *e = map; e && e->type != OPD_CFG_END && off < len; e++) {
        int w = snprintf(buf + off, len - off, "%s%s", e == map ? "" : ", ", e->name);

        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

static void report_unknown_key(struct bind *b, const struct opd_config_map *map,
                               const struct opd_node_pair *p, const char *kpath, char *keys,
                               size_t len)
{
    struct opd_suggest sg;
    const char *hint;

    opd_suggest_init(&sg, p->key);
    for (const struct opd_config_map *e = map; e->type != OPD_CFG_END; e++)
        opd_suggest_add(&sg, e->name);
    hint = opd_suggest_best(&sg);
    join_keys(map, keys, len);
    if (hint)
        report(b, &p->key_pos, kpath, "unknown key, did you mean \"%s\"? (valid keys: %s)", hint,
               keys);
    else
        report(b, &p->key_pos, kpath, "unknown key (valid keys: %s)", keys);
}

static void bind_map(struct bind *b, const struct opd_config_map *map, const struct opd_node *node,
                     void *cfg, const char *path)
{
    char keys[768];

    if (node->type == OPD_NODE_NULL)
        return;
    if (node->type != OPD_NODE_MAP) {
        report(b, &node->pos, path, "expected a map, got %s", opd_node_type_name(node->type));
        return;
    }
    for (size_t i = 0; i < node->n && !b->oom; i++) {
        const struct opd_node_pair *p = &node->pairs[i];
        const struct opd_config_map *e = map;
        char *kpath = path_join(path, p->key);

        if (!kpath) {
            b->oom = 1;
            return;
        }
        while (e && e->type != OPD_CFG_END && strcmp(e->name, p->key) != 0)
            e++;
        if (!e || e->type == OPD_CFG_END) {
            if (!map || map->type == OPD_CFG_END)
                report(b, &p->key_pos, kpath, "unknown key (this takes no options)");
            else
                report_unknown_key(b, map, p, kpath, keys, sizeof(keys));
        } else {
            bind_value(b, e, p->value, cfg, kpath);
        }
        opd_free(kpath);
    }
}

int opd_config_bind(const struct opd_config_map *map, const struct opd_node *node, void *cfg,
                    const char *keypath, struct opd_cfg_errors *errs)
{
    struct bind b = {.errs = errs};
    size_t before = opd_cfg_errors_count(errs);

    if (node)
        bind_map(&b, map, node, cfg, keypath);
    if (b.oom)
        return -ENOMEM;
    return opd_cfg_errors_count(errs) == before ? 0 : -EINVAL;
}

/* Parses one entry's default text like user input would be: as a scalar for scalar types,
 * as a YAML snippet ("[a, b]", "{k: v}", "[{x: 1}]") for lists and maps. */
static int apply_default(const struct opd_config_map *e, void *cfg)
{
    struct opd_cfg_errors errs;
    struct opd_node *node = NULL;
    struct bind b;
    int rc = 0;

    opd_cfg_errors_init(&errs);
    b.errs = &errs;
    b.oom = 0;
    if (e->type == OPD_CFG_STRLIST || e->type == OPD_CFG_STRMAP || e->type == OPD_CFG_SECTIONS) {
        node = opd_yaml_parse(default_pos.file, e->def, strlen(e->def), &errs);
        if (!node) {
            rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
            goto out;
        }
    } else {
        node = opd_node_create(OPD_NODE_SCALAR, &default_pos);
        if (!node || !(node->text = opd_strdup(e->def))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    bind_value(&b, e, node, cfg, e->name);
    if (b.oom)
        rc = -ENOMEM;
    else if (opd_cfg_errors_count(&errs))
        rc = errs.oom ? -ENOMEM : -EINVAL;
out:
    opd_node_destroy(node);
    opd_cfg_errors_fini(&errs);
    return rc;
}

static int apply_defaults(const struct opd_config_map *map, void *cfg)
{
    int rc;

    for (const struct opd_config_map *e = map; e && e->type != OPD_CFG_END; e++) {
        if (e->type == OPD_CFG_SECTION) {
            rc = apply_defaults(e->sub, field(cfg, e));
            if (rc)
                return rc;
            continue;
        }
        if (!e->def)
            continue;
        rc = apply_default(e, cfg);
        if (rc)
            return rc;
    }
    return 0;
}

int opd_config_defaults(const struct opd_config_map *map, void *cfg)
{
    return apply_defaults(map, cfg);
}
