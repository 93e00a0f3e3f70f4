/* redaction: compiling the policy and deciding about keys, values and symbols. */
#include <errno.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "collector/mem.h"
#include "redaction.h"

#define VALUE_MASK "****"

static void regex_list_fini(struct opd_regex_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        regfree(&l->v[i]);
    opd_free(l->v);
    memset(l, 0, sizeof(*l));
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        opd_free(v[i]);
    opd_free(v);
}

void opd_redaction_policy_fini(struct opd_redaction_policy *p)
{
    strv_free(p->allowed_keys, p->n_allowed);
    strv_free(p->ignored_keys, p->n_ignored);
    regex_list_fini(&p->blocked_keys);
    regex_list_fini(&p->blocked_values);
    regex_list_fini(&p->allowed_values);
    regex_list_fini(&p->sym_blocked);
    regex_list_fini(&p->sym_allowed);
    opd_free(p->sym_mask);
    if (p->salt)
        memset(p->salt, 0, p->salt_len);
    opd_free(p->salt);
    memset(p, 0, sizeof(*p));
}

static int compile_list(struct opd_regex_list *l, const struct opd_strlist *src, const char *what,
                        char *err, size_t errlen)
{
    if (!src->n)
        return 0;
    l->v = opd_calloc(src->n, sizeof(*l->v));
    if (!l->v)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++) {
        int rc = regcomp(&l->v[l->n], src->v[i], REG_EXTENDED);

        if (rc) {
            char msg[128];

            regerror(rc, &l->v[l->n], msg, sizeof(msg));
            snprintf(err, errlen, "%s::%zu: pattern %s does not compile: %s", what, i, src->v[i],
                     msg);
            return -EINVAL;
        }
        l->n++;
    }
    return 0;
}

static int copy_strv(char ***dst, size_t *n, const struct opd_strlist *src)
{
    if (!src->n)
        return 0;
    *dst = opd_calloc(src->n, sizeof(char *));
    if (!*dst)
        return -ENOMEM;
    for (size_t i = 0; i < src->n; i++, (*n)++)
        if (!((*dst)[i] = opd_strdup(src->v[i])))
            return -ENOMEM;
    return 0;
}

static int read_salt(struct opd_redaction_policy *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    uint8_t buf[4096];
    size_t n;

    if (!f) {
        snprintf(err, errlen, "hash_salt_file: %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n < 16) {
        snprintf(err, errlen, "hash_salt_file: %s: needs at least 16 bytes of secret", path);
        memset(buf, 0, sizeof(buf));
        return -EINVAL;
    }
    p->salt = opd_malloc(n);
    if (!p->salt) {
        memset(buf, 0, sizeof(buf));
        return -ENOMEM;
    }
    memcpy(p->salt, buf, n);
    p->salt_len = n;
    memset(buf, 0, sizeof(buf));
    return 0;
}

int opd_redaction_policy_compile(const struct opd_redaction_cfg *cfg,
                                 struct opd_redaction_policy *p, char *err, size_t errlen)
{
    const char *act = cfg->symbols.action ? cfg->symbols.action : "mask";
    int rc;

    p->allow_all_keys = cfg->allow_all_keys;
    if ((rc = copy_strv(&p->allowed_keys, &p->n_allowed, &cfg->allowed_keys)) ||
        (rc = copy_strv(&p->ignored_keys, &p->n_ignored, &cfg->ignored_keys)) ||
        (rc = compile_list(&p->blocked_keys, &cfg->blocked_key_patterns, "blocked_key_patterns",
                           err, errlen)) ||
        (rc = compile_list(&p->blocked_values, &cfg->blocked_values, "blocked_values", err,
                           errlen)) ||
        (rc = compile_list(&p->allowed_values, &cfg->allowed_values, "allowed_values", err,
                           errlen)) ||
        (rc = compile_list(&p->sym_blocked, &cfg->symbols.blocked_patterns,
                           "symbols::blocked_patterns", err, errlen)) ||
        (rc = compile_list(&p->sym_allowed, &cfg->symbols.allowed_patterns,
                           "symbols::allowed_patterns", err, errlen)))
        return rc;
    p->sym_action = strcmp(act, "hash") == 0          ? OPD_REDACT_SYM_HASH
                    : strcmp(act, "drop_frames") == 0 ? OPD_REDACT_SYM_DROP
                                                      : OPD_REDACT_SYM_MASK;
    if (!(p->sym_mask = opd_strdup(cfg->symbols.mask ? cfg->symbols.mask : "[redacted]")))
        return -ENOMEM;
    p->hash = cfg->hash_function && strcmp(cfg->hash_function, "none") != 0;
    if ((p->hash || p->sym_action == OPD_REDACT_SYM_HASH) &&
        (!cfg->hash_salt_file || !cfg->hash_salt_file[0])) {
        snprintf(err, errlen,
                 "hash_salt_file: hashing needs a secret salt file, so that short secrets "
                 "cannot be recovered by hashing guesses");
        return -EINVAL;
    }
    if (cfg->hash_salt_file && cfg->hash_salt_file[0])
        return read_salt(p, cfg->hash_salt_file, err, errlen);
    return 0;
}

static bool in_list(char *const *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], key) == 0)
            return true;
    return false;
}

static bool any_match(const struct opd_regex_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (regexec(&l->v[i], s, 0, NULL, 0) == 0)
            return true;
    return false;
}

/* Command lines and environments carry secrets far too often to be sent by default. */
static bool sensitive_process_key(const char *key)
{
    return strcmp(key, "process.command_line") == 0 || strcmp(key, "process.command_args") == 0 ||
           strcmp(key, "process.command") == 0 ||
           strncmp(key, "process.environment_variable.", 29) == 0;
}

enum opd_redaction_key opd_redaction_key_verdict(const struct opd_redaction_policy *p,
                                                 const char *key)
{
    bool allowed = in_list(p->allowed_keys, p->n_allowed, key);

    if (in_list(p->ignored_keys, p->n_ignored, key))
        return sensitive_process_key(key) && !allowed ? OPD_REDACT_KEY_DROP : OPD_REDACT_KEY_IGNORE;
    if (sensitive_process_key(key) && !allowed)
        return OPD_REDACT_KEY_DROP;
    if (!p->allow_all_keys && !allowed)
        return OPD_REDACT_KEY_DROP;
    if (any_match(&p->blocked_keys, key))
        return OPD_REDACT_KEY_MASK;
    return OPD_REDACT_KEY_KEEP;
}

int opd_redaction_hash(const struct opd_redaction_policy *p, const char *s, size_t len,
                       char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!HMAC(EVP_sha256(), p->salt, (int)p->salt_len, (const unsigned char *)s, len, md, &mdlen) ||
        mdlen < 16)
        return -EIO;
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
    return 0;
}

/* Appends n bytes to a growing string. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (opd_vec_reserve((void **)buf, cap, *len + n + 1, 1))
        return -ENOMEM;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* The replacement of s[0..n): a mask or a keyed hash. */
static int replacement(const struct opd_redaction_policy *p, const char *s, size_t n, char **buf,
                       size_t *len, size_t *cap)
{
    char h[33];

    if (!p->hash)
        return append(buf, len, cap, VALUE_MASK, strlen(VALUE_MASK));
    if (opd_redaction_hash(p, s, n, h))
        return -EIO;
    return append(buf, len, cap, h, 32);
}

char *opd_redaction_value(const struct opd_redaction_policy *p, const char *s, bool mask_all,
                          int *err)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    bool changed = false;

    *err = 0;
    if (mask_all) {
        if ((*err = replacement(p, s, strlen(s), &out, &len, &cap)))
            goto fail;
        return out;
    }
    if (!p->blocked_values.n || any_match(&p->allowed_values, s))
        return NULL;
    /* Every match of every blocked pattern is replaced, left to right per pattern. */
    {
        char *cur = opd_strdup(s);

        if (!cur) {
            *err = -ENOMEM;
            return NULL;
        }
        for (size_t i = 0; i < p->blocked_values.n; i++) {
            const char *q = cur;
            regmatch_t m;

            len = 0;
            if (out)
                out[0] = '\0';
            while (*q &&
                   regexec(&p->blocked_values.v[i], q, 1, &m, q == cur ? 0 : REG_NOTBOL) == 0) {
                size_t adv = m.rm_eo > m.rm_so ? (size_t)m.rm_eo : (size_t)m.rm_so + 1;

                if (m.rm_eo == m.rm_so && q[m.rm_so] == '\0')
                    break; /* an empty match at the end: nothing left to mask */
                if ((*err = append(&out, &len, &cap, q, (size_t)m.rm_so)))
                    break;
                if (m.rm_eo > m.rm_so) {
                    *err =
                        replacement(p, q + m.rm_so, (size_t)(m.rm_eo - m.rm_so), &out, &len, &cap);
                    changed = true;
                } else {
                    *err = append(&out, &len, &cap, q + m.rm_so, 1);
                }
                if (*err)
                    break;
                q += adv;
            }
            if (!*err)
                *err = append(&out, &len, &cap, q, strlen(q));
            if (*err) {
                opd_free(cur);
                goto fail;
            }
            opd_free(cur);
            cur = out;
            out = NULL;
            cap = 0;
        }
        if (!changed) {
            opd_free(cur);
            return NULL;
        }
        return cur;
    }
fail:
    opd_free(out);
    return NULL;
}

bool opd_redaction_symbol_blocked(const struct opd_redaction_policy *p, const char *s)
{
    return s[0] && any_match(&p->sym_blocked, s) && !any_match(&p->sym_allowed, s);
}
