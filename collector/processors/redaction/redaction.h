/* processor "redaction" for profiles, with the option names of the Collector's
 * redaction processor where they exist:
 *  - attribute keys (resource, scope, sample, location, mapping, profile): allow_all_keys /
 *    allowed_keys decide which survive, ignored_keys are never touched; process command
 *    lines and environment variables are dropped unless listed in allowed_keys;
 *  - string values: blocked_key_patterns mask the whole value, blocked_values mask what
 *    they match, allowed_values exempt a value;
 *  - symbols: function names, system names and file names, and mapping file names matching
 *    symbols.blocked_patterns (and no symbols.allowed_patterns) are masked, hashed, or
 *    (symbols.action: drop_frames) their frames are removed.
 * The batch is rebuilt into a fresh dictionary, so it stays valid and deduplicated and no
 * original string survives in an unused table entry. Fails closed: a pattern that does
 * not compile is a config error, and a batch that cannot be rewritten is dropped. */
#ifndef OPD_REDACTION_H
#define OPD_REDACTION_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config_map.h"

struct opd_batch;

struct opd_redaction_symbols_cfg {
    struct opd_strlist blocked_patterns;
    struct opd_strlist allowed_patterns;
    char *action; /* mask | hash | drop_frames */
    char *mask;
};

struct opd_redaction_cfg {
    bool allow_all_keys;
    struct opd_strlist allowed_keys;
    struct opd_strlist ignored_keys;
    struct opd_strlist blocked_key_patterns;
    struct opd_strlist blocked_values;
    struct opd_strlist allowed_values;
    char *hash_function; /* none | sha256 */
    char *hash_salt_file;
    char *summary; /* silent | info | debug */
    struct opd_redaction_symbols_cfg symbols;
};

extern const struct opd_config_map opd_redaction_config_map[];

struct opd_regex_list {
    regex_t *v;
    size_t n;
};

enum opd_redaction_symbol_action {
    OPD_REDACT_SYM_MASK,
    OPD_REDACT_SYM_HASH,
    OPD_REDACT_SYM_DROP,
};

struct opd_redaction_policy {
    bool allow_all_keys;
    char **allowed_keys, **ignored_keys;
    size_t n_allowed, n_ignored;
    struct opd_regex_list blocked_keys, blocked_values, allowed_values;
    struct opd_regex_list sym_blocked, sym_allowed;
    enum opd_redaction_symbol_action sym_action;
    char *sym_mask;
    bool hash;
    uint8_t *salt;
    size_t salt_len;
};

struct opd_redaction_counts {
    uint64_t keys_dropped;     /* attributes removed by key policy */
    uint64_t values_masked;    /* string values changed */
    uint64_t symbols_redacted; /* function/file/mapping names changed */
    uint64_t frames_dropped;   /* lines removed by drop_frames */
};

/* Compiles cfg into p (zeroed by the caller), reading the salt file. Returns 0, -EINVAL
 * with a message in err (pattern that does not compile, hashing without a salt, salt file
 * unreadable or empty), -ENOMEM. Free with opd_redaction_policy_fini either way. */
int opd_redaction_policy_compile(const struct opd_redaction_cfg *cfg,
                                 struct opd_redaction_policy *p, char *err, size_t errlen);
void opd_redaction_policy_fini(struct opd_redaction_policy *p);

/* Returns a new batch holding src with the policy applied (src is not changed), or NULL
 * with errno (ENOMEM, or EINVAL for a malformed src). Counts are added to *cnt. */
struct opd_batch *opd_redaction_rewrite(const struct opd_redaction_policy *p,
                                        const struct opd_batch *src,
                                        struct opd_redaction_counts *cnt);

/* Key verdicts. */
enum opd_redaction_key {
    OPD_REDACT_KEY_DROP,
    OPD_REDACT_KEY_KEEP,   /* value checked against the value rules */
    OPD_REDACT_KEY_IGNORE, /* kept untouched */
    OPD_REDACT_KEY_MASK,   /* blocked key pattern: the whole value is masked */
};

enum opd_redaction_key opd_redaction_key_verdict(const struct opd_redaction_policy *p,
                                                 const char *key);

/* Applies the value rules to s (a value of a kept key; mask_all for OPD_REDACT_KEY_MASK).
 * Returns NULL when s stays as it is, else a new opd_malloc'ed string; *err = -ENOMEM on
 * failure (NULL returned). */
char *opd_redaction_value(const struct opd_redaction_policy *p, const char *s, bool mask_all,
                          int *err);

/* Returns true when a symbol or file name is blocked. */
bool opd_redaction_symbol_blocked(const struct opd_redaction_policy *p, const char *s);

/* Writes the keyed hash (HMAC-SHA256 with the salt, first 16 bytes as 32 hex digits) of s
 * into out (33 bytes). Returns 0 or -EIO. */
int opd_redaction_hash(const struct opd_redaction_policy *p, const char *s, size_t len,
                       char out[33]);

#endif
