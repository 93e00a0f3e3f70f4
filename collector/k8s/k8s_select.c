/* Pod selection by namespace and label selector (see k8s_select.h). */
#include "collector/k8s/k8s_select.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"

void opd_k8s_selector_fini(struct opd_k8s_selector *sel)
{
    for (size_t i = 0; i < sel->n; i++) {
        opd_free(sel->terms[i].key);
        opd_free(sel->terms[i].value);
    }
    opd_free(sel->terms);
    memset(sel, 0, sizeof(*sel));
}

static char *trimmed(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return opd_strndup(s, n);
}

static bool valid_key(const char *k)
{
    if (!k[0])
        return false;
    for (; *k; k++)
        if (!isalnum((unsigned char)*k) && !strchr("-_./", *k))
            return false;
    return true;
}

static int parse_term(struct opd_k8s_sel_term *t, const char *s, size_t n, char *err, size_t errlen)
{
    char *text = trimmed(s, n), *op;
    int rc = -EINVAL;

    if (!text)
        return -ENOMEM;
    if ((op = strstr(text, "!="))) {
        t->op = OPD_K8S_SEL_NE;
        t->key = trimmed(text, (size_t)(op - text));
        t->value = trimmed(op + 2, strlen(op + 2));
    } else if ((op = strchr(text, '='))) {
        size_t skip = op[1] == '=' ? 2 : 1;

        t->op = OPD_K8S_SEL_EQ;
        t->key = trimmed(text, (size_t)(op - text));
        t->value = trimmed(op + skip, strlen(op + skip));
    } else if (text[0] == '!') {
        t->op = OPD_K8S_SEL_ABSENT;
        t->key = trimmed(text + 1, strlen(text + 1));
    } else {
        t->op = OPD_K8S_SEL_EXISTS;
        t->key = opd_strdup(text);
    }
    if (!t->key || ((t->op == OPD_K8S_SEL_EQ || t->op == OPD_K8S_SEL_NE) && !t->value)) {
        rc = -ENOMEM;
        goto out;
    }
    if (!valid_key(t->key) || (t->value && strpbrk(t->value, "=!, ()"))) {
        snprintf(err, errlen,
                 "pod_selector: cannot read \"%s\" (want key=value, key!=value, "
                 "key or !key, comma separated)",
                 text);
        goto out;
    }
    rc = 0;
out:
    opd_free(text);
    return rc;
}

int opd_k8s_selector_parse(const char *text, struct opd_k8s_selector *sel, char *err, size_t errlen)
{
    const char *p = text;
    size_t cap = 1;
    int rc;

    if (!text || !text[0])
        return 0;
    for (const char *q = text; *q; q++)
        cap += *q == ',';
    sel->terms = opd_calloc(cap, sizeof(*sel->terms));
    if (!sel->terms)
        return -ENOMEM;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        if ((rc = parse_term(&sel->terms[sel->n++], p, n, err, errlen)))
            return rc;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

bool opd_k8s_selector_matches(const struct opd_k8s_selector *sel, const struct opd_k8s_object *o)
{
    for (size_t i = 0; i < sel->n; i++) {
        const struct opd_k8s_sel_term *t = &sel->terms[i];
        const char *v = opd_k8s_label(o, t->key);

        switch (t->op) {
        case OPD_K8S_SEL_EQ:
            if (!v || strcmp(v, t->value) != 0)
                return false;
            break;
        case OPD_K8S_SEL_NE:
            if (v && strcmp(v, t->value) == 0)
                return false;
            break;
        case OPD_K8S_SEL_EXISTS:
            if (!v)
                return false;
            break;
        case OPD_K8S_SEL_ABSENT:
            if (v)
                return false;
            break;
        }
    }
    return true;
}

void opd_k8s_uids_free(char **uids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        opd_free(uids[i]);
    opd_free(uids);
}

struct collect {
    const char *const *ns;
    size_t n_ns;
    const struct opd_k8s_selector *sel;
    char **v;
    size_t n, cap;
    int err;
};

static void collect_one(const struct opd_k8s_object *o, void *arg)
{
    struct collect *c = arg;
    bool in_ns = c->n_ns == 0;
    char **slot;

    for (size_t i = 0; !in_ns && i < c->n_ns; i++)
        in_ns = strcmp(o->ns, c->ns[i]) == 0;
    if (c->err || !in_ns || (c->sel && !opd_k8s_selector_matches(c->sel, o)))
        return;
    slot = OPD_VEC_PUSH_SLOT(c->v, c->n, c->cap);
    if (!slot || !(*slot = opd_strdup(o->uid))) {
        if (slot)
            c->n--;
        c->err = -ENOMEM;
    }
}

int opd_k8s_select_pods(struct opd_k8s_cache *c, const char *const *namespaces, size_t n_ns,
                        const struct opd_k8s_selector *sel, char ***uids, size_t *n)
{
    struct collect col = {.ns = namespaces, .n_ns = n_ns, .sel = sel};

    opd_k8s_cache_foreach(c, OPD_K8S_POD, collect_one, &col);
    if (col.err) {
        opd_k8s_uids_free(col.v, col.n);
        *uids = NULL;
        *n = 0;
        return col.err;
    }
    *uids = col.v;
    *n = col.n;
    return 0;
}
