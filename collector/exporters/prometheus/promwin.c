#include "collector/exporters/prometheus/promwin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/mem.h"

#define OTHER "other"
#define SEP   '\x1f' /* joins the four label values into one key */

struct series {
    char *key;        /* "service\x1fns\x1fteam\x1ffunction" */
    const char *l[4]; /* the four values, NUL-terminated copies after the key */
    double *v;        /* one sum per slot */
    uint64_t *tag;    /* the epoch each slot's sum belongs to */
    uint64_t last;    /* epoch of the latest sample */
    double sum;       /* filled by write */
    uint64_t hash;    /* of key */
};

struct opd_promwin {
    uint64_t slot_ns;
    size_t n_slots, max_series;
    uint64_t epoch; /* slot number of the latest add or write */
    bool have_epoch;
    struct series *s;
    size_t n, cap;
    int32_t *index; /* open addressing over s; -1 = empty; rebuilt after a sweep */
    size_t index_cap;
    double overflow;
};

static uint64_t hash_key(const char *k)
{
    uint64_t h = 1469598103934665603ull;

    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    /* Final avalanche (MurmurHash3 fmix64): the table indexes by the low bits. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int index_rebuild(struct opd_promwin *w)
{
    size_t need = 16;
    int32_t *ix;

    while (need < (w->n + 1) * 2)
        need *= 2;
    /* Never shrink: series come and go with processes, and a table that follows them
     * down would be rebuilt again on the way up. */
    if (need > w->index_cap) {
        ix = opd_malloc(need * sizeof(*ix));
        if (!ix)
            return -ENOMEM;
        opd_free(w->index);
        w->index = ix;
        w->index_cap = need;
    }
    memset(w->index, 0xff, w->index_cap * sizeof(*w->index));
    for (size_t i = 0; i < w->n; i++) {
        size_t h = (size_t)w->s[i].hash & (w->index_cap - 1);
        while (w->index[h] >= 0)
            h = (h + 1) & (w->index_cap - 1);
        w->index[h] = (int32_t)i;
    }
    return 0;
}

struct opd_promwin *opd_promwin_create(uint64_t window_ns, size_t n_slots, size_t max_series)
{
    struct opd_promwin *w;

    if (n_slots == 0 || window_ns < n_slots || max_series == 0 || max_series > INT32_MAX / 4) {
        errno = EINVAL;
        return NULL;
    }
    w = opd_calloc(1, sizeof(*w));
    if (!w || index_rebuild(w)) {
        opd_free(w);
        errno = ENOMEM;
        return NULL;
    }
    w->slot_ns = window_ns / n_slots;
    w->n_slots = n_slots;
    w->max_series = max_series;
    return w;
}

static void series_free(struct series *s)
{
    opd_free(s->key);
    opd_free(s->v);
}

void opd_promwin_destroy(struct opd_promwin *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        series_free(&w->s[i]);
    opd_free(w->s);
    opd_free(w->index);
    opd_free(w);
}

/* Moves the window's clock to now. Slots are cleared lazily: each slot of a series
 * carries the epoch it holds, and a slot from an older turn of the ring counts as empty. */
static void advance(struct opd_promwin *w, uint64_t now_ns)
{
    uint64_t e = now_ns / w->slot_ns;

    if (!w->have_epoch || e > w->epoch) {
        w->epoch = e;
        w->have_epoch = true;
    }
}

/* Whether slot k of s still lies inside the window. */
static bool slot_live(const struct opd_promwin *w, const struct series *s, size_t k)
{
    return s->tag[k] + w->n_slots > w->epoch && s->tag[k] <= w->epoch;
}

/* Drops the series the window has left entirely (no sample in its last n_slots slots). */
static void sweep(struct opd_promwin *w)
{
    size_t kept = 0;

    for (size_t i = 0; i < w->n; i++) {
        if (w->s[i].last + w->n_slots > w->epoch)
            w->s[kept++] = w->s[i];
        else
            series_free(&w->s[i]);
    }
    if (kept != w->n) {
        w->n = kept;
        index_rebuild(w); /* never grows here, so it cannot fail */
    }
}

static struct series *lookup(struct opd_promwin *w, const char *key, uint64_t hash)
{
    size_t h = (size_t)hash & (w->index_cap - 1);

    while (w->index[h] >= 0) {
        struct series *s = &w->s[w->index[h]];
        if (s->hash == hash && strcmp(s->key, key) == 0)
            return s;
        h = (h + 1) & (w->index_cap - 1);
    }
    return NULL;
}

/* Builds the key of l (with function replaced by fn) into a new buffer. */
static char *make_key(const struct opd_promwin_labels *l, const char *fn)
{
    const char *parts[4] = {l->service_name ? l->service_name : "",
                            l->k8s_namespace_name ? l->k8s_namespace_name : "",
                            l->team ? l->team : "", fn ? fn : ""};
    size_t len = 0, off = 0;
    char *k;

    for (int i = 0; i < 4; i++)
        len += strlen(parts[i]) + 1;
    k = opd_malloc(len);
    if (!k)
        return NULL;
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(parts[i]);
        /* The separator cannot occur inside a value. */
        for (size_t j = 0; j < n; j++)
            k[off + j] = parts[i][j] == SEP ? ' ' : parts[i][j];
        off += n;
        k[off++] = i < 3 ? SEP : '\0';
    }
    return k;
}

static struct series *insert(struct opd_promwin *w, char *key, uint64_t hash)
{
    struct series *s;
    char *p;
    int i = 0;

    if (w->n + 1 > w->cap && opd_vec_reserve((void **)&w->s, &w->cap, w->n + 1, sizeof(*w->s)))
        return NULL;
    s = &w->s[w->n];
    memset(s, 0, sizeof(*s));
    /* v and tag share one allocation. */
    s->v = opd_calloc(w->n_slots, sizeof(*s->v) + sizeof(*s->tag));
    if (s->v)
        s->tag = (uint64_t *)(s->v + w->n_slots);
    /* The labels are split copies so the key itself stays intact for lookups. */
    s->key = opd_malloc(strlen(key) * 2 + 2);
    if (!s->v || !s->key) {
        series_free(s);
        return NULL;
    }
    strcpy(s->key, key);
    s->hash = hash;
    p = s->key + strlen(key) + 1;
    strcpy(p, key);
    s->l[i++] = p;
    for (; *p; p++)
        if (*p == SEP) {
            *p = '\0';
            s->l[i++] = p + 1;
        }
    w->n++;
    if ((w->n + 1) * 2 > w->index_cap) {
        if (index_rebuild(w)) {
            w->n--;
            series_free(s);
            return NULL;
        }
    } else {
        size_t h = (size_t)hash & (w->index_cap - 1);
        while (w->index[h] >= 0)
            h = (h + 1) & (w->index_cap - 1);
        w->index[h] = (int32_t)(w->n - 1);
    }
    return s;
}

int opd_promwin_add(struct opd_promwin *w, uint64_t now_ns, const struct opd_promwin_labels *l,
                    double seconds)
{
    struct series *s;
    uint64_t hash;
    size_t slot;
    char *key;
    bool overflow = false;

    if (!(seconds > 0))
        return 0;
    advance(w, now_ns);
    if (w->n >= w->max_series)
        sweep(w); /* make room from series that left the window before overflowing */
    key = make_key(l, l->function);
    if (!key)
        return -ENOMEM;
    hash = hash_key(key);
    s = lookup(w, key, hash);
    if (!s && w->n >= w->max_series) {
        opd_free(key);
        key = make_key(l, OTHER);
        if (!key)
            return -ENOMEM;
        hash = hash_key(key);
        s = lookup(w, key, hash);
        overflow = true;
    }
    if (!s)
        s = insert(w, key, hash);
    opd_free(key);
    if (!s)
        return -ENOMEM;
    slot = (size_t)(w->epoch % w->n_slots);
    if (s->tag[slot] != w->epoch) {
        s->tag[slot] = w->epoch;
        s->v[slot] = 0;
    }
    s->v[slot] += seconds;
    s->last = w->epoch;
    if (overflow)
        w->overflow += seconds;
    return overflow ? 1 : 0;
}

size_t opd_promwin_series(struct opd_promwin *w, uint64_t now_ns)
{
    advance(w, now_ns);
    sweep(w);
    return w->n;
}

double opd_promwin_overflow_seconds(const struct opd_promwin *w)
{
    return w->overflow;
}

static int group_cmp(const struct series *a, const struct series *b)
{
    for (int i = 0; i < 3; i++) {
        int c = strcmp(a->l[i], b->l[i]);
        if (c)
            return c;
    }
    return 0;
}

static int cmp_series(const void *pa, const void *pb)
{
    const struct series *a = *(const struct series *const *)pa;
    const struct series *b = *(const struct series *const *)pb;
    int c = group_cmp(a, b);

    if (c)
        return c;
    if (a->sum != b->sum)
        return a->sum > b->sum ? -1 : 1;
    return strcmp(a->l[3], b->l[3]);
}

static void label_value(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(out, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void series_line(FILE *out, const char *metric, const struct series *s, const char *fn,
                        double v)
{
    static const char *const names[4] = {"service_name", "k8s_namespace_name", "team", "function"};

    fputs(metric, out);
    fputc('{', out);
    for (int i = 0; i < (fn ? 4 : 3); i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", names[i]);
        label_value(out, i == 3 ? fn : s->l[i]);
        fputc('"', out);
    }
    fprintf(out, "} %.9g\n", v);
}

int opd_promwin_write(struct opd_promwin *w, uint64_t now_ns, size_t top_n, bool openmetrics,
                      FILE *out)
{
    struct series **v;
    size_t n = 0;

    advance(w, now_ns);
    sweep(w);
    v = opd_calloc(w->n ? w->n : 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < w->n; i++) {
        struct series *s = &w->s[i];
        s->sum = 0;
        for (size_t k = 0; k < w->n_slots; k++)
            if (slot_live(w, s, k))
                s->sum += s->v[k];
        if (s->sum > 0)
            v[n++] = s;
    }
    qsort(v, n, sizeof(*v), cmp_series);

    fprintf(out,
            "# HELP otelprofd_function_cpu_seconds CPU seconds spent in each function "
            "(leaf frame, self time) over the last %.0f s; top %zu per service, the rest "
            "as function=\"other\"\n",
            (double)w->slot_ns * (double)w->n_slots / 1e9, top_n);
    fputs("# TYPE otelprofd_function_cpu_seconds gauge\n", out);
    if (openmetrics)
        fputs("# UNIT otelprofd_function_cpu_seconds seconds\n", out);
    for (size_t i = 0; i < n;) {
        size_t j = i, shown = 0;
        double other = 0;

        while (j < n && group_cmp(v[i], v[j]) == 0)
            j++;
        for (size_t k = i; k < j; k++) {
            if (shown < top_n && strcmp(v[k]->l[3], OTHER) != 0) {
                series_line(out, "otelprofd_function_cpu_seconds", v[k], v[k]->l[3], v[k]->sum);
                shown++;
            } else {
                other += v[k]->sum;
            }
        }
        if (other > 0)
            series_line(out, "otelprofd_function_cpu_seconds", v[i], OTHER, other);
        i = j;
    }

    fputs("# HELP otelprofd_service_cpu_seconds CPU seconds of each service over the window\n",
          out);
    fputs("# TYPE otelprofd_service_cpu_seconds gauge\n", out);
    if (openmetrics)
        fputs("# UNIT otelprofd_service_cpu_seconds seconds\n", out);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double total = 0;

        while (j < n && group_cmp(v[i], v[j]) == 0)
            total += v[j++]->sum;
        series_line(out, "otelprofd_service_cpu_seconds", v[i], NULL, total);
        i = j;
    }
    opd_free(v);
    return ferror(out) ? -EIO : 0;
}
