/* exporter "debug": logs what passes through, as the Collector's debug exporter does.
 * basic: counts per batch; normal: plus each resource and its top stacks; detailed: plus
 * every sample with its attributes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "collector/component.h"
#include "collector/engine/folded.h"
#include "collector/engine/service.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/profiles.h"

#define NORMAL_TOP_STACKS 5

struct debug_cfg {
    char *verbosity;
    int64_t sampling_initial;
    int64_t sampling_thereafter;
};

enum verbosity { V_BASIC, V_NORMAL, V_DETAILED };

struct debug_exporter {
    struct opd_component base;
    enum verbosity verbosity;
    int64_t initial, thereafter;
    pthread_mutex_t lock;
    uint64_t second;       /* current second of the log sampler */
    int64_t seen_in_second; /* batches seen in it */
    struct opd_metric *sent;
};

static const char *const verbosities[] = {"basic", "normal", "detailed", NULL};

/* The Collector's log sampling: the first `initial` batches of each second are logged,
 * then every `thereafter`-th. */
static bool sampled(struct debug_exporter *x)
{
    uint64_t sec = opd_now_ns() / 1000000000ull;
    int64_t n;

    pthread_mutex_lock(&x->lock);
    if (sec != x->second) {
        x->second = sec;
        x->seen_in_second = 0;
    }
    n = ++x->seen_in_second;
    pthread_mutex_unlock(&x->lock);
    return n <= x->initial || (x->thereafter > 0 && (n - x->initial) % x->thereafter == 0);
}

static void attrs_text(const struct opd_attrs *a, char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < a->n && len < cap; i++) {
        const struct opd_value *v = &a->v[i].value;
        int w;
        if (v->type == OPD_VAL_STR)
            w = snprintf(buf + len, cap - len, "%s%s=%s", i ? " " : "", a->v[i].key, v->u.str);
        else if (v->type == OPD_VAL_INT)
            w = snprintf(buf + len, cap - len, "%s%s=%" PRId64, i ? " " : "", a->v[i].key,
                         v->u.i);
        else if (v->type == OPD_VAL_BOOL)
            w = snprintf(buf + len, cap - len, "%s%s=%s", i ? " " : "", a->v[i].key,
                         v->u.b ? "true" : "false");
        else if (v->type == OPD_VAL_DOUBLE)
            w = snprintf(buf + len, cap - len, "%s%s=%g", i ? " " : "", a->v[i].key, v->u.d);
        else
            w = snprintf(buf + len, cap - len, "%s%s=<%d>", i ? " " : "", a->v[i].key,
                         (int)v->type);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static void sample_attrs_text(const struct opd_dict *d, const struct opd_sample *s, char *buf,
                              size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < s->n_attr && len < cap; i++) {
        const struct opd_attribute *a;
        int w;
        if (s->attr_indices[i] <= 0 || (size_t)s->attr_indices[i] >= d->n_attributes)
            continue;
        a = &d->attributes[s->attr_indices[i]];
        if (a->value.type == OPD_VAL_INT)
            w = snprintf(buf + len, cap - len, " %s=%" PRId64, opd_dict_str(d, a->key_strindex),
                         a->value.u.i);
        else
            w = snprintf(buf + len, cap - len, " %s=%s", opd_dict_str(d, a->key_strindex),
                         a->value.type == OPD_VAL_STR ? a->value.u.str : "?");
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static void log_resource(struct debug_exporter *x, const struct opd_batch *b, size_t ri)
{
    const struct opd_resource *r = &b->resources[ri];
    struct opd_batch view = *b; /* a one-resource view for folding */
    struct opd_folded f = {0};
    char attrs[2048], stack[4096], sattrs[1024];

    attrs_text(&r->attrs, attrs, sizeof(attrs));
    OPD_INFO(x->base.logname, "ResourceProfiles #%zu: %s", ri, attrs);
    for (size_t si = 0; si < r->n_scopes; si++)
        for (size_t pi = 0; pi < r->scopes[si].n_profiles; pi++) {
            const struct opd_profile *p = &r->scopes[si].profiles[pi];
            OPD_INFO(x->base.logname, "  Profile #%zu %s/%s period %s/%s=%" PRId64
                     " samples=%zu time=%" PRIu64 " duration=%" PRIu64, pi,
                     opd_dict_str(&b->dict, p->sample_type.type_strindex),
                     opd_dict_str(&b->dict, p->sample_type.unit_strindex),
                     opd_dict_str(&b->dict, p->period_type.type_strindex),
                     opd_dict_str(&b->dict, p->period_type.unit_strindex), p->period,
                     p->n_samples, p->time_unix_nano, p->duration_nano);
            if (x->verbosity != V_DETAILED)
                continue;
            for (size_t k = 0; k < p->n_samples; k++) {
                const struct opd_sample *s = &p->samples[k];
                opd_folded_stack(b, r, s, stack, sizeof(stack));
                sample_attrs_text(&b->dict, s, sattrs, sizeof(sattrs));
                OPD_INFO(x->base.logname, "    Sample #%zu weight=%" PRIu64 "%s stack=%s", k,
                         opd_sample_weight(s), sattrs, stack);
            }
        }
    view.resources = (struct opd_resource *)r;
    view.n_resources = 1;
    if (opd_folded_collect(&f, &view) == 0)
        for (size_t i = 0; i < f.n && i < NORMAL_TOP_STACKS; i++)
            OPD_INFO(x->base.logname, "  top %zu: %s %" PRIu64, i + 1, f.v[i].stack,
                     f.v[i].count);
    opd_folded_fini(&f);
}

static int debug_consume(struct opd_component *self, struct opd_batch *b)
{
    struct debug_exporter *x = (struct debug_exporter *)self;

    /* Logged or sampled out, the samples reached their destination: count them, so that
     * the loss accounting closes for this exporter too. */
    opd_metric_add(x->sent, (int64_t)opd_batch_sample_count(b));
    if (sampled(x)) {
        OPD_INFO(self->logname,
                 "Profiles: resource profiles=%zu profiles=%zu samples=%" PRIu64
                 " dictionary: strings=%zu functions=%zu locations=%zu stacks=%zu",
                 b->n_resources, opd_batch_profile_count(b), opd_batch_sample_count(b),
                 b->dict.n_strings, b->dict.n_functions, b->dict.n_locations, b->dict.n_stacks);
        if (x->verbosity != V_BASIC)
            for (size_t i = 0; i < b->n_resources; i++)
                log_resource(x, b, i);
    }
    opd_batch_unref(b);
    return 0;
}

static void debug_destroy(struct opd_component *self)
{
    struct debug_exporter *x = (struct debug_exporter *)self;

    pthread_mutex_destroy(&x->lock);
    opd_free(x);
}

static const struct opd_component_ops debug_ops = {
    .consume = debug_consume,
    .destroy = debug_destroy,
};

static struct opd_component *debug_create(const struct opd_create_params *p, const void *cfgp)
{
    const struct debug_cfg *cfg = cfgp;
    struct debug_exporter *x = opd_calloc(1, sizeof(*x));
    char labels[512];

    if (!x) {
        errno = ENOMEM;
        return NULL;
    }
    x->base.ops = &debug_ops;
    pthread_mutex_init(&x->lock, NULL);
    x->verbosity = strcmp(cfg->verbosity, "detailed") == 0 ? V_DETAILED
                   : strcmp(cfg->verbosity, "normal") == 0 ? V_NORMAL
                                                           : V_BASIC;
    snprintf(labels, sizeof(labels), "exporter=\"%s\"", p->id);
    x->sent = opd_telemetry_metric(p->telemetry, OPD_METRIC_COUNTER,
                                   "otelcol_exporter_sent_profile_samples", labels,
                                   "Profile samples successfully sent to destination.");
    x->initial = cfg->sampling_initial;
    x->thereafter = cfg->sampling_thereafter;
    return &x->base;
}

static const struct opd_config_map debug_map[] = {
    {OPD_CFG_ENUM, "verbosity", "basic", 0, 0, offsetof(struct debug_cfg, verbosity),
     "basic (counts), normal (plus top stacks per resource) or detailed (every sample)",
     .choices = verbosities},
    {OPD_CFG_INT, "sampling_initial", "2", 1, 1000000,
     offsetof(struct debug_cfg, sampling_initial), "Batches logged each second before sampling"},
    {OPD_CFG_INT, "sampling_thereafter", "1", 0, 1000000,
     offsetof(struct debug_cfg, sampling_thereafter),
     "After the initial ones, log every N-th batch of the second"},
    OPD_CFG_MAP_END,
};

const struct opd_factory opd_debug_exporter_factory = {
    .type = "debug",
    .kind = OPD_KIND_EXPORTER,
    .description = "logs counts, top stacks or every sample",
    .config_map = debug_map,
    .config_size = sizeof(struct debug_cfg),
    .create = debug_create,
};
