/* Human-readable listing of a config map: what `otelprofd components` and docs show for
 * each option (type, default, bounds, choices, description), from the map itself so it
 * never drifts from what the binder accepts. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "config/config.h"
#include "config/parse.h"

static const char *type_name(enum opd_cfg_type t)
{
    switch (t) {
    case OPD_CFG_BOOL:
        return "bool";
    case OPD_CFG_INT:
        return "int";
    case OPD_CFG_DOUBLE:
        return "number";
    case OPD_CFG_DURATION:
        return "duration";
    case OPD_CFG_BYTES:
        return "bytes";
    case OPD_CFG_STRING:
        return "string";
    case OPD_CFG_ENUM:
        return "enum";
    case OPD_CFG_STRLIST:
        return "list of strings";
    case OPD_CFG_STRMAP:
        return "map of strings";
    case OPD_CFG_SECTION:
        return "section";
    case OPD_CFG_SECTIONS:
        return "list of sections";
    case OPD_CFG_END:
        break;
    }
    return "?";
}

/* Writes v of an entry's type in its config syntax. */
static const char *bound_text(const struct opd_config_map *e, int64_t v, char *buf, size_t len)
{
    if (e->type == OPD_CFG_DURATION)
        return opd_format_duration(v, buf, len);
    if (e->type == OPD_CFG_BYTES)
        return opd_format_bytes(v, buf, len);
    snprintf(buf, len, "%" PRId64, v);
    return buf;
}

int opd_config_map_describe(const struct opd_config_map *map, FILE *out, int indent)
{
    for (const struct opd_config_map *e = map; e && e->type != OPD_CFG_END; e++) {
        char lo[40], hi[40];

        fprintf(out, "%*s%s: %s", indent, "", e->name, type_name(e->type));
        if (e->def && e->type != OPD_CFG_SECTION)
            fprintf(out, ", default %s", e->def);
        if ((e->min || e->max) && (e->type == OPD_CFG_INT || e->type == OPD_CFG_DOUBLE ||
                                   e->type == OPD_CFG_DURATION || e->type == OPD_CFG_BYTES))
            fprintf(out, ", range [%s, %s]", bound_text(e, e->min, lo, sizeof(lo)),
                    bound_text(e, e->max, hi, sizeof(hi)));
        if (e->type == OPD_CFG_ENUM && e->choices) {
            fprintf(out, ", one of:");
            for (size_t i = 0; e->choices[i]; i++)
                fprintf(out, "%s %s", i ? "," : "", e->choices[i]);
        }
        if (e->desc && e->desc[0])
            fprintf(out, ". %s", e->desc);
        fputc('\n', out);
        if (e->type == OPD_CFG_SECTION || e->type == OPD_CFG_SECTIONS)
            if (opd_config_map_describe(e->sub, out, indent + 2))
                return -EIO;
    }
    return ferror(out) ? -EIO : 0;
}
