/* The generic config tree: what YAML becomes before any component looks at it. Every
 * node, and every key of a map, remembers the file:line:col it came from so that errors
 * found much later (binding, graph rules) still point at the right place.
 *
 * File names in positions are borrowed: whoever parses keeps the name alive as long as
 * the tree (struct opd_config owns them for loaded configs). */
#ifndef OPD_CONFIG_NODE_H
#define OPD_CONFIG_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config_map.h"

struct opd_cfg_errors;

enum opd_node_type {
    OPD_NODE_NULL,   /* "key:" with nothing, "~", "null": means "not set" */
    OPD_NODE_SCALAR, /* text after ${env:...} expansion; the binder gives it a type */
    OPD_NODE_MAP,
    OPD_NODE_SEQ,
};

struct opd_node;

struct opd_node_pair {
    char *key;
    struct opd_cfg_pos key_pos;
    struct opd_node *value;
};

struct opd_node {
    enum opd_node_type type;
    struct opd_cfg_pos pos;
    char *text;                  /* SCALAR: owned, NUL-terminated */
    struct opd_node_pair *pairs; /* MAP, in document order */
    struct opd_node **items;     /* SEQ */
    size_t n;                    /* pairs or items */
    size_t cap;
    /* MAP with many keys: open-addressing index of pair positions + 1 (0 = empty), so
     * lookups and duplicate checks stay linear in the document size. */
    size_t *hidx;
    size_t hcap;
};

/* Deepest nesting accepted; deeper documents are rejected rather than risking the stack. */
#define OPD_NODE_MAX_DEPTH 64
/* Most nodes one document may expand to (aliases are copied). */
#define OPD_NODE_MAX_NODES 200000

/* Returns a new empty node of type at pos (file borrowed), or NULL with errno ENOMEM. */
struct opd_node *opd_node_create(enum opd_node_type type, const struct opd_cfg_pos *pos);

/* Frees node and everything below it; NULL is a no-op. */
void opd_node_destroy(struct opd_node *node);

/* Returns a deep copy (positions kept), or NULL with errno ENOMEM. */
struct opd_node *opd_node_copy(const struct opd_node *node);

/* Appends key → value to a MAP; takes value on success only. Does not check for
 * duplicates. Returns 0 or -ENOMEM. */
int opd_node_map_add(struct opd_node *map, const char *key, const struct opd_cfg_pos *key_pos,
                     struct opd_node *value);

/* Appends item to a SEQ; takes item on success only. Returns 0 or -ENOMEM. */
int opd_node_seq_add(struct opd_node *seq, struct opd_node *item);

/* Returns the pair of a MAP with this key, or NULL (also for non-maps). */
const struct opd_node_pair *opd_node_map_find(const struct opd_node *map, const char *key);

/* Returns the value of key in a MAP, or NULL. */
const struct opd_node *opd_node_map_get(const struct opd_node *map, const char *key);

/* "a null", "a string", "a map", "a list": for messages. */
const char *opd_node_type_name(enum opd_node_type type);

/* Merges src over *dst, consuming src in every case: maps merge key by key recursively;
 * anything else (scalars, sequences, nulls) replaces what was there, so the winning node's
 * position is what errors later point at. Returns 0 or -ENOMEM (*dst stays valid). */
int opd_node_merge(struct opd_node **dst, struct opd_node *src);

/* Parses one YAML document from data (len bytes) into a tree, expanding ${env:...} in
 * scalars. file names the source in positions and errors and must outlive the tree.
 * An empty document gives a NULL-type node. On malformed input every problem found is
 * added to errs and NULL is returned with errno EINVAL; NULL with ENOMEM when memory ran
 * out. */
struct opd_node *opd_yaml_parse(const char *file, const char *data, size_t len,
                                struct opd_cfg_errors *errs);

/* Reads path and parses it like opd_yaml_parse (path is the file name in positions and
 * must outlive the tree). A file that cannot be read is an error in errs. */
struct opd_node *opd_yaml_parse_file(const char *path, struct opd_cfg_errors *errs);

/* Flags for the _ex variants. */
enum {
    /* Keep scalars as written: no ${env:...} expansion, "$$" stays "$$". For YAML that is
     * not otelprofd configuration (a kubeconfig, say). */
    OPD_YAML_NO_ENV = 1u << 0,
};

/* opd_yaml_parse with flags (OPD_YAML_*). */
struct opd_node *opd_yaml_parse_ex(const char *file, const char *data, size_t len, unsigned flags,
                                   struct opd_cfg_errors *errs);

/* opd_yaml_parse_file with flags (OPD_YAML_*). */
struct opd_node *opd_yaml_parse_file_ex(const char *path, unsigned flags,
                                        struct opd_cfg_errors *errs);

#endif
