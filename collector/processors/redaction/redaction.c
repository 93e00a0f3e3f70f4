/* processor "redaction": rewrites each batch under the redaction policy (see
 * redaction.h). Fails closed: a batch that cannot be rewritten is dropped and counted,
 * never passed on unredacted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"
#include "redaction.h"

enum summary { SUMMARY_SILENT, SUMMARY_INFO, SUMMARY_DEBUG };

struct redaction {
    struct opd_component base;
    struct opd_component *next;
    struct opd_redaction_policy policy;
    enum summary summary;
    struct opd_metric *m_dropped_batches, *m_dropped_samples, *m_keys, *m_values, *m_symbols,
        *m_frames;
};

static int redaction_consume(struct opd_component *self, struct opd_batch *b)
{
    struct redaction *r = (struct redaction *)self;
    struct opd_redaction_counts cnt = {0};
    struct opd_batch *out = opd_redaction_rewrite(&r->policy, b, &cnt);
    int err;

    if (!out) {
        err = -errno;
        opd_metric_add(r->m_dropped_batches, 1);
        opd_metric_add(r->m_dropped_samples, (int64_t)opd_batch_sample_count(b));
        OPD_ERR(self->logname, "cannot redact a batch (%s): dropped, not passed on unredacted",
                strerror(errno));
        opd_batch_unref(b);
        return err ? err : -ENOMEM;
    }
    opd_batch_unref(b);
    opd_metric_add(r->m_keys, (int64_t)cnt.keys_dropped);
    opd_metric_add(r->m_values, (int64_t)cnt.values_masked);
    opd_metric_add(r->m_symbols, (int64_t)cnt.symbols_redacted);
    opd_metric_add(r->m_frames, (int64_t)cnt.frames_dropped);
    /* info: a line for each batch where something was redacted; debug: for every batch. */
    if (r->summary == SUMMARY_DEBUG ||
        (r->summary == SUMMARY_INFO &&
         cnt.keys_dropped + cnt.values_masked + cnt.symbols_redacted + cnt.frames_dropped))
        OPD_INFO(self->logname,
                 "redacted: %llu attributes dropped, %llu values masked, %llu names redacted, "
                 "%llu frames dropped",
                 (unsigned long long)cnt.keys_dropped, (unsigned long long)cnt.values_masked,
                 (unsigned long long)cnt.symbols_redacted, (unsigned long long)cnt.frames_dropped);
    return opd_component_consume(r->next, out);
}

static void redaction_destroy(struct opd_component *self)
{
    struct redaction *r = (struct redaction *)self;

    opd_redaction_policy_fini(&r->policy);
    opd_free(r);
}

static const struct opd_component_ops redaction_ops = {
    .consume = redaction_consume,
    .destroy = redaction_destroy,
};

static struct opd_metric *counter(const struct opd_create_params *params, const char *name,
                                  const char *help)
{
    char labels[256];

    snprintf(labels, sizeof(labels), "processor=\"%s\"", params->id);
    return opd_telemetry_metric(params->telemetry, OPD_METRIC_COUNTER, name, labels, help);
}

static struct opd_component *redaction_create(const struct opd_create_params *params,
                                              const void *cfgp)
{
    const struct opd_redaction_cfg *cfg = cfgp;
    struct redaction *r = opd_calloc(1, sizeof(*r));
    char err[512];
    int rc = -ENOMEM;

    if (!r)
        goto fail;
    r->base.ops = &redaction_ops;
    r->next = params->next;
    r->summary = !cfg->summary || strcmp(cfg->summary, "silent") == 0 ? SUMMARY_SILENT
                 : strcmp(cfg->summary, "info") == 0                  ? SUMMARY_INFO
                                                                      : SUMMARY_DEBUG;
    if ((rc = opd_redaction_policy_compile(cfg, &r->policy, err, sizeof(err)))) {
        if (rc == -EINVAL)
            OPD_ERR(params->logname, "%s", err);
        goto fail;
    }
    r->m_dropped_batches = counter(params, "otelprofd_redaction_dropped_batches",
                                   "Batches dropped because they could not be redacted.");
    r->m_dropped_samples =
        counter(params, "otelprofd_redaction_dropped_samples",
                "Samples in batches dropped because they could not be redacted.");
    r->m_keys = counter(params, "otelprofd_redaction_attributes_dropped",
                        "Attributes removed by the key rules.");
    r->m_values = counter(params, "otelprofd_redaction_values_masked",
                          "String attribute values masked or hashed.");
    r->m_symbols = counter(params, "otelprofd_redaction_symbols_redacted",
                           "Function, file and mapping names masked or hashed.");
    r->m_frames = counter(params, "otelprofd_redaction_frames_dropped",
                          "Frames removed by symbols.action drop_frames.");
    return &r->base;
fail:
    if (r)
        redaction_destroy(&r->base);
    errno = -rc;
    return NULL;
}

static int redaction_validate(const void *cfgp, char *err, size_t len)
{
    struct opd_redaction_policy p = {0};
    int rc = opd_redaction_policy_compile(cfgp, &p, err, len);

    opd_redaction_policy_fini(&p);
    return rc == -EINVAL ? rc : 0;
}

static const char *const hash_functions[] = {"none", "sha256", NULL};
static const char *const summaries[] = {"silent", "info", "debug", NULL};
static const char *const sym_actions[] = {"mask", "hash", "drop_frames", NULL};

static const struct opd_config_map symbols_map[] = {
    {OPD_CFG_STRLIST, "blocked_patterns", NULL, 0, 0,
     offsetof(struct opd_redaction_symbols_cfg, blocked_patterns),
     "Regexes (POSIX extended) on function, file and mapping names to redact"},
    {OPD_CFG_STRLIST, "allowed_patterns", NULL, 0, 0,
     offsetof(struct opd_redaction_symbols_cfg, allowed_patterns),
     "Names matching these are never redacted"},
    {OPD_CFG_ENUM, "action", "mask", 0, 0, offsetof(struct opd_redaction_symbols_cfg, action),
     "mask, hash (keyed, needs hash_salt_file) or drop_frames", .choices = sym_actions},
    {OPD_CFG_STRING, "mask", "[redacted]", 0, 0, offsetof(struct opd_redaction_symbols_cfg, mask),
     "Replacement for blocked names"},
    OPD_CFG_MAP_END,
};

const struct opd_config_map opd_redaction_config_map[] = {
    {OPD_CFG_BOOL, "allow_all_keys", "false", 0, 0,
     offsetof(struct opd_redaction_cfg, allow_all_keys),
     "Keep every attribute key; otherwise only allowed_keys (and ignored_keys) survive"},
    {OPD_CFG_STRLIST, "allowed_keys", NULL, 0, 0, offsetof(struct opd_redaction_cfg, allowed_keys),
     "Attribute keys kept (also the only way to export process command lines and "
     "environment variables)"},
    {OPD_CFG_STRLIST, "ignored_keys", NULL, 0, 0, offsetof(struct opd_redaction_cfg, ignored_keys),
     "Attribute keys kept untouched"},
    {OPD_CFG_STRLIST, "blocked_key_patterns", NULL, 0, 0,
     offsetof(struct opd_redaction_cfg, blocked_key_patterns),
     "Regexes on keys whose whole value is masked"},
    {OPD_CFG_STRLIST, "blocked_values", NULL, 0, 0,
     offsetof(struct opd_redaction_cfg, blocked_values),
     "Regexes; what they match in string values is masked"},
    {OPD_CFG_STRLIST, "allowed_values", NULL, 0, 0,
     offsetof(struct opd_redaction_cfg, allowed_values),
     "Regexes; values matching one are never masked"},
    {OPD_CFG_ENUM, "hash_function", "none", 0, 0, offsetof(struct opd_redaction_cfg, hash_function),
     "none (mask with ****) or sha256 (HMAC keyed with hash_salt_file)", .choices = hash_functions},
    {OPD_CFG_STRING, "hash_salt_file", NULL, 0, 0,
     offsetof(struct opd_redaction_cfg, hash_salt_file),
     "File holding the secret key of the hash (at least 16 bytes)"},
    {OPD_CFG_ENUM, "summary", "silent", 0, 0, offsetof(struct opd_redaction_cfg, summary),
     "silent, info or debug: how much is logged about what was redacted", .choices = summaries},
    {OPD_CFG_SECTION, "symbols", NULL, 0, 0, offsetof(struct opd_redaction_cfg, symbols),
     "Function, file and mapping names", .sub = symbols_map},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_redaction_processor_factory = {
    .type = "redaction",
    .kind = OPD_KIND_PROCESSOR,
    .description = "removes or masks attributes and symbol names; drops what it cannot redact",
    .config_map = opd_redaction_config_map,
    .config_size = sizeof(struct opd_redaction_cfg),
    .mutates_data = false, /* builds a new batch: the input is only read */
    .validate = redaction_validate,
    .create = redaction_create,
};
