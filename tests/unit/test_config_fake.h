/* A fake factory table for config tests and the config fuzzer: one config map per kind
 * that between them use every option type of config_map.h. */
#ifndef OPD_TEST_CONFIG_FAKE_H
#define OPD_TEST_CONFIG_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/component.h"
#include "config/config_map.h"

struct fake_rule {
    char *name;
    int64_t weight;
    struct opd_strlist match;
};

struct fake_recv_cfg {
    bool enabled;
    int64_t frequency;
    double ratio;
    int64_t interval;
    int64_t buffer;
    char *endpoint;
    char *mode;
    struct opd_strlist tags;
    struct opd_strmap labels;
    struct {
        int64_t max_megabytes;
        char *path;
        struct {
            bool on;
            int64_t level;
        } deep;
    } rotation;
    struct opd_seclist rules; /* struct fake_rule */
};

struct fake_file_cfg {
    char *path;
    char *format;
    struct {
        int64_t max_megabytes;
        int64_t max_backups;
    } rotation;
    int64_t flush_interval;
};

struct fake_exp_cfg {
    char *endpoint;
    int64_t timeout;
    struct opd_strmap headers;
};

struct fake_batch_cfg {
    int64_t send_batch_size;
    int64_t timeout;
};

struct fake_health_cfg {
    char *endpoint;
};

/* Finds a fake factory by kind and type or alias. */
const struct opd_factory *fake_lookup(enum opd_kind kind, const char *type);

/* The NULL-terminated fake table. */
const struct opd_factory *const *fake_list(void);

#endif
