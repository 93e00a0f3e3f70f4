/* Loading the whole document: read and merge files, check the top level, then bind every
 * component through its factory's config map. The service section and the graph rules
 * live in service.c; printing in print.c. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>

#include "collector/mem.h"
#include "config/config_internal.h"
#include "config/node.h"
#include "config/suggest.h"

static const char *const top_keys[] = {"receivers",  "processors", "exporters",
                                       "extensions", "connectors", "service"};

static const enum opd_kind section_kinds[] = {OPD_KIND_RECEIVER, OPD_KIND_PROCESSOR,
                                              OPD_KIND_EXPORTER, OPD_KIND_EXTENSION};

const char *opd_config_section_name(enum opd_kind kind)
{
    switch (kind) {
    case OPD_KIND_RECEIVER:
        return "receivers";
    case OPD_KIND_PROCESSOR:
        return "processors";
    case OPD_KIND_EXPORTER:
        return "exporters";
    case OPD_KIND_EXTENSION:
        return "extensions";
    }
    return "unknown";
}

/* "receiver", "processor", ... (the singular, for messages). */
const char *opd_config_kind_word(enum opd_kind kind)
{
    switch (kind) {
    case OPD_KIND_RECEIVER:
        return "receiver";
    case OPD_KIND_PROCESSOR:
        return "processor";
    case OPD_KIND_EXPORTER:
        return "exporter";
    case OPD_KIND_EXTENSION:
        return "extension";
    }
    return "component";
}

char *opd_config_path(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = opd_malloc(la + lb + 3);

    if (!p)
        return NULL;
    memcpy(p, a, la);
    memcpy(p + la, "::", 2);
    memcpy(p + la + 2, b, lb + 1);
    return p;
}

void opd_config_destroy(struct opd_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_components; i++) {
        struct opd_component_cfg *cc = &c->components[i];

        if (cc->cfg && cc->factory)
            opd_config_release(cc->factory->config_map, cc->cfg);
        opd_free(cc->cfg);
        opd_free(cc->id);
    }
    opd_free(c->components);
    opd_config_service_fini(&c->service);
    opd_node_destroy(c->root);
    for (size_t i = 0; i < c->n_files; i++)
        opd_free(c->files[i]);
    opd_free(c->files);
    opd_free(c);
}

const struct opd_component_cfg *opd_config_find(const struct opd_config *c, enum opd_kind kind,
                                                const char *id)
{
    for (size_t i = 0; c && i < c->n_components; i++)
        if (c->components[i].kind == kind && strcmp(c->components[i].id, id) == 0)
            return &c->components[i];
    return NULL;
}

/* Checks "type[/name]"; on a bad id writes why into why and returns -EINVAL. */
static int check_id(const char *id, char *why, size_t len)
{
    const char *slash = strchr(id, '/');
    size_t tlen = slash ? (size_t)(slash - id) : strlen(id);

    if (tlen == 0) {
        snprintf(why, len, "the type before '/' must not be empty");
        return -EINVAL;
    }
    if (!isalpha((unsigned char)id[0])) {
        snprintf(why, len, "the type must start with a letter");
        return -EINVAL;
    }
    for (size_t i = 0; i < tlen; i++) {
        if (!isalnum((unsigned char)id[i]) && id[i] != '_') {
            snprintf(why, len, "the type may hold only letters, digits and '_'");
            return -EINVAL;
        }
    }
    if (!slash)
        return 0;
    if (!slash[1]) {
        snprintf(why, len, "the name after '/' must not be empty");
        return -EINVAL;
    }
    for (const char *p = slash + 1; *p; p++) {
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
            snprintf(why, len, "the name must not contain spaces or control characters");
            return -EINVAL;
        }
    }
    return 0;
}

/* Writes the known types of kind ("debug, file, otlp_grpc (alias otlp)") into buf. */
static const char *known_types(opd_factory_list_fn list, enum opd_kind kind, char *buf, size_t len)
{
    const struct opd_factory *const *all = list ? list() : NULL;
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; all && all[i] && off < len; i++) {
        int w;

        if (all[i]->kind != kind)
            continue;
        if (all[i]->alias)
            w = snprintf(buf + off, len - off, "%s%s (alias %s)", off ? ", " : "", all[i]->type,
                         all[i]->alias);
        else
            w = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", all[i]->type);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

/* The known type (or alias) of kind closest to a misspelt type, or NULL. */
static const char *suggest_type(opd_factory_list_fn list, enum opd_kind kind, const char *type)
{
    const struct opd_factory *const *all = list ? list() : NULL;
    struct opd_suggest sg;

    opd_suggest_init(&sg, type);
    for (size_t i = 0; all && all[i]; i++) {
        if (all[i]->kind != kind)
            continue;
        opd_suggest_add(&sg, all[i]->type);
        if (all[i]->alias)
            opd_suggest_add(&sg, all[i]->alias);
    }
    return opd_suggest_best(&sg);
}

/* Binds one component. Errors go to errs; returns 0 (also when the component was bad) or
 * -ENOMEM. */
static int load_component(struct opd_config *c, enum opd_kind kind, const struct opd_node_pair *p,
                          const struct opd_load_ctx *ctx)
{
    struct opd_component_cfg *cc = NULL;
    const struct opd_factory *f;
    char *path = NULL;
    char *type = NULL;
    char why[256], types[1024];
    int rc = 0;

    path = opd_config_path(opd_config_section_name(kind), p->key);
    if (!path)
        return -ENOMEM;
    if (check_id(p->key, why, sizeof(why))) {
        rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path, "invalid component id \"%s\": %s",
                                p->key, why);
        goto out;
    }
    type = opd_strndup(p->key, strcspn(p->key, "/"));
    if (!type) {
        rc = -ENOMEM;
        goto out;
    }
    f = ctx->lookup ? ctx->lookup(kind, type) : NULL;
    if (!f) {
        const char *hint = suggest_type(ctx->list, kind, type);

        if (known_types(ctx->list, kind, types, sizeof(types))[0] && hint)
            rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                    "unknown %s type \"%s\", did you mean \"%s\"? (known types: "
                                    "%s)",
                                    opd_config_kind_word(kind), type, hint, types);
        else if (types[0])
            rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                    "unknown %s type \"%s\" (known types: %s)",
                                    opd_config_kind_word(kind), type, types);
        else if (ctx->list)
            rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                    "unknown %s type \"%s\" (no %s types are built in)",
                                    opd_config_kind_word(kind), type, opd_config_kind_word(kind));
        else
            rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path, "unknown %s type \"%s\"",
                                    opd_config_kind_word(kind), type);
        goto out;
    }
    cc = OPD_VEC_PUSH_SLOT(c->components, c->n_components, ctx->cap_components[0]);
    if (!cc) {
        rc = -ENOMEM;
        goto out;
    }
    memset(cc, 0, sizeof(*cc));
    cc->kind = kind;
    cc->factory = f;
    cc->pos = p->key_pos;
    cc->id = opd_strdup(p->key);
    cc->cfg = opd_calloc(1, f->config_size);
    if (!cc->id || !cc->cfg) {
        rc = -ENOMEM;
        goto out;
    }
    rc = opd_config_defaults(f->config_map, cc->cfg);
    if (rc == -EINVAL) {
        rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path,
                                "internal error: the defaults of this component do not parse");
        goto out;
    }
    if (rc)
        goto out;
    rc = opd_config_bind(f->config_map, p->value, cc->cfg, path, ctx->errs);
    if (rc == -EINVAL) {
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    if (f->validate) {
        why[0] = '\0';
        if (f->validate(cc->cfg, why, sizeof(why)))
            rc = opd_cfg_errors_add(ctx->errs, &p->key_pos, path, "%s",
                                    why[0] ? why : "invalid configuration");
    }
out:
    opd_free(type);
    opd_free(path);
    return rc;
}

static int load_section(struct opd_config *c, enum opd_kind kind, const struct opd_node *sec,
                        const struct opd_load_ctx *ctx)
{
    int rc;

    if (!sec || sec->type == OPD_NODE_NULL)
        return 0;
    if (sec->type != OPD_NODE_MAP)
        return opd_cfg_errors_add(ctx->errs, &sec->pos, opd_config_section_name(kind),
                                  "expected a map of component ids, got %s",
                                  opd_node_type_name(sec->type));
    for (size_t i = 0; i < sec->n; i++) {
        rc = load_component(c, kind, &sec->pairs[i], ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_top(const struct opd_node *root, struct opd_cfg_errors *errs)
{
    int rc = 0;

    for (size_t i = 0; i < root->n && !rc; i++) {
        const struct opd_node_pair *p = &root->pairs[i];
        size_t k;

        for (k = 0; k < sizeof(top_keys) / sizeof(top_keys[0]); k++)
            if (strcmp(p->key, top_keys[k]) == 0)
                break;
        if (k == sizeof(top_keys) / sizeof(top_keys[0])) {
            struct opd_suggest sg;

            opd_suggest_init(&sg, p->key);
            for (k = 0; k < sizeof(top_keys) / sizeof(top_keys[0]); k++)
                opd_suggest_add(&sg, top_keys[k]);
            if (opd_suggest_best(&sg))
                rc = opd_cfg_errors_add(errs, &p->key_pos, p->key,
                                        "unknown key, did you mean \"%s\"? (valid keys: "
                                        "receivers, processors, exporters, extensions, service)",
                                        opd_suggest_best(&sg));
            else
                rc = opd_cfg_errors_add(errs, &p->key_pos, p->key,
                                        "unknown key (valid keys: receivers, processors, "
                                        "exporters, extensions, service)");
        } else if (strcmp(p->key, "connectors") == 0 && p->value->type != OPD_NODE_NULL &&
                   (p->value->type != OPD_NODE_MAP || p->value->n > 0))
            rc = opd_cfg_errors_add(errs, &p->key_pos, p->key,
                                    "connectors are not supported (only profiles pipelines "
                                    "from receivers to exporters)");
    }
    return rc;
}

/* One input: a file to read, or a buffer. */
struct source {
    const char *name;
    const char *data; /* NULL: read the file name */
    size_t len;
};

static struct opd_config *load(const struct source *src, size_t n, opd_factory_lookup_fn lookup,
                               opd_factory_list_fn list, struct opd_cfg_errors *errs)
{
    struct opd_load_ctx ctx = {.lookup = lookup, .list = list, .errs = errs};
    size_t cap_components = 0;
    size_t before = opd_cfg_errors_count(errs);
    size_t first_new = errs->n;
    struct opd_config *c;
    bool parse_failed = false;
    int rc = 0;

    ctx.cap_components = &cap_components;
    c = opd_calloc(1, sizeof(*c));
    if (!c)
        goto oom;
    c->files = opd_calloc(n, sizeof(char *));
    if (!c->files)
        goto oom;
    if (n == 0) {
        rc = opd_cfg_errors_add(errs, NULL, NULL, "no configuration file given");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        struct opd_node *node;

        c->files[i] = opd_strdup(src[i].name);
        if (!c->files[i])
            goto oom;
        c->n_files++;
        if (src[i].data)
            node = opd_yaml_parse(c->files[i], src[i].data, src[i].len, errs);
        else
            node = opd_yaml_parse_file(c->files[i], errs);
        if (!node) {
            if (errno == ENOMEM)
                goto oom;
            parse_failed = true;
            continue;
        }
        if (node->type != OPD_NODE_MAP) {
            if (node->type == OPD_NODE_NULL)
                rc = opd_cfg_errors_add(errs, &node->pos, NULL, "the configuration is empty");
            else
                rc = opd_cfg_errors_add(errs, &node->pos, NULL,
                                        "expected a map at the top level, got %s",
                                        opd_node_type_name(node->type));
            opd_node_destroy(node);
            parse_failed = true;
            if (rc)
                goto oom;
            continue;
        }
        if (opd_node_merge(&c->root, node))
            goto oom;
    }
    if (parse_failed)
        goto fail;
    if ((rc = check_top(c->root, errs)))
        goto oom;
    for (size_t k = 0; k < sizeof(section_kinds) / sizeof(section_kinds[0]); k++) {
        enum opd_kind kind = section_kinds[k];

        rc = load_section(c, kind, opd_node_map_get(c->root, opd_config_section_name(kind)), &ctx);
        if (rc)
            goto oom;
    }
    if ((rc = opd_config_load_service(c, &ctx)))
        goto oom;
    if (opd_cfg_errors_count(errs) != before)
        goto fail;
    return c;
fail:
    /* Collected phase by phase; reported in file order, as a reader goes through them. */
    opd_cfg_errors_sort(errs, first_new, c->files, c->n_files);
    opd_config_destroy(c);
    errno = EINVAL;
    return NULL;
oom:
    opd_config_destroy(c);
    errno = ENOMEM;
    return NULL;
}

struct opd_config *opd_config_load_ex(const char *const *paths, size_t n_paths,
                                      opd_factory_lookup_fn lookup, opd_factory_list_fn list,
                                      struct opd_cfg_errors *errs)
{
    struct source *src = opd_calloc(n_paths, sizeof(*src));
    struct opd_config *c;

    if (!src) {
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n_paths; i++)
        src[i].name = paths[i];
    c = load(src, n_paths, lookup, list, errs);
    opd_free(src);
    return c;
}

struct opd_config *opd_config_load(const char *const *paths, size_t n_paths,
                                   opd_factory_lookup_fn lookup, struct opd_cfg_errors *errs)
{
    return opd_config_load_ex(paths, n_paths, lookup, NULL, errs);
}

struct opd_config *opd_config_load_buffer_ex(const char *name, const char *data, size_t len,
                                             opd_factory_lookup_fn lookup, opd_factory_list_fn list,
                                             struct opd_cfg_errors *errs)
{
    /* An empty buffer still needs a non-NULL data pointer to mean "from memory". */
    struct source src = {
        .name = name ? name : "<config>", .data = data ? data : "", .len = data ? len : 0};

    return load(&src, 1, lookup, list, errs);
}

struct opd_config *opd_config_load_buffer(const char *name, const char *data, size_t len,
                                          opd_factory_lookup_fn lookup, struct opd_cfg_errors *errs)
{
    return opd_config_load_buffer_ex(name, data, len, lookup, NULL, errs);
}
