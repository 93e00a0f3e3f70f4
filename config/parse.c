/* Parsers for config scalars: booleans, integers, doubles, durations and byte sizes.
 * Durations follow Go's time.ParseDuration (what Collector users write); byte sizes take
 * both SI (KB = 1000) and IEC (KiB = 1024) suffixes. */
#include "config/parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_map.h"

int opd_parse_bool(const char *s, bool *b)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};

    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    return -EINVAL;
}

int opd_parse_int(const char *s, int64_t *v)
{
    const char *p = s;
    bool neg = false;
    uint64_t acc = 0, limit;
    int base = 10;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return -EINVAL;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        int d;

        if (isdigit((unsigned char)*p))
            d = *p - '0';
        else if (base == 16 && isxdigit((unsigned char)*p))
            d = tolower((unsigned char)*p) - 'a' + 10;
        else
            return -EINVAL;
        if (acc > (limit - (uint64_t)d) / (uint64_t)base)
            return -EINVAL;
        acc = acc * (uint64_t)base + (uint64_t)d;
    }
    if (neg)
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *v = (int64_t)acc;
    return 0;
}

int opd_parse_double(const char *s, double *v)
{
    char *end;
    double d;

    if (!*s || isspace((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    d = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(d))
        return -EINVAL;
    /* strtod also takes hex floats and "nan"; isfinite() caught the latter. */
    *v = d;
    return 0;
}

static const struct {
    const char *name;
    int64_t ns;
} duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", 60 * (int64_t)1000000000},
    {"h", 3600 * (int64_t)1000000000},
};

int opd_parse_duration(const char *s, int64_t *ns)
{
    const char *p = s;
    bool neg = false;
    /* Summed as unsigned so that overflow is detectable; the sign applies at the end. */
    uint64_t total = 0;
    uint64_t limit;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return -EINVAL;
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1, unit = 0, part;
        bool digits = false;
        size_t ulen = 0, best = 0;

        for (; isdigit((unsigned char)*p); p++, digits = true) {
            if (whole > (UINT64_MAX - 9) / 10)
                return -EINVAL;
            whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
            p++;
            for (; isdigit((unsigned char)*p); p++, digits = true) {
                /* Digits past nanosecond precision of an hour are dropped. */
                if (scale < 100000000000000000ull) {
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
            }
        }
        if (!digits)
            return -EINVAL;
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            ulen = strlen(duration_units[i].name);
            /* Longest match wins: "ms" before "m". */
            if (ulen > best && strncmp(p, duration_units[i].name, ulen) == 0) {
                best = ulen;
                unit = (uint64_t)duration_units[i].ns;
            }
        }
        if (!best)
            return -EINVAL; /* missing or unknown unit */
        p += best;
        if (whole > limit / unit)
            return -EINVAL;
        part = whole * unit;
        /* frac / scale of a unit, in ns; computed in long double to avoid overflow. */
        part += (uint64_t)((long double)frac * (long double)unit / (long double)scale);
        if (part > limit || total > limit - part)
            return -EINVAL;
        total += part;
    }
    if (neg)
        *ns = total == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)total;
    else
        *ns = (int64_t)total;
    return 0;
}

static const struct {
    const char *name;
    uint64_t mult;
} byte_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1000},
    {"kb", 1000},
    {"kib", 1ull << 10},
    {"m", 1000000},
    {"mb", 1000000},
    {"mib", 1ull << 20},
    {"g", 1000000000},
    {"gb", 1000000000},
    {"gib", 1ull << 30},
    {"t", 1000000000000ull},
    {"tb", 1000000000000ull},
    {"tib", 1ull << 40},
};

int opd_parse_bytes(const char *s, int64_t *bytes)
{
    const char *p = s;
    uint64_t whole = 0, frac = 0, scale = 1, mult = 0, total;
    bool digits = false, found = false;

    if (*p == '+')
        p++;
    for (; isdigit((unsigned char)*p); p++, digits = true) {
        if (whole > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        for (; isdigit((unsigned char)*p); p++, digits = true) {
            if (scale < 1000000000000ull) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                scale *= 10;
            }
        }
    }
    if (!digits)
        return -EINVAL;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof(byte_units) / sizeof(byte_units[0]); i++) {
        if (strcasecmp(p, byte_units[i].name) == 0) {
            mult = byte_units[i].mult;
            found = true;
            break;
        }
    }
    if (!found || whole > (uint64_t)INT64_MAX / mult)
        return -EINVAL;
    total = whole * mult + (uint64_t)((long double)frac * (long double)mult / (long double)scale);
    if (total > (uint64_t)INT64_MAX)
        return -EINVAL;
    *bytes = (int64_t)total;
    return 0;
}

const char *opd_format_duration(int64_t ns, char *buf, size_t len)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } parts[] = {
        {"h", 3600000000000ull}, {"m", 60000000000ull}, {"s", 1000000000ull},
        {"ms", 1000000ull},      {"us", 1000ull},       {"ns", 1ull},
    };
    uint64_t rest;
    size_t off = 0;

    if (ns == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    buf[0] = '\0';
    if (ns < 0) {
        off += (size_t)snprintf(buf, len, "-");
        rest = ns == INT64_MIN ? (uint64_t)INT64_MAX + 1 : (uint64_t)-ns;
    } else {
        rest = (uint64_t)ns;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && rest && off < len; i++) {
        uint64_t q = rest / parts[i].ns;

        if (!q)
            continue;
        off += (size_t)snprintf(buf + off, len - off, "%" PRIu64 "%s", q, parts[i].name);
        rest -= q * parts[i].ns;
    }
    return buf;
}

const char *opd_format_bytes(int64_t bytes, char *buf, size_t len)
{
    static const struct {
        const char *name;
        int64_t mult;
    } units[] = {
        {"TiB", 1ll << 40},      {"GiB", 1ll << 30},   {"MiB", 1ll << 20}, {"KiB", 1ll << 10},
        {"TB", 1000000000000ll}, {"GB", 1000000000ll}, {"MB", 1000000ll},  {"KB", 1000ll},
    };

    for (size_t i = 0; bytes > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (bytes % units[i].mult == 0) {
            snprintf(buf, len, "%" PRId64 "%s", bytes / units[i].mult, units[i].name);
            return buf;
        }
    }
    snprintf(buf, len, "%" PRId64, bytes);
    return buf;
}

const char *opd_format_double(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, len, "%.17g", v);
    return buf;
}
