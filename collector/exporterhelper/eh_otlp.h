/* What the OTLP exporters (otlp_grpc, otlp_http) share around the exporter helper: its
 * creation with their metrics, and the extensions their config names, resolved at start:
 * the authenticator (auth.authenticator, a bearertokenauth extension) and the persistent
 * queue's storage (sending_queue.storage, a file_storage extension). */
#ifndef OPD_EXPORTERHELPER_EH_OTLP_H
#define OPD_EXPORTERHELPER_EH_OTLP_H

#include "collector/exporterhelper/exporterhelper.h"

struct opd_component;
struct opd_create_params;
struct opd_host;
struct opd_metric;

/* Creates the helper of the OTLP exporter p describes (borrowed): queue q and retry r
 * from its config, send and cancel called with ctx. With telemetry, *rejected receives
 * otelcol_exporter_partial_success_rejected_profiles{exporter="<id>"} (else is left
 * alone). NULL with errno, as opd_eh_create. */
struct opd_exporterhelper *opd_eh_create_otlp(const struct opd_create_params *p,
                                              const struct opd_eh_queue_config *q,
                                              const struct opd_eh_retry_config *r,
                                              opd_eh_send_fn send, void (*cancel)(void *ctx),
                                              void *ctx, struct opd_metric **rejected);

/* Starts eh (see opd_eh_start) after resolving the extensions through host (borrowed).
 * authenticator and storage are extension ids or NULL when the config names none; *auth
 * receives the authenticator (owned by the host) or is left alone. Errors are logged under
 * logname: -EINVAL when an id names no extension or one of another type, else the storage's
 * or opd_eh_start's error. */
int opd_eh_start_with_extensions(struct opd_exporterhelper *eh, struct opd_host *host,
                                 const char *logname, const char *authenticator,
                                 struct opd_component **auth, const char *storage);

#endif /* OPD_EXPORTERHELPER_EH_OTLP_H */
