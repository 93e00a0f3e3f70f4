/* Fake factories for the config tests (see test_config_fake.h). */
#include "tests/unit/test_config_fake.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SEC (1000 * 1000 * 1000LL)

static const char *const modes[] = {"auto", "manual", "off", NULL};
static const char *const formats[] = {"json", "proto", "folded", NULL};

static const struct opd_config_map deep_map[] = {
    {.type = OPD_CFG_BOOL, .name = "on", .def = "false", .offset = 0},
    {.type = OPD_CFG_INT,
     .name = "level",
     .def = "3",
     .min = 1,
     .max = 9,
     .offset = offsetof(struct fake_recv_cfg, rotation.deep.level) -
               offsetof(struct fake_recv_cfg, rotation.deep)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map recv_rotation_map[] = {
    {.type = OPD_CFG_INT,
     .name = "max_megabytes",
     .def = "100",
     .min = 1,
     .max = 100000,
     .offset = 0},
    {.type = OPD_CFG_STRING,
     .name = "path",
     .offset =
         offsetof(struct fake_recv_cfg, rotation.path) - offsetof(struct fake_recv_cfg, rotation)},
    {.type = OPD_CFG_SECTION,
     .name = "deep",
     .offset =
         offsetof(struct fake_recv_cfg, rotation.deep) - offsetof(struct fake_recv_cfg, rotation),
     .sub = deep_map},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map rule_map[] = {
    {.type = OPD_CFG_STRING, .name = "name", .offset = offsetof(struct fake_rule, name)},
    {.type = OPD_CFG_INT,
     .name = "weight",
     .def = "1",
     .min = 0,
     .max = 100,
     .offset = offsetof(struct fake_rule, weight)},
    {.type = OPD_CFG_STRLIST, .name = "match", .offset = offsetof(struct fake_rule, match)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map recv_map[] = {
    {.type = OPD_CFG_BOOL,
     .name = "enabled",
     .def = "true",
     .offset = offsetof(struct fake_recv_cfg, enabled)},
    {.type = OPD_CFG_INT,
     .name = "frequency",
     .def = "19",
     .min = 1,
     .max = 1000,
     .offset = offsetof(struct fake_recv_cfg, frequency)},
    {.type = OPD_CFG_DOUBLE,
     .name = "ratio",
     .def = "0.5",
     .min = 0,
     .max = 1,
     .offset = offsetof(struct fake_recv_cfg, ratio)},
    {.type = OPD_CFG_DURATION,
     .name = "interval",
     .def = "10s",
     .min = 1000000,
     .max = 3600 * SEC,
     .offset = offsetof(struct fake_recv_cfg, interval)},
    {.type = OPD_CFG_BYTES,
     .name = "buffer",
     .def = "64MiB",
     .min = 4096,
     .max = 1LL << 30,
     .offset = offsetof(struct fake_recv_cfg, buffer)},
    {.type = OPD_CFG_STRING,
     .name = "endpoint",
     .def = "localhost:4317",
     .offset = offsetof(struct fake_recv_cfg, endpoint)},
    {.type = OPD_CFG_ENUM,
     .name = "mode",
     .def = "auto",
     .offset = offsetof(struct fake_recv_cfg, mode),
     .choices = modes},
    {.type = OPD_CFG_STRLIST,
     .name = "tags",
     .def = "[a, b]",
     .offset = offsetof(struct fake_recv_cfg, tags)},
    {.type = OPD_CFG_STRMAP,
     .name = "labels",
     .def = "{team: core}",
     .offset = offsetof(struct fake_recv_cfg, labels)},
    {.type = OPD_CFG_SECTION,
     .name = "rotation",
     .offset = offsetof(struct fake_recv_cfg, rotation),
     .sub = recv_rotation_map},
    {.type = OPD_CFG_SECTIONS,
     .name = "rules",
     .offset = offsetof(struct fake_recv_cfg, rules),
     .sub = rule_map,
     .elem_size = sizeof(struct fake_rule)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map file_rotation_map[] = {
    {.type = OPD_CFG_INT,
     .name = "max_megabytes",
     .def = "100",
     .min = 1,
     .max = 100000,
     .offset = 0},
    {.type = OPD_CFG_INT,
     .name = "max_backups",
     .def = "100",
     .min = 0,
     .max = 10000,
     .offset = offsetof(struct fake_file_cfg, rotation.max_backups) -
               offsetof(struct fake_file_cfg, rotation)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map file_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "path",
     .offset = offsetof(struct fake_file_cfg, path),
     .desc = "Where profiles are written"},
    {.type = OPD_CFG_ENUM,
     .name = "format",
     .def = "json",
     .offset = offsetof(struct fake_file_cfg, format),
     .choices = formats},
    {.type = OPD_CFG_SECTION,
     .name = "rotation",
     .offset = offsetof(struct fake_file_cfg, rotation),
     .sub = file_rotation_map},
    {.type = OPD_CFG_DURATION,
     .name = "flush_interval",
     .def = "1s",
     .min = 1000000,
     .max = 60 * SEC,
     .offset = offsetof(struct fake_file_cfg, flush_interval)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map exp_map[] = {
    {.type = OPD_CFG_STRING, .name = "endpoint", .offset = offsetof(struct fake_exp_cfg, endpoint)},
    {.type = OPD_CFG_DURATION,
     .name = "timeout",
     .def = "5s",
     .min = 1,
     .max = 600 * SEC,
     .offset = offsetof(struct fake_exp_cfg, timeout)},
    {.type = OPD_CFG_STRMAP, .name = "headers", .offset = offsetof(struct fake_exp_cfg, headers)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map batch_map[] = {
    {.type = OPD_CFG_INT,
     .name = "send_batch_size",
     .def = "8192",
     .min = 1,
     .max = 1000000,
     .offset = offsetof(struct fake_batch_cfg, send_batch_size)},
    {.type = OPD_CFG_DURATION,
     .name = "timeout",
     .def = "200ms",
     .offset = offsetof(struct fake_batch_cfg, timeout)},
    OPD_CFG_MAP_END,
};

static const struct opd_config_map health_map[] = {
    {.type = OPD_CFG_STRING,
     .name = "endpoint",
     .def = "localhost:13133",
     .offset = offsetof(struct fake_health_cfg, endpoint)},
    OPD_CFG_MAP_END,
};

static int file_validate(const void *cfg, char *errbuf, size_t errlen)
{
    const struct fake_file_cfg *c = cfg;

    if (!c->path) {
        snprintf(errbuf, errlen, "path must be set");
        return -EINVAL;
    }
    return 0;
}

static int exp_validate(const void *cfg, char *errbuf, size_t errlen)
{
    const struct fake_exp_cfg *c = cfg;

    if (!c->endpoint || !c->endpoint[0]) {
        snprintf(errbuf, errlen, "endpoint must be set");
        return -EINVAL;
    }
    return 0;
}

static const struct opd_factory fake_recv = {
    .type = "fakerecv",
    .kind = OPD_KIND_RECEIVER,
    .description = "receiver using every option type",
    .config_map = recv_map,
    .config_size = sizeof(struct fake_recv_cfg),
};

static const struct opd_factory fake_plain_recv = {
    .type = "plainrecv",
    .kind = OPD_KIND_RECEIVER,
    .description = "receiver without options",
};

static const struct opd_factory fake_batch = {
    .type = "batch",
    .kind = OPD_KIND_PROCESSOR,
    .config_map = batch_map,
    .config_size = sizeof(struct fake_batch_cfg),
};

static const struct opd_factory fake_noop = {
    .type = "noop",
    .kind = OPD_KIND_PROCESSOR,
};

static const struct opd_factory fake_file = {
    .type = "file",
    .kind = OPD_KIND_EXPORTER,
    .config_map = file_map,
    .config_size = sizeof(struct fake_file_cfg),
    .validate = file_validate,
};

static const struct opd_factory fake_exp = {
    .type = "otlp_grpc",
    .alias = "otlp",
    .kind = OPD_KIND_EXPORTER,
    .config_map = exp_map,
    .config_size = sizeof(struct fake_exp_cfg),
    .validate = exp_validate,
};

static const struct opd_factory fake_debug = {
    .type = "debug",
    .kind = OPD_KIND_EXPORTER,
};

static const struct opd_factory fake_health = {
    .type = "health_check",
    .kind = OPD_KIND_EXTENSION,
    .config_map = health_map,
    .config_size = sizeof(struct fake_health_cfg),
};

static const struct opd_factory *const fakes[] = {
    &fake_recv, &fake_plain_recv, &fake_batch,  &fake_noop, &fake_file,
    &fake_exp,  &fake_debug,      &fake_health, NULL,
};

const struct opd_factory *fake_lookup(enum opd_kind kind, const char *type)
{
    for (size_t i = 0; fakes[i]; i++) {
        if (fakes[i]->kind != kind)
            continue;
        if (strcmp(fakes[i]->type, type) == 0 ||
            (fakes[i]->alias && strcmp(fakes[i]->alias, type) == 0))
            return fakes[i];
    }
    return NULL;
}

const struct opd_factory *const *fake_list(void)
{
    return fakes;
}
