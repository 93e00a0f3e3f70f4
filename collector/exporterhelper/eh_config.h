/* Config sections every queued exporter shares, with the Collector's names and defaults:
 * sending_queue{enabled, num_consumers, queue_size, sizer, block_on_overflow, storage}
 * and retry_on_failure{enabled, initial_interval, max_interval, max_elapsed_time,
 * multiplier, randomization_factor}. Exporters embed the structs in their config and
 * reference the maps as OPD_CFG_SECTION entries. */
#ifndef OPD_EH_CONFIG_H
#define OPD_EH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config_map.h"

struct opd_eh_queue_config {
    bool enabled;
    int64_t num_consumers;
    int64_t queue_size;
    char *sizer; /* "requests" | "items" */
    bool block_on_overflow;
    char *storage; /* id of a file_storage extension, or NULL */
};

struct opd_eh_retry_config {
    bool enabled;
    int64_t initial_interval_ns;
    int64_t max_interval_ns;
    int64_t max_elapsed_time_ns; /* 0 = retry forever */
    double multiplier;
    double randomization_factor;
};

extern const struct opd_config_map opd_eh_queue_config_map[];
extern const struct opd_config_map opd_eh_retry_config_map[];

/* Cross-field checks (multiplier >= 1, max_interval >= initial_interval, randomization
 * factor in [0, 1]). Returns 0 or -EINVAL with the reason in err. */
int opd_eh_retry_config_check(const struct opd_eh_retry_config *r, char *err, size_t errlen);

/* Backoff before retry number attempt (0-based): initial * multiplier^attempt capped at
 * max_interval, then spread uniformly over [1 - rf, 1 + rf] of itself using rnd in [0, 1). */
int64_t opd_eh_backoff_ns(const struct opd_eh_retry_config *r, unsigned attempt, double rnd);

#endif
