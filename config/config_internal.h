/* Shared between the parts of the document loader (config.c, service.c, print.c). */
#ifndef OPD_CONFIG_INTERNAL_H
#define OPD_CONFIG_INTERNAL_H

#include "config/config.h"

struct opd_load_ctx {
    opd_factory_lookup_fn lookup;
    opd_factory_list_fn list;
    struct opd_cfg_errors *errs;
    size_t *cap_components; /* capacity of opd_config.components */
};

/* Allocates "a::b"; NULL on ENOMEM. */
char *opd_config_path(const char *a, const char *b);

/* "receiver", "processor", "exporter", "extension". */
const char *opd_config_kind_word(enum opd_kind kind);

/* Reads the service section of c->root into c->service and applies the graph rules.
 * Errors go to ctx->errs; returns 0 or -ENOMEM. */
int opd_config_load_service(struct opd_config *c, const struct opd_load_ctx *ctx);

/* Frees what opd_config_load_service put in s. */
void opd_config_service_fini(struct opd_service_cfg *s);

/* The config map of service::telemetry and the struct it binds into. */
struct opd_telemetry_cfg {
    struct {
        char *level;
    } logs;
    struct {
        char *level;
        char *address;
    } metrics;
};
extern const struct opd_config_map opd_telemetry_config_map[];

#endif
