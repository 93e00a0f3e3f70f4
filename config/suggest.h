/* "Did you mean" for config errors: picks, among candidates fed one by one, the one
 * closest to a misspelt word, if it is close enough to be a likely typo. */
#ifndef OPD_CONFIG_SUGGEST_H
#define OPD_CONFIG_SUGGEST_H

#include <stddef.h>

struct opd_suggest {
    const char *word;
    const char *best; /* borrowed from the candidates */
    size_t dist;
};

/* Starts a search for word (borrowed for the search's lifetime). */
void opd_suggest_init(struct opd_suggest *s, const char *word);

/* Considers one candidate (borrowed; must outlive the search). */
void opd_suggest_add(struct opd_suggest *s, const char *cand);

/* The closest candidate within an edit distance of 2 (1 for words of up to 4 characters),
 * or NULL. Ties go to the candidate added first. */
const char *opd_suggest_best(const struct opd_suggest *s);

#endif
