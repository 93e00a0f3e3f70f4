/* The extensions an OTLP exporter's config names, resolved at start: the authenticator
 * (auth.authenticator, a bearertokenauth extension) and the persistent queue's storage
 * (sending_queue.storage, a file_storage extension). */
#ifndef OPD_EXPORTERHELPER_EH_EXTENSIONS_H
#define OPD_EXPORTERHELPER_EH_EXTENSIONS_H

struct opd_component;
struct opd_exporterhelper;
struct opd_host;

/* Starts eh (see opd_eh_start) after resolving the extensions through host (borrowed).
 * authenticator and storage are extension ids or NULL when the config names none; *auth
 * receives the authenticator (owned by the host) or is left alone. Errors are logged under
 * logname: -EINVAL when an id names no extension or one of another type, else the storage's
 * or opd_eh_start's error. */
int opd_eh_start_with_extensions(struct opd_exporterhelper *eh, struct opd_host *host,
                                 const char *logname, const char *authenticator,
                                 struct opd_component **auth, const char *storage);

#endif
