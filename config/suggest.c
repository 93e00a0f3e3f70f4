/* Edit distance over short identifiers, for "did you mean" hints. */
#include "config/suggest.h"

#include <string.h>

/* Identifiers longer than this get no suggestion; it bounds the work and the stack. */
#define SUGGEST_MAX_LEN 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

/* Optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * neighbours ("otpl" for "otlp") each cost one. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb)
{
    unsigned char d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t v = min3(d[i - 1][j] + 1u, d[i][j - 1] + 1u,
                            d[i - 1][j - 1] + (size_t)(a[i - 1] != b[j - 1]));

            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1u < v)
                v = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)v;
        }
    }
    return d[la][lb];
}

void opd_suggest_init(struct opd_suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = (size_t)-1;
}

void opd_suggest_add(struct opd_suggest *s, const char *cand)
{
    size_t lw = strlen(s->word), lc = strlen(cand), d;

    if (lw > SUGGEST_MAX_LEN || lc > SUGGEST_MAX_LEN || strcmp(s->word, cand) == 0)
        return;
    d = distance(s->word, lw, cand, lc);
    if (d < s->dist) {
        s->dist = d;
        s->best = cand;
    }
}

const char *opd_suggest_best(const struct opd_suggest *s)
{
    size_t limit = strlen(s->word) <= 4 ? 1 : 2;

    return s->best && s->dist <= limit ? s->best : NULL;
}
