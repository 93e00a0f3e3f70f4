#include "folded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"
#include "otlp/profiles.h"

#define STACK_BUF (64 * 1024)

uint64_t opd_sample_weight(const struct opd_sample *s)
{
    if (s->n_values > 0)
        return s->values[0] > 0 ? (uint64_t)s->values[0] : 0;
    return s->n_timestamps;
}

static const char *process_name(const struct opd_resource *r)
{
    static const char *const keys[] = {"process.executable.name", "service.name",
                                       "process.command", NULL};

    for (size_t i = 0; keys[i]; i++) {
        const struct opd_value *v = opd_attrs_get(&r->attrs, keys[i]);
        if (v && v->type == OPD_VAL_STR && v->u.str[0])
            return v->u.str;
    }
    return "unknown";
}

/* Appends s, with the separators of the format (';' and newline) made harmless. */
static int append(char *buf, size_t cap, size_t *len, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (*len + 1 >= cap) {
            buf[*len] = '\0'; /* a truncated stack is still a string */
            return -ENOSPC;
        }
        if (c == ';')
            c = ':';
        else if (c == '\n' || c == '\r')
            c = ' ';
        buf[(*len)++] = c;
    }
    buf[*len] = '\0';
    return 0;
}

static bool location_is_kernel(const struct opd_dict *d, const struct opd_location *l)
{
    for (size_t i = 0; i < l->n_attr; i++) {
        const struct opd_attribute *a;
        if (l->attr_indices[i] <= 0 || (size_t)l->attr_indices[i] >= d->n_attributes)
            continue;
        a = &d->attributes[l->attr_indices[i]];
        if (strcmp(opd_dict_str(d, a->key_strindex), "profile.frame.type") == 0 &&
            a->value.type == OPD_VAL_STR && strcmp(a->value.u.str, "kernel") == 0)
            return true;
    }
    return false;
}

static int append_frame(const struct opd_dict *d, const struct opd_location *l,
                        const struct opd_line *ln, char *buf, size_t cap, size_t *len)
{
    char tmp[96];
    const char *name = NULL;
    int err;

    if (ln && ln->function_index > 0 && (size_t)ln->function_index < d->n_functions) {
        const struct opd_function *f = &d->functions[ln->function_index];
        name = opd_dict_str(d, f->name_strindex);
        if (!name[0])
            name = opd_dict_str(d, f->system_name_strindex);
        if (!name[0])
            name = NULL;
    }
    if (!name) {
        /* Unsymbolized: keep what a backend would need, file and address. */
        const char *file = "";
        if (l->mapping_index > 0 && (size_t)l->mapping_index < d->n_mappings)
            file = opd_dict_str(d, d->mappings[l->mapping_index].filename_strindex);
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        snprintf(tmp, sizeof(tmp), "%.48s%s0x%" PRIx64, base, base[0] ? "+" : "", l->address);
        name = tmp;
    }
    /* The separator itself goes in raw; only names are escaped. */
    if (*len + 1 >= cap)
        return -ENOSPC;
    buf[(*len)++] = ';';
    buf[*len] = '\0';
    err = append(buf, cap, len, name);
    if (!err && location_is_kernel(d, l))
        err = append(buf, cap, len, "_[k]");
    return err;
}

int opd_folded_stack(const struct opd_batch *b, const struct opd_resource *r,
                     const struct opd_sample *s, char *buf, size_t cap)
{
    const struct opd_dict *d = &b->dict;
    const struct opd_stack *st;
    size_t len = 0;
    int err;

    buf[0] = '\0';
    err = append(buf, cap, &len, process_name(r));
    if (err || s->stack_index <= 0 || (size_t)s->stack_index >= d->n_stacks)
        return err ? err : (int)len;
    st = &d->stacks[s->stack_index];
    /* Stacks are leaf first; folded lines are root first. Within a location the last
     * line is the caller and the first the innermost inlined frame. */
    for (size_t i = st->n; i-- > 0 && !err;) {
        int32_t li = st->location_indices[i];
        const struct opd_location *l;

        if (li <= 0 || (size_t)li >= d->n_locations)
            continue;
        l = &d->locations[li];
        if (l->n_lines == 0)
            err = append_frame(d, l, NULL, buf, cap, &len);
        for (size_t k = l->n_lines; k-- > 0 && !err;)
            err = append_frame(d, l, &l->lines[k], buf, cap, &len);
    }
    return err ? err : (int)len;
}

static int cmp_stack(const void *a, const void *b)
{
    return strcmp(((const struct opd_folded_entry *)a)->stack,
                  ((const struct opd_folded_entry *)b)->stack);
}

static int cmp_count(const void *a, const void *b)
{
    const struct opd_folded_entry *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->stack, y->stack);
}

void opd_folded_normalize(struct opd_folded *f)
{
    size_t w = 0;

    if (f->n == 0)
        return;
    qsort(f->v, f->n, sizeof(*f->v), cmp_stack);
    for (size_t i = 1; i < f->n; i++) {
        if (strcmp(f->v[i].stack, f->v[w].stack) == 0) {
            f->v[w].count += f->v[i].count;
            opd_free(f->v[i].stack);
        } else {
            f->v[++w] = f->v[i];
        }
    }
    f->n = w + 1;
    qsort(f->v, f->n, sizeof(*f->v), cmp_count);
}

int opd_folded_collect(struct opd_folded *f, const struct opd_batch *b)
{
    char *buf = opd_malloc(STACK_BUF);
    int err = 0;

    if (!buf)
        return -ENOMEM;
    for (size_t ri = 0; ri < b->n_resources && !err; ri++) {
        const struct opd_resource *r = &b->resources[ri];
        for (size_t si = 0; si < r->n_scopes && !err; si++)
            for (size_t pi = 0; pi < r->scopes[si].n_profiles && !err; pi++) {
                const struct opd_profile *p = &r->scopes[si].profiles[pi];

                /* One folded file holds one kind of weight: sample counts. Off-CPU
                 * nanoseconds and allocations would not add up with them. */
                if (!opd_profile_counts_samples(b, p))
                    continue;
                for (size_t k = 0; k < p->n_samples && !err; k++) {
                    struct opd_folded_entry *e;
                    uint64_t w = opd_sample_weight(&p->samples[k]);

                    if (w == 0)
                        continue;
                    /* A stack too deep for the buffer keeps its root-most part. */
                    opd_folded_stack(b, r, &p->samples[k], buf, STACK_BUF);
                    e = OPD_VEC_PUSH_SLOT(f->v, f->n, f->cap);
                    if (!e) {
                        err = -ENOMEM;
                        break;
                    }
                    e->count = w;
                    e->stack = opd_strdup(buf);
                    if (!e->stack) {
                        f->n--;
                        err = -ENOMEM;
                    }
                }
            }
    }
    opd_free(buf);
    if (!err)
        opd_folded_normalize(f);
    return err;
}

int opd_folded_write(const struct opd_folded *f, FILE *out)
{
    for (size_t i = 0; i < f->n; i++)
        fprintf(out, "%s %" PRIu64 "\n", f->v[i].stack, f->v[i].count);
    return ferror(out) ? -EIO : 0;
}

void opd_folded_fini(struct opd_folded *f)
{
    for (size_t i = 0; i < f->n; i++)
        opd_free(f->v[i].stack);
    opd_free(f->v);
    memset(f, 0, sizeof(*f));
}
