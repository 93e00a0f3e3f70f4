/* libyaml events → config tree. One pass over the event stream with an explicit stack
 * of open containers; scalars get ${env:...} expansion, map keys are checked for
 * duplicates, aliases are copied (bounded, so an alias bomb is an error), and merge keys
 * ("<<: *defaults") fill in the keys a map does not set itself. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <yaml.h>

#include "collector/mem.h"
#include "config/env.h"
#include "config/errors.h"
#include "config/node.h"

/* A config file is small; anything bigger is a mistake, not a config. */
#define YAML_MAX_FILE_SIZE (16u << 20)

struct frame {
    struct opd_node *node;
    char *key; /* MAP: the key waiting for its value */
    struct opd_cfg_pos key_pos;
    bool key_is_merge;    /* the waiting key is a plain "<<" */
    const char *last_key; /* MAP: key of the last value attached (for key paths) */
};

/* The value of a "<<" key, applied when its map ends. Kept (and freed) with the loader
 * because anchors may point into it. */
struct merge {
    struct opd_node *map;
    struct opd_node *src;
};

struct anchor {
    char *name;
    struct opd_node *node;
};

struct loader {
    const char *file;
    const char *data;
    size_t len;
    struct opd_cfg_errors *errs;
    struct frame stack[OPD_NODE_MAX_DEPTH];
    int depth;
    struct opd_node *root;
    struct anchor *anchors;
    size_t n_anchors, cap_anchors;
    struct merge *merges;
    size_t n_merges, cap_merges;
    size_t n_nodes;
    int docs;
    bool no_env; /* OPD_YAML_NO_ENV */
    int failed;  /* an error was recorded */
    int oom;
};

static struct opd_cfg_pos mark_pos(const struct loader *l, yaml_mark_t m)
{
    struct opd_cfg_pos p = {.file = l->file, .line = (int)m.line + 1, .col = (int)m.column + 1};

    return p;
}

/* Key path ("a::b::0") of the value about to be attached at the top of the stack, or with
 * last set, of the value attached there last. */
static void key_path(const struct loader *l, bool last, char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < l->depth && off < len; i++) {
        const struct frame *f = &l->stack[i];
        const char *sep = off ? "::" : "";
        int w;

        if (f->node->type == OPD_NODE_MAP) {
            const char *k = f->key;

            if (!k && (last || i + 1 < l->depth))
                k = f->last_key;
            if (!k)
                break;
            w = snprintf(buf + off, len - off, "%s%s", sep, k);
        } else {
            size_t idx = f->node->n;

            if ((last || i + 1 < l->depth) && idx)
                idx--;
            w = snprintf(buf + off, len - off, "%s%zu", sep, idx);
        }
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static void current_path(const struct loader *l, char *buf, size_t len)
{
    key_path(l, false, buf, len);
}

static void fail(struct loader *l, const struct opd_cfg_pos *pos, const char *path, const char *msg)
{
    l->failed = 1;
    if (opd_cfg_errors_add(l->errs, pos, path, "%s", msg))
        l->oom = 1;
}

static struct opd_node *new_node(struct loader *l, enum opd_node_type t, yaml_mark_t m)
{
    struct opd_cfg_pos pos = mark_pos(l, m);
    struct opd_node *n;

    if (++l->n_nodes > OPD_NODE_MAX_NODES) {
        fail(l, &pos, NULL, "document too large (more than 200000 nodes after aliases)");
        return NULL;
    }
    n = opd_node_create(t, &pos);
    if (!n)
        l->oom = 1;
    return n;
}

static size_t count_nodes(const struct opd_node *n)
{
    size_t c = 1;

    for (size_t i = 0; i < n->n; i++)
        c += count_nodes(n->type == OPD_NODE_MAP ? n->pairs[i].value : n->items[i]);
    return c;
}

/* Hangs node below the top of the stack (or makes it the root). Takes node; returns 0 or
 * -1 (then node is freed). */
static int attach(struct loader *l, struct opd_node *node)
{
    struct frame *top;
    int rc;

    if (l->depth == 0) {
        l->root = node;
        return 0;
    }
    top = &l->stack[l->depth - 1];
    if (top->node->type == OPD_NODE_SEQ) {
        rc = opd_node_seq_add(top->node, node);
    } else if (top->key_is_merge) {
        struct merge *m = OPD_VEC_PUSH_SLOT(l->merges, l->n_merges, l->cap_merges);

        rc = m ? 0 : -ENOMEM;
        if (m) {
            m->map = top->node;
            m->src = node;
        }
        top->last_key = "<<";
        top->key_is_merge = false;
        opd_free(top->key);
        top->key = NULL;
    } else {
        rc = opd_node_map_add(top->node, top->key, &top->key_pos, node);
        top->last_key = rc ? NULL : top->node->pairs[top->node->n - 1].key;
        opd_free(top->key);
        top->key = NULL;
    }
    if (rc) {
        opd_node_destroy(node);
        l->oom = 1;
        return -1;
    }
    return 0;
}

static int add_anchor(struct loader *l, const yaml_char_t *name, struct opd_node *node)
{
    struct anchor *a;
    char *copy;

    if (!name)
        return 0;
    /* A redefined anchor shadows the earlier one: search from the end. */
    copy = opd_strdup((const char *)name);
    if (!copy)
        goto oom;
    a = OPD_VEC_PUSH_SLOT(l->anchors, l->n_anchors, l->cap_anchors);
    if (!a) {
        opd_free(copy);
        goto oom;
    }
    a->name = copy;
    a->node = node;
    return 0;
oom:
    l->oom = 1;
    return -1;
}

static int is_null_plain(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* A scalar where a map expects its key. */
static int on_key(struct loader *l, yaml_event_t *ev)
{
    struct frame *top = &l->stack[l->depth - 1];
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    struct opd_cfg_pos pos = mark_pos(l, ev->start_mark);
    const struct opd_node_pair *dup;
    char path[512];

    if (strlen(text) != len) {
        current_path(l, path, sizeof(path));
        fail(l, &pos, path, "map key contains a NUL character");
        text = "";
    }
    top->key = opd_strdup(text);
    if (!top->key) {
        l->oom = 1;
        return -1;
    }
    top->key_pos = pos;
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(text, "<<") == 0) {
        top->key_is_merge = true;
        return 0;
    }
    dup = opd_node_map_find(top->node, text);
    if (dup) {
        char msg[128];

        current_path(l, path, sizeof(path));
        snprintf(msg, sizeof(msg), "duplicate key (first defined at %d:%d)", dup->key_pos.line,
                 dup->key_pos.col);
        fail(l, &pos, path, msg);
    }
    return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool valid_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned c = *s;
        int n;
        unsigned cp, min;

        if (c < 0x80) {
            s++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

static int on_scalar(struct loader *l, yaml_event_t *ev)
{
    const char *text = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    struct opd_node *node;
    char path[512];
    char err[256];
    int rc;

    if (l->depth && l->stack[l->depth - 1].node->type == OPD_NODE_MAP &&
        !l->stack[l->depth - 1].key)
        return on_key(l, ev);
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null_plain(text, len)) {
        node = new_node(l, OPD_NODE_NULL, ev->start_mark);
        if (!node)
            return -1;
    } else {
        node = new_node(l, OPD_NODE_SCALAR, ev->start_mark);
        if (!node)
            return -1;
        if (strlen(text) != len) {
            current_path(l, path, sizeof(path));
            fail(l, &node->pos, path, "value contains a NUL character");
            text = "";
        }
        if (l->no_env) {
            node->text = opd_strdup(text);
            rc = node->text ? 0 : -ENOMEM;
        } else {
            rc = opd_env_expand(text, &node->text, err, sizeof(err));
        }
        if (rc == 0 && !valid_utf8(node->text)) {
            /* The input was checked by libyaml; only a variable's value can get here. */
            snprintf(err, sizeof(err), "an environment variable's value is not valid UTF-8");
            opd_free(node->text);
            node->text = NULL;
            rc = -EINVAL;
        }
        if (rc == -EINVAL) {
            current_path(l, path, sizeof(path));
            fail(l, &node->pos, path, err);
            node->text = opd_strdup("");
            rc = node->text ? 0 : -ENOMEM;
        }
        if (rc) {
            opd_node_destroy(node);
            l->oom = 1;
            return -1;
        }
    }
    if (attach(l, node))
        return -1;
    return add_anchor(l, ev->data.scalar.anchor, node);
}

static int on_start(struct loader *l, yaml_event_t *ev, enum opd_node_type t)
{
    const yaml_char_t *anchor =
        t == OPD_NODE_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    struct opd_cfg_pos pos = mark_pos(l, ev->start_mark);
    struct opd_node *node;
    char path[512];

    if (l->depth && l->stack[l->depth - 1].node->type == OPD_NODE_MAP &&
        !l->stack[l->depth - 1].key) {
        current_path(l, path, sizeof(path));
        fail(l, &pos, path, "map keys must be strings, not maps or lists");
        return -1;
    }
    if (l->depth == OPD_NODE_MAX_DEPTH) {
        current_path(l, path, sizeof(path));
        fail(l, &pos, path, "nesting deeper than 64 levels");
        return -1;
    }
    node = new_node(l, t, ev->start_mark);
    if (!node)
        return -1;
    if (attach(l, node))
        return -1;
    memset(&l->stack[l->depth], 0, sizeof(l->stack[l->depth]));
    l->stack[l->depth].node = node;
    l->depth++;
    return add_anchor(l, anchor, node);
}

static int on_alias(struct loader *l, yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    struct opd_cfg_pos pos = mark_pos(l, ev->start_mark);
    struct opd_node *copy;
    char path[512];
    char msg[160];

    current_path(l, path, sizeof(path));
    if (l->depth && l->stack[l->depth - 1].node->type == OPD_NODE_MAP &&
        !l->stack[l->depth - 1].key) {
        fail(l, &pos, path, "aliases cannot be used as map keys");
        return -1;
    }
    for (size_t i = l->n_anchors; i-- > 0;) {
        if (strcmp(l->anchors[i].name, name) != 0)
            continue;
        l->n_nodes += count_nodes(l->anchors[i].node);
        if (l->n_nodes > OPD_NODE_MAX_NODES) {
            fail(l, &pos, path, "document too large (more than 200000 nodes after aliases)");
            return -1;
        }
        copy = opd_node_copy(l->anchors[i].node);
        if (!copy) {
            l->oom = 1;
            return -1;
        }
        /* Errors about the copy point at the alias, where the user wrote it. */
        copy->pos = pos;
        return attach(l, copy);
    }
    snprintf(msg, sizeof(msg), "undefined alias \"%.100s\"", name);
    fail(l, &pos, path, msg);
    return -1;
}

static void on_parser_error(struct loader *l, const yaml_parser_t *p)
{
    struct opd_cfg_pos pos = {.file = l->file,
                              .line = (int)p->problem_mark.line + 1,
                              .col = (int)p->problem_mark.column + 1};
    const char *problem = p->problem ? p->problem : "malformed YAML";
    char msg[512];

    if (p->error == YAML_MEMORY_ERROR) {
        l->oom = 1;
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines up to it. */
        size_t off = p->problem_offset < l->len ? p->problem_offset : l->len;

        pos.line = 1;
        pos.col = 1;
        for (size_t i = 0; i < off; i++) {
            if (l->data[i] == '\n') {
                pos.line++;
                pos.col = 1;
            } else {
                pos.col++;
            }
        }
        if (p->problem_value != -1)
            snprintf(msg, sizeof(msg), "invalid input: %s (byte 0x%02x)", problem,
                     (unsigned)p->problem_value & 0xffu);
        else
            snprintf(msg, sizeof(msg), "invalid input: %s", problem);
    } else if (p->context) {
        snprintf(msg, sizeof(msg), "%s (%s at %d:%d)", problem, p->context,
                 (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    } else {
        snprintf(msg, sizeof(msg), "%s", problem);
    }
    fail(l, &pos, NULL, msg);
}

static void frame_fini(struct frame *f)
{
    opd_free(f->key);
    memset(f, 0, sizeof(*f));
}

/* Adds to map copies of the pairs of src whose keys it does not have yet. */
static int merge_from(struct loader *l, struct opd_node *map, const struct opd_node *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct opd_node_pair *p = &src->pairs[i];
        struct opd_node *copy;

        if (opd_node_map_find(map, p->key))
            continue;
        l->n_nodes += count_nodes(p->value);
        if (l->n_nodes > OPD_NODE_MAX_NODES) {
            fail(l, &p->key_pos, NULL, "document too large (more than 200000 nodes after aliases)");
            return -1;
        }
        copy = opd_node_copy(p->value);
        if (!copy || opd_node_map_add(map, p->key, &p->key_pos, copy)) {
            opd_node_destroy(copy);
            l->oom = 1;
            return -1;
        }
    }
    return 0;
}

/* Applies the "<<" keys of a finished map: explicit keys win, then earlier merge sources
 * over later ones, as YAML's merge key type specifies. */
static int apply_merges(struct loader *l, struct opd_node *map)
{
    char path[512];

    for (size_t i = 0; i < l->n_merges; i++) {
        const struct opd_node *src = l->merges[i].src;
        bool ok = src->type == OPD_NODE_MAP || (src->type == OPD_NODE_SEQ && src->n > 0);

        if (l->merges[i].map != map)
            continue;
        for (size_t j = 0; ok && src->type == OPD_NODE_SEQ && j < src->n; j++)
            ok = src->items[j]->type == OPD_NODE_MAP;
        if (!ok) {
            key_path(l, true, path, sizeof(path));
            fail(l, &src->pos, path,
                 "the value of a merge key (<<) must be a map or a list of maps");
            return -1;
        }
        if (src->type == OPD_NODE_MAP) {
            if (merge_from(l, map, src))
                return -1;
            continue;
        }
        for (size_t j = 0; j < src->n; j++)
            if (merge_from(l, map, src->items[j]))
                return -1;
    }
    return 0;
}

/* Handles one event; returns 1 at the end of the stream, 0 to go on, -1 to stop. */
static int on_event(struct loader *l, yaml_event_t *ev)
{
    struct opd_cfg_pos pos;

    switch (ev->type) {
    case YAML_STREAM_END_EVENT:
        return 1;
    case YAML_DOCUMENT_START_EVENT:
        if (l->docs++ == 0)
            return 0;
        pos = mark_pos(l, ev->start_mark);
        fail(l, &pos, NULL, "more than one YAML document in a file is not supported");
        return -1;
    case YAML_SCALAR_EVENT:
        return on_scalar(l, ev);
    case YAML_ALIAS_EVENT:
        return on_alias(l, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(l, ev, OPD_NODE_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(l, ev, OPD_NODE_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        if (l->depth > 0) {
            struct opd_node *done = l->stack[l->depth - 1].node;

            /* Pop first: errors about merges name the map's own key path. */
            l->depth--;
            frame_fini(&l->stack[l->depth]);
            if (done->type == OPD_NODE_MAP && l->n_merges)
                return apply_merges(l, done);
        }
        return 0;
    default:
        return 0;
    }
}

struct opd_node *opd_yaml_parse(const char *file, const char *data, size_t len,
                                struct opd_cfg_errors *errs)
{
    return opd_yaml_parse_ex(file, data, len, 0, errs);
}

struct opd_node *opd_yaml_parse_file(const char *path, struct opd_cfg_errors *errs)
{
    return opd_yaml_parse_file_ex(path, 0, errs);
}

struct opd_node *opd_yaml_parse_ex(const char *file, const char *data, size_t len, unsigned flags,
                                   struct opd_cfg_errors *errs)
{
    struct loader l = {
        .file = file, .data = data, .len = len, .errs = errs, .no_env = flags & OPD_YAML_NO_ENV};
    yaml_parser_t parser;
    yaml_event_t ev;
    int rc = 0;

    if (!yaml_parser_initialize(&parser)) {
        errno = ENOMEM;
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    while (rc == 0) {
        if (!yaml_parser_parse(&parser, &ev)) {
            on_parser_error(&l, &parser);
            break;
        }
        rc = on_event(&l, &ev);
        yaml_event_delete(&ev);
        if (l.oom)
            break;
    }
    yaml_parser_delete(&parser);
    while (l.depth > 0)
        frame_fini(&l.stack[--l.depth]);
    for (size_t i = 0; i < l.n_anchors; i++)
        opd_free(l.anchors[i].name);
    opd_free(l.anchors);
    for (size_t i = 0; i < l.n_merges; i++)
        opd_node_destroy(l.merges[i].src);
    opd_free(l.merges);
    if (l.oom || l.failed || rc < 0) {
        opd_node_destroy(l.root);
        errno = l.oom ? ENOMEM : EINVAL;
        return NULL;
    }
    if (!l.root) {
        struct opd_cfg_pos pos = {.file = file, .line = 1, .col = 1};

        l.root = opd_node_create(OPD_NODE_NULL, &pos);
    }
    return l.root;
}

struct opd_node *opd_yaml_parse_file_ex(const char *path, unsigned flags,
                                        struct opd_cfg_errors *errs)
{
    struct opd_cfg_pos pos = {.file = path};
    struct opd_node *root = NULL;
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    int saved = 0;
    FILE *f;

    f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0) {
        saved = errno;
        opd_cfg_errors_add(errs, &pos, NULL, "cannot open: %s", strerror(saved));
        saved = EINVAL;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > YAML_MAX_FILE_SIZE) {
        opd_cfg_errors_add(errs, &pos, NULL, "%s",
                           S_ISREG(st.st_mode) ? "file is larger than 16 MiB"
                                               : "not a regular file");
        saved = EINVAL;
        goto out;
    }
    data = opd_malloc((size_t)st.st_size + 1);
    if (!data) {
        saved = ENOMEM;
        goto out;
    }
    got = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        opd_cfg_errors_add(errs, &pos, NULL, "cannot read: %s", strerror(errno));
        saved = EINVAL;
        goto out;
    }
    root = opd_yaml_parse_ex(path, data, got, flags, errs);
    if (!root)
        saved = errno;
out:
    if (f)
        fclose(f);
    opd_free(data);
    if (!root)
        errno = saved;
    return root;
}
