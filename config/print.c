/* print-config: the effective configuration as YAML, every option of every component with
 * its default filled in, written through libyaml's emitter so quoting is always right.
 * '$' in strings is written as "$$" so that loading the output again gives the same
 * values instead of expanding them. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <yaml.h>

#include "collector/mem.h"
#include "config/config_internal.h"
#include "config/node.h"
#include "config/parse.h"

struct em {
    yaml_emitter_t e;
    int failed;
    int oom;
};

static void emit(struct em *m, yaml_event_t *ev, int ok)
{
    if (!ok) {
        /* Event constructors fail only for lack of memory. */
        m->failed = m->oom = 1;
        return;
    }
    if (m->failed) {
        yaml_event_delete(ev);
        return;
    }
    if (!yaml_emitter_emit(&m->e, ev))
        m->failed = 1;
}

static void plain(struct em *m, const char *s)
{
    yaml_event_t ev;

    emit(m, &ev,
         yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 0,
                                      YAML_PLAIN_SCALAR_STYLE));
}

/* A string: quoted when it would otherwise read back as something else (a null, a merge
 * key); in values (not keys, which are never expanded) '$' is doubled. */
static void text(struct em *m, const char *s, bool is_value)
{
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    size_t dollars = 0, len = strlen(s);
    yaml_event_t ev;
    char *esc;

    for (const char *p = s; is_value && *p; p++)
        dollars += *p == '$';
    esc = opd_malloc(len + dollars + 1);
    if (!esc) {
        m->failed = m->oom = 1;
        return;
    }
    for (size_t i = 0, o = 0; i <= len; i++) {
        esc[o++] = s[i];
        if (is_value && s[i] == '$')
            esc[o++] = '$';
    }
    /* A plain "<<" key would read back as a YAML merge key. */
    if (!len || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") ||
        (!is_value && !strcmp(s, "<<")))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    emit(m, &ev,
         yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)esc, (int)(len + dollars), 1,
                                      1, style));
    opd_free(esc);
}

static void string(struct em *m, const char *s)
{
    text(m, s, true);
}

static void key(struct em *m, const char *s)
{
    text(m, s, false);
}

static void map_start(struct em *m)
{
    yaml_event_t ev;

    emit(m, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(struct em *m)
{
    yaml_event_t ev;

    emit(m, &ev, yaml_mapping_end_event_initialize(&ev));
}

/* Empty collections are written in flow style ("[]", "{}"), which block style cannot. */
static void seq_start(struct em *m, size_t n)
{
    yaml_event_t ev;

    emit(m, &ev,
         yaml_sequence_start_event_initialize(
             &ev, NULL, NULL, 1, n ? YAML_BLOCK_SEQUENCE_STYLE : YAML_FLOW_SEQUENCE_STYLE));
}

static void seq_end(struct em *m)
{
    yaml_event_t ev;

    emit(m, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void empty_map(struct em *m)
{
    yaml_event_t ev;

    emit(m, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_MAPPING_STYLE));
    map_end(m);
}

static void strings(struct em *m, char *const *v, size_t n)
{
    seq_start(m, n);
    for (size_t i = 0; i < n; i++)
        string(m, v[i]);
    seq_end(m);
}

static void values(struct em *m, const struct opd_config_map *map, const void *cfg);

static void value(struct em *m, const struct opd_config_map *e, const void *cfg)
{
    const void *f = (const char *)cfg + e->offset;
    char buf[64];

    /* Secrets never leave the process through print-config: a set value prints as a
     * placeholder (every value, for a map such as headers). */
    if (e->secret && e->type == OPD_CFG_STRING && *(char *const *)f) {
        string(m, "[REDACTED]");
        return;
    }
    if (e->secret && e->type == OPD_CFG_STRMAP && ((const struct opd_strmap *)f)->n) {
        const struct opd_strmap *sm = f;

        map_start(m);
        for (size_t i = 0; i < sm->n; i++) {
            key(m, sm->keys[i]);
            string(m, "[REDACTED]");
        }
        map_end(m);
        return;
    }
    switch (e->type) {
    case OPD_CFG_BOOL:
        plain(m, *(const bool *)f ? "true" : "false");
        break;
    case OPD_CFG_INT:
        snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)f);
        plain(m, buf);
        break;
    case OPD_CFG_DOUBLE:
        plain(m, opd_format_double(*(const double *)f, buf, sizeof(buf)));
        break;
    case OPD_CFG_DURATION:
        plain(m, opd_format_duration(*(const int64_t *)f, buf, sizeof(buf)));
        break;
    case OPD_CFG_BYTES:
        plain(m, opd_format_bytes(*(const int64_t *)f, buf, sizeof(buf)));
        break;
    case OPD_CFG_STRING:
    case OPD_CFG_ENUM:
        if (*(char *const *)f)
            string(m, *(char *const *)f);
        else
            plain(m, "null");
        break;
    case OPD_CFG_STRLIST: {
        const struct opd_strlist *l = f;

        strings(m, l->v, l->n);
        break;
    }
    case OPD_CFG_STRMAP: {
        const struct opd_strmap *sm = f;

        if (!sm->n) {
            empty_map(m);
            break;
        }
        map_start(m);
        for (size_t i = 0; i < sm->n; i++) {
            key(m, sm->keys[i]);
            string(m, sm->values[i]);
        }
        map_end(m);
        break;
    }
    case OPD_CFG_SECTION:
        values(m, e->sub, f);
        break;
    case OPD_CFG_SECTIONS: {
        const struct opd_seclist *l = f;

        seq_start(m, l->n);
        for (size_t i = 0; i < l->n; i++)
            values(m, e->sub, (const char *)l->items + i * e->elem_size);
        seq_end(m);
        break;
    }
    case OPD_CFG_END:
        break;
    }
}

static void values(struct em *m, const struct opd_config_map *map, const void *cfg)
{
    if (!map || map->type == OPD_CFG_END) {
        empty_map(m);
        return;
    }
    map_start(m);
    for (const struct opd_config_map *e = map; e->type != OPD_CFG_END; e++) {
        plain(m, e->name);
        value(m, e, cfg);
    }
    map_end(m);
}

static void components(struct em *m, const struct opd_config *c, enum opd_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n_components; i++)
        n += c->components[i].kind == kind;
    if (!n)
        return;
    plain(m, opd_config_section_name(kind));
    map_start(m);
    for (size_t i = 0; i < c->n_components; i++) {
        const struct opd_component_cfg *cc = &c->components[i];

        if (cc->kind != kind)
            continue;
        key(m, cc->id);
        values(m, cc->factory->config_map, cc->cfg);
    }
    map_end(m);
}

static void service(struct em *m, const struct opd_service_cfg *s)
{
    struct opd_telemetry_cfg t = {
        .logs = {.level = s->log_level},
        .metrics = {.level = s->metrics_level, .address = s->metrics_address},
    };

    plain(m, "service");
    map_start(m);
    if (s->n_extensions) {
        plain(m, "extensions");
        strings(m, s->extensions, s->n_extensions);
    }
    plain(m, "pipelines");
    map_start(m);
    for (size_t i = 0; i < s->n_pipelines; i++) {
        const struct opd_pipeline_cfg *p = &s->pipelines[i];

        key(m, p->name);
        map_start(m);
        plain(m, "receivers");
        strings(m, p->receivers, p->n_receivers);
        plain(m, "processors");
        strings(m, p->processors, p->n_processors);
        plain(m, "exporters");
        strings(m, p->exporters, p->n_exporters);
        map_end(m);
    }
    map_end(m);
    plain(m, "telemetry");
    values(m, opd_telemetry_config_map, &t);
    map_end(m);
}

int opd_config_print(const struct opd_config *c, FILE *out)
{
    static const enum opd_kind kinds[] = {OPD_KIND_RECEIVER, OPD_KIND_PROCESSOR, OPD_KIND_EXPORTER,
                                          OPD_KIND_EXTENSION};
    struct em m = {0};
    yaml_event_t ev;
    int rc;

    if (!yaml_emitter_initialize(&m.e))
        return -ENOMEM;
    yaml_emitter_set_output_file(&m.e, out);
    yaml_emitter_set_unicode(&m.e, 1);
    yaml_emitter_set_width(&m.e, 100);
    emit(&m, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
    emit(&m, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
    map_start(&m);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        components(&m, c, kinds[k]);
    service(&m, &c->service);
    map_end(&m);
    emit(&m, &ev, yaml_document_end_event_initialize(&ev, 1));
    emit(&m, &ev, yaml_stream_end_event_initialize(&ev));
    if (!m.failed && !yaml_emitter_flush(&m.e))
        m.failed = 1;
    rc = !m.failed ? 0 : (m.oom || m.e.error == YAML_MEMORY_ERROR) ? -ENOMEM : -EIO;
    yaml_emitter_delete(&m.e);
    if (!rc && (fflush(out) || ferror(out)))
        rc = -EIO;
    return rc;
}
