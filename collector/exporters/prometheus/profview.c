#include "collector/exporters/prometheus/profview.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "otlp/profiles.h"

static const char *const kind_names[OPD_PV_KINDS] = {"native", "kernel", "go", "interpreted",
                                                     "unknown"};

const char *opd_pv_kind_name(enum opd_pv_kind k)
{
    return k < OPD_PV_KINDS ? kind_names[k] : "unknown";
}

bool opd_pv_profile_cpu(const struct opd_batch *b, const struct opd_profile *p,
                        uint64_t *ns_per_unit)
{
    const struct opd_dict *d = &b->dict;
    const char *st = opd_dict_str(d, p->sample_type.type_strindex);
    const char *su = opd_dict_str(d, p->sample_type.unit_strindex);
    const char *pt = opd_dict_str(d, p->period_type.type_strindex);
    const char *pu = opd_dict_str(d, p->period_type.unit_strindex);

    if (strcmp(st, "off_cpu") == 0 || strcmp(st, "events") == 0)
        return false;
    if (strcmp(su, "nanoseconds") == 0 && strcmp(st, "cpu") == 0) {
        *ns_per_unit = 1;
        return true;
    }
    if (strcmp(pt, "cpu") == 0 && strcmp(pu, "nanoseconds") == 0 && p->period > 0) {
        *ns_per_unit = (uint64_t)p->period;
        return true;
    }
    return false;
}

enum opd_pv_kind opd_pv_location_kind(const struct opd_dict *d, const struct opd_location *l)
{
    static const char *const interpreted[] = {"cpython", "python", "php",  "ruby",   "perl", "v8js",
                                              "jvm",     "dotnet", "beam", "luajit", NULL};

    for (size_t i = 0; i < l->n_attr; i++) {
        const struct opd_attribute *a;
        const char *v;

        if (l->attr_indices[i] <= 0 || (size_t)l->attr_indices[i] >= d->n_attributes)
            continue;
        a = &d->attributes[l->attr_indices[i]];
        if (strcmp(opd_dict_str(d, a->key_strindex), "profile.frame.type") != 0 ||
            a->value.type != OPD_VAL_STR || !a->value.u.str)
            continue;
        v = a->value.u.str;
        if (strcmp(v, "kernel") == 0)
            return OPD_PV_KERNEL;
        if (strcmp(v, "native") == 0)
            return OPD_PV_NATIVE;
        if (strcmp(v, "go") == 0)
            return OPD_PV_GO;
        for (size_t k = 0; interpreted[k]; k++)
            if (strcmp(v, interpreted[k]) == 0)
                return OPD_PV_INTERPRETED;
        return OPD_PV_UNKNOWN;
    }
    /* No type: native is what an unsymbolized or plain ELF frame is. */
    return OPD_PV_NATIVE;
}

size_t opd_pv_location_frames(const struct opd_location *l)
{
    return l->n_lines ? l->n_lines : 1;
}

const char *opd_pv_frame_name(const struct opd_dict *d, const struct opd_location *l, size_t k,
                              char *buf, size_t cap)
{
    const char *name = "";

    if (k < l->n_lines) {
        int32_t fi = l->lines[k].function_index;
        if (fi > 0 && (size_t)fi < d->n_functions) {
            const struct opd_function *f = &d->functions[fi];
            name = opd_dict_str(d, f->name_strindex);
            if (!name[0])
                name = opd_dict_str(d, f->system_name_strindex);
        }
    }
    if (name[0]) {
        snprintf(buf, cap, "%s", name);
    } else {
        const char *file = "", *base;
        if (l->mapping_index > 0 && (size_t)l->mapping_index < d->n_mappings)
            file = opd_dict_str(d, d->mappings[l->mapping_index].filename_strindex);
        base = strrchr(file, '/');
        base = base ? base + 1 : file;
        snprintf(buf, cap, "%.64s%s0x%" PRIx64, base, base[0] ? "+" : "", l->address);
    }
    return buf;
}

const char *opd_pv_leaf_name(const struct opd_batch *b, const struct opd_sample *s, char *buf,
                             size_t cap)
{
    const struct opd_dict *d = &b->dict;
    const struct opd_stack *st;
    int32_t li;

    if (s->stack_index <= 0 || (size_t)s->stack_index >= d->n_stacks)
        goto unknown;
    st = &d->stacks[s->stack_index];
    if (st->n == 0)
        goto unknown;
    li = st->location_indices[0];
    if (li <= 0 || (size_t)li >= d->n_locations)
        goto unknown;
    return opd_pv_frame_name(d, &d->locations[li], 0, buf, cap);
unknown:
    snprintf(buf, cap, "[unknown]");
    return buf;
}

const char *opd_pv_resource_str(const struct opd_resource *r, const char *key)
{
    const struct opd_value *v = opd_attrs_get(&r->attrs, key);

    return v && v->type == OPD_VAL_STR && v->u.str && v->u.str[0] ? v->u.str : NULL;
}

const char *opd_pv_team(const struct opd_resource *r)
{
    const char *t = opd_pv_resource_str(r, "team.name");

    return t ? t : opd_pv_resource_str(r, "team");
}

const char *opd_pv_service_name(const struct opd_resource *r, char *buf, size_t cap)
{
    const char *s = opd_pv_resource_str(r, "service.name");
    const char *exe;

    if (s) {
        snprintf(buf, cap, "%s", s);
        return buf;
    }
    exe = opd_pv_resource_str(r, "process.executable.name");
    snprintf(buf, cap, "unknown_service%s%s", exe ? ":" : "", exe ? exe : "");
    return buf;
}
