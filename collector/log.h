/* Logging. Every line names the component instance that wrote it, e.g.
 * "2026-11-25T09:30:00.123Z warn  exporter/otlp_grpc/primary: connect failed: ...".
 * Lines go to stderr; the level comes from service.telemetry.logs.level. */
#ifndef OPD_LOG_H
#define OPD_LOG_H

enum opd_log_level {
    OPD_LOG_DEBUG = 0,
    OPD_LOG_INFO = 1,
    OPD_LOG_WARN = 2,
    OPD_LOG_ERROR = 3,
};

/* Sets the minimum level printed. */
void opd_log_set_level(enum opd_log_level level);
enum opd_log_level opd_log_get_level(void);

/* Parses "debug", "info", "warn", "error"; returns the level or -EINVAL. */
int opd_log_level_parse(const char *s);

/* Writes one line. who is the component id ("receiver/profiling") or a subsystem name. */
void opd_log(enum opd_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define OPD_DEBUG(who, ...) opd_log(OPD_LOG_DEBUG, (who), __VA_ARGS__)
#define OPD_INFO(who, ...)  opd_log(OPD_LOG_INFO, (who), __VA_ARGS__)
#define OPD_WARN(who, ...)  opd_log(OPD_LOG_WARN, (who), __VA_ARGS__)
#define OPD_ERR(who, ...)   opd_log(OPD_LOG_ERROR, (who), __VA_ARGS__)

#endif
