/* The whole configuration document, Collector-shaped:
 *
 *   receivers:  { <type>[/<name>]: {options} ... }
 *   processors: { ... }
 *   exporters:  { ... }
 *   extensions: { ... }
 *   service:
 *     extensions: [ids]
 *     pipelines:  { profiles[/<name>]: { receivers: [ids], processors: [ids], exporters: [ids] } }
 *     telemetry:  { logs: { level: info }, metrics: { level: normal, address: "localhost:8888" } }
 *
 * Loading reads one or more files (later ones merge over earlier ones), expands
 * ${env:VAR:-default}, binds each component's options through its factory's config map,
 * runs the factory's validate(), and checks the pipeline graph rules. Every error found
 * is collected in a struct opd_cfg_errors (see config/errors.h for the printed form). */
#ifndef OPD_CONFIG_CONFIG_H
#define OPD_CONFIG_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "collector/component.h"
#include "config/config_map.h"
#include "config/errors.h"

struct opd_node;

/* Finds a factory by kind and type (or alias); NULL when unknown. */
typedef const struct opd_factory *(*opd_factory_lookup_fn)(enum opd_kind kind, const char *type);
/* Returns the NULL-terminated table of every known factory (names known types in errors). */
typedef const struct opd_factory *const *(*opd_factory_list_fn)(void);

struct opd_component_cfg {
    char *id; /* "type[/name]" as written */
    enum opd_kind kind;
    const struct opd_factory *factory;
    void *cfg;              /* factory->config_size bytes, bound through factory->config_map */
    struct opd_cfg_pos pos; /* of the id in its section */
};

struct opd_pipeline_cfg {
    char *name; /* "profiles" or "profiles/<name>" */
    struct opd_cfg_pos pos;
    char **receivers;
    size_t n_receivers;
    char **processors;
    size_t n_processors;
    char **exporters;
    size_t n_exporters;
};

struct opd_service_cfg {
    struct opd_pipeline_cfg *pipelines;
    size_t n_pipelines;
    char **extensions;
    size_t n_extensions;
    char *log_level;       /* debug | info | warn | error */
    char *metrics_level;   /* none | basic | normal | detailed */
    char *metrics_address; /* host:port of the self-metrics endpoint */
};

struct opd_config {
    struct opd_component_cfg *components; /* receivers, processors, exporters, extensions */
    size_t n_components;
    struct opd_service_cfg service;
    /* The merged node tree and the file names its positions point into. */
    struct opd_node *root;
    char **files;
    size_t n_files;
};

/* Loads and merges paths[0..n_paths) (later over earlier). lookup resolves component
 * types (NULL: none are known). Returns the config, or NULL when any error was collected in errs
 * (errno EINVAL) or memory ran out (errno ENOMEM; errs may hold nothing more). */
struct opd_config *opd_config_load(const char *const *paths, size_t n_paths,
                                   opd_factory_lookup_fn lookup, struct opd_cfg_errors *errs);

/* Like opd_config_load; list (may be NULL) lets "unknown type" errors name the known
 * types of the kind, e.g. opd_config_load_ex(p, n, opd_registry_find, opd_registry_all,
 * errs). */
struct opd_config *opd_config_load_ex(const char *const *paths, size_t n_paths,
                                      opd_factory_lookup_fn lookup, opd_factory_list_fn list,
                                      struct opd_cfg_errors *errs);

/* Loads one document from memory; name is the file name errors print ("<config>" when
 * NULL). Otherwise like opd_config_load. */
struct opd_config *opd_config_load_buffer(const char *name, const char *data, size_t len,
                                          opd_factory_lookup_fn lookup,
                                          struct opd_cfg_errors *errs);

/* opd_config_load_buffer with a factory list for messages (see opd_config_load_ex). */
struct opd_config *opd_config_load_buffer_ex(const char *name, const char *data, size_t len,
                                             opd_factory_lookup_fn lookup, opd_factory_list_fn list,
                                             struct opd_cfg_errors *errs);

/* Frees c and everything in it (component configs released through their maps). NULL is
 * a no-op. */
void opd_config_destroy(struct opd_config *c);

/* Returns the component of kind with this exact id, or NULL. Borrowed from c. */
const struct opd_component_cfg *opd_config_find(const struct opd_config *c, enum opd_kind kind,
                                                const char *id);

/* Writes the effective configuration as YAML: every component with its defaults filled
 * in, through the config maps, then the service section. Reloading the output gives the
 * same configuration. Returns 0, or -EIO when writing failed, -ENOMEM. */
int opd_config_print(const struct opd_config *c, FILE *out);

/* Writes one line per option of map, nested sections indented below their entry:
 *   name: type, default D, range [MIN, MAX], one of: a, b. Description
 * indent is the number of leading spaces of the first level. For `components` listings
 * and generated docs. Returns 0 or -EIO. */
int opd_config_map_describe(const struct opd_config_map *map, FILE *out, int indent);

/* Section name of a kind in the document: "receivers", "processors", ... */
const char *opd_config_section_name(enum opd_kind kind);

#endif
