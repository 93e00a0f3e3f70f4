/* The registry: a plain table of every component type compiled into otelprofd. */
#include <string.h>

#include "collector/component.h"

extern const struct opd_factory opd_otlpjsonfile_receiver_factory;
extern const struct opd_factory opd_profiling_receiver_factory;
extern const struct opd_factory opd_k8sattributes_processor_factory;
extern const struct opd_factory opd_team_processor_factory;
extern const struct opd_factory opd_redaction_processor_factory;
extern const struct opd_factory opd_resource_processor_factory;
extern const struct opd_factory opd_memory_limiter_processor_factory;
extern const struct opd_factory opd_file_exporter_factory;
extern const struct opd_factory opd_debug_exporter_factory;
extern const struct opd_factory opd_prometheus_exporter_factory;
extern const struct opd_factory opd_health_check_extension_factory;
extern const struct opd_factory opd_otlp_grpc_exporter_factory;
extern const struct opd_factory opd_otlp_http_exporter_factory;
extern const struct opd_factory opd_bearertokenauth_extension_factory;
extern const struct opd_factory opd_file_storage_extension_factory;

static const struct opd_factory *const factories[] = {
    &opd_otlpjsonfile_receiver_factory,
    &opd_profiling_receiver_factory,
    &opd_k8sattributes_processor_factory,
    &opd_team_processor_factory,
    &opd_redaction_processor_factory,
    &opd_resource_processor_factory,
    &opd_memory_limiter_processor_factory,
    &opd_file_exporter_factory,
    &opd_debug_exporter_factory,
    &opd_prometheus_exporter_factory,
    &opd_health_check_extension_factory,
    &opd_otlp_grpc_exporter_factory,
    &opd_otlp_http_exporter_factory,
    &opd_bearertokenauth_extension_factory,
    &opd_file_storage_extension_factory,
    NULL,
};

const struct opd_factory *const *opd_registry_all(void)
{
    return factories;
}

const struct opd_factory *opd_registry_find(enum opd_kind kind, const char *type)
{
    for (size_t i = 0; factories[i]; i++) {
        const struct opd_factory *f = factories[i];
        if (f->kind != kind)
            continue;
        if (strcmp(f->type, type) == 0 || (f->alias && strcmp(f->alias, type) == 0))
            return f;
    }
    return NULL;
}
