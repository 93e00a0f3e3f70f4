/* Extension lookups shared by the OTLP exporters (see eh_extensions.h). */
#include "collector/exporterhelper/eh_extensions.h"

#include <errno.h>

#include "collector/component.h"
#include "collector/exporterhelper/exporterhelper.h"
#include "collector/extensions/bearertokenauth/bearertokenauth.h"
#include "collector/extensions/file_storage/file_storage.h"
#include "collector/log.h"

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
