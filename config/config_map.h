/* Config maps: each component declares its options as a table beside its code, and
 * one generic binder (config/bind.c) turns a YAML node into the component's typed
 * struct: defaults first, then the user's values, with type and bound checks and
 * unknown keys rejected. The binder owns the memory it allocates inside the struct;
 * opd_config_release() frees it. */
#ifndef OPD_CONFIG_MAP_H
#define OPD_CONFIG_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opd_cfg_type {
    OPD_CFG_END = 0,  /* terminates a map */
    OPD_CFG_BOOL,     /* bool */
    OPD_CFG_INT,      /* int64_t, bounded by [min, max] */
    OPD_CFG_DOUBLE,   /* double, bounded by [min, max] (as whole numbers) */
    OPD_CFG_DURATION, /* int64_t nanoseconds; "5s", "250ms", "1m30s", "1h"; bounded, in ns */
    OPD_CFG_BYTES,    /* int64_t bytes; "64MiB", "512KiB", "1GB", "4096"; bounded */
    OPD_CFG_STRING,   /* char * (NULL when unset and no default) */
    OPD_CFG_ENUM,     /* char *, one of choices[] */
    OPD_CFG_STRLIST,  /* struct opd_strlist; a scalar is taken as a one-element list */
    OPD_CFG_STRMAP,   /* struct opd_strmap: a map of string to string */
    OPD_CFG_SECTION,  /* a nested struct at offset, described by sub */
    OPD_CFG_SECTIONS, /* struct opd_seclist: a list of nested structs of elem_size, each by sub */
};

struct opd_strlist {
    char **v;
    size_t n;
};

struct opd_strmap {
    char **keys;
    char **values;
    size_t n;
};

struct opd_seclist {
    void *items; /* n elements of the entry's elem_size */
    size_t n;
};

struct opd_config_map {
    enum opd_cfg_type type;
    const char *name;
    const char *def; /* default as text, parsed like user input; NULL = zero/unset */
    int64_t min, max; /* bounds for INT, DOUBLE, DURATION (ns), BYTES; both 0 = unbounded */
    size_t offset;    /* offsetof() into the component's config struct */
    const char *desc;
    const struct opd_config_map *sub;  /* SECTION, SECTIONS */
    size_t elem_size;                  /* SECTIONS */
    const char *const *choices;        /* ENUM: NULL-terminated */
    bool secret; /* print-config shows "[REDACTED]" instead of the value (tokens, headers) */
};

#define OPD_CFG_MAP_END {.type = OPD_CFG_END}

/* Where one config value came from, for error messages. */
struct opd_cfg_pos {
    const char *file;
    int line; /* 1-based */
    int col;  /* 1-based */
};

/* Applies the defaults of map to cfg (zeroed by the caller). Returns 0 or -errno. */
int opd_config_defaults(const struct opd_config_map *map, void *cfg);

/* Frees every string, list and section the binder allocated inside cfg, and zeroes them.
 * The struct itself stays the caller's. */
void opd_config_release(const struct opd_config_map *map, void *cfg);

/* Parsers shared with the binder. Each returns 0 or -EINVAL. */
int opd_parse_duration(const char *s, int64_t *ns);
int opd_parse_bytes(const char *s, int64_t *bytes);
int opd_parse_bool(const char *s, bool *b);
int opd_parse_int(const char *s, int64_t *v);

struct opd_node;
struct opd_cfg_errors;

/* Binds node (a map, or NULL / a null node for "all defaults") into cfg, which already
 * holds its defaults (opd_config_defaults). Every problem (unknown key, wrong type, bad
 * value, out of range) is added to errs under keypath ("exporters::file") and binding goes
 * on; a field keeps its previous value when its input is bad. A null value for a key
 * leaves that field at its default. Returns 0 when no error was found, -EINVAL when some
 * were, -ENOMEM. Either way cfg stays releasable with opd_config_release().
 * Defaults (entry.def) of STRLIST, STRMAP and SECTIONS are YAML text ("[a, b]",
 * "{k: v}"); other defaults are the scalar text. On failure of opd_config_defaults the
 * caller still releases cfg. */
int opd_config_bind(const struct opd_config_map *map, const struct opd_node *node, void *cfg,
                    const char *keypath, struct opd_cfg_errors *errs);

#endif
