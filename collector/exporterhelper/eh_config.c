#include "collector/exporterhelper/eh_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

static const char *const sizers[] = {"requests", "items", NULL};

const struct opd_config_map opd_eh_queue_config_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "enabled",
     .def = "true",
     .offset = offsetof(struct opd_eh_queue_config, enabled),
     .desc = "queue requests and send them from consumer threads"},
    {.type = OPD_CFG_INT,
     .name = "num_consumers",
     .def = "10",
     .min = 1,
     .max = 1000,
     .offset = offsetof(struct opd_eh_queue_config, num_consumers),
     .desc = "threads sending concurrently"},
    {.type = OPD_CFG_INT,
     .name = "queue_size",
     .def = "1000",
     .min = 1,
     .max = 1000000000,
     .offset = offsetof(struct opd_eh_queue_config, queue_size),
     .desc = "capacity, in units of sizer"},
    {.type = OPD_CFG_ENUM,
     .name = "sizer",
     .def = "requests",
     .choices = sizers,
     .offset = offsetof(struct opd_eh_queue_config, sizer),
     .desc = "what queue_size counts: requests or items (profile samples)"},
    {.type = OPD_CFG_BOOL,
     .name = "block_on_overflow",
     .def = "false",
     .offset = offsetof(struct opd_eh_queue_config, block_on_overflow),
     .desc = "wait for room instead of dropping when the queue is full"},
    {.type = OPD_CFG_STRING,
     .name = "storage",
     .offset = offsetof(struct opd_eh_queue_config, storage),
     .desc = "file_storage extension id: persist the queue across restarts"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_eh_retry_config_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "enabled",
     .def = "true",
     .offset = offsetof(struct opd_eh_retry_config, enabled),
     .desc = "retry retryable failures with exponential backoff"},
    {.type = OPD_CFG_DURATION,
     .name = "initial_interval",
     .def = "5s",
     .min = 1000000,
     .max = 3600000000000LL,
     .offset = offsetof(struct opd_eh_retry_config, initial_interval_ns),
     .desc = "first backoff"},
    {.type = OPD_CFG_DURATION,
     .name = "max_interval",
     .def = "30s",
     .min = 1000000,
     .max = 3600000000000LL,
     .offset = offsetof(struct opd_eh_retry_config, max_interval_ns),
     .desc = "largest backoff"},
    {.type = OPD_CFG_DURATION,
     .name = "max_elapsed_time",
     .def = "300s",
     .min = 0,
     .max = 86400000000000LL,
     .offset = offsetof(struct opd_eh_retry_config, max_elapsed_time_ns),
     .desc = "give up on a request after this long; 0 retries forever"},
    {.type = OPD_CFG_DOUBLE,
     .name = "multiplier",
     .def = "1.5",
     .min = 1,
     .max = 100,
     .offset = offsetof(struct opd_eh_retry_config, multiplier),
     .desc = "backoff growth factor"},
    {.type = OPD_CFG_DOUBLE,
     .name = "randomization_factor",
     .def = "0.5",
     .min = 0,
     .max = 1,
     .offset = offsetof(struct opd_eh_retry_config, randomization_factor),
     .desc = "jitter: each backoff is spread over [1-f, 1+f] of itself"},
    OPD_CFG_MAP_END,
};

int opd_eh_retry_config_check(const struct opd_eh_retry_config *r, char *err, size_t errlen)
{
    if (r->multiplier < 1.0) {
        snprintf(err, errlen, "retry_on_failure.multiplier must be >= 1");
        return -EINVAL;
    }
    if (r->randomization_factor < 0.0 || r->randomization_factor > 1.0) {
        snprintf(err, errlen, "retry_on_failure.randomization_factor must be in [0, 1]");
        return -EINVAL;
    }
    if (r->max_interval_ns < r->initial_interval_ns) {
        snprintf(err, errlen, "retry_on_failure.max_interval must be >= initial_interval");
        return -EINVAL;
    }
    return 0;
}

int64_t opd_eh_backoff_ns(const struct opd_eh_retry_config *r, unsigned attempt, double rnd)
{
    double iv = (double)r->initial_interval_ns;
    double rf = r->randomization_factor;

    for (unsigned i = 0; i < attempt && iv < (double)r->max_interval_ns; i++)
        iv *= r->multiplier;
    if (iv > (double)r->max_interval_ns)
        iv = (double)r->max_interval_ns;
    if (rnd < 0)
        rnd = 0;
    if (rnd >= 1)
        rnd = 0.999999;
    iv = iv * (1.0 - rf) + iv * 2.0 * rf * rnd;
    return iv < 1 ? 1 : (int64_t)iv;
}
