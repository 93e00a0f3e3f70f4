/* What the OTLP exporters share around the exporter helper (see eh_otlp.h). */
#include "collector/exporterhelper/eh_otlp.h"

#include <errno.h>
#include <stdio.h>

#include "collector/component.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/extensions/file_storage/file_storage.h"
#include "collector/log.h"
#include "collector/telemetry.h"

struct opd_exporterhelper *opd_eh_create_otlp(const struct opd_create_params *p,
                                              const struct opd_eh_queue_config *q,
                                              const struct opd_eh_retry_config *r,
                                              opd_eh_send_fn send, void (*cancel)(void *ctx),
                                              void *ctx, struct opd_metric **rejected)
{
    struct opd_eh_params ep = {
        .who = p->logname,
        .id = p->id,
        .telemetry = p->telemetry,
        .queue = q,
        .retry = r,
        .send = send,
        .cancel = cancel,
        .ctx = ctx,
    };
    struct opd_exporterhelper *eh = opd_eh_create(&ep);
    char labels[256];

    if (eh && p->telemetry) {
        snprintf(labels, sizeof(labels), "exporter=\"%s\"", p->id);
        *rejected = opd_telemetry_metric(
            p->telemetry, OPD_METRIC_COUNTER, "otelcol_exporter_partial_success_rejected_profiles",
            labels, "Profiles the server reported as rejected in a partial success.");
    }
    return eh;
}

static struct opd_component *extension(struct opd_host *host, const char *id)
{
    return host && host->get_extension ? host->get_extension(host, id) : NULL;
}

int opd_eh_start_with_extensions(struct opd_exporterhelper *eh, struct opd_host *host,
                                 const char *logname, const char *authenticator,
                                 struct opd_component **auth, const char *storage)
{
    struct opd_eh_storage st = {0};
    char path[4096];
    int rc;

    if (authenticator) {
        *auth = extension(host, authenticator);
        if (!opd_is_bearertokenauth(*auth)) {
            OPD_ERR(logname, "auth.authenticator %s: %s", authenticator,
                    *auth ? "not a bearertokenauth extension" : "no such extension");
            return -EINVAL;
        }
    }
    if (storage) {
        struct opd_component *ext = extension(host, storage);

        if (!opd_is_file_storage(ext)) {
            OPD_ERR(logname, "sending_queue.storage %s: %s", storage,
                    ext ? "not a file_storage extension" : "no such extension");
            return -EINVAL;
        }
        rc = opd_file_storage_path(ext, logname, path, sizeof(path), &st.fsync, &st.max_bytes);
        if (rc)
            return rc;
        st.path = path;
    }
    return opd_eh_start(eh, storage ? &st : NULL);
}
