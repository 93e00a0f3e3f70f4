#include "otlp/grpc/grpc_codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>

#include "collector/mem.h"

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

const char *opd_grpc_code_name(int code)
{
    if (code < 0 || code > OPD_GRPC_UNAUTHENTICATED)
        return "UNKNOWN_CODE";
    return code_names[code];
}

bool opd_grpc_code_retryable(int code, bool has_retry_info)
{
    switch (code) {
    case OPD_GRPC_CANCELLED:
    case OPD_GRPC_DEADLINE_EXCEEDED:
    case OPD_GRPC_ABORTED:
    case OPD_GRPC_OUT_OF_RANGE:
    case OPD_GRPC_UNAVAILABLE:
    case OPD_GRPC_DATA_LOSS:
        return true;
    case OPD_GRPC_RESOURCE_EXHAUSTED:
        return has_retry_info;
    default:
        return false;
    }
}

int opd_grpc_code_from_http(int http_status)
{
    switch (http_status) {
    case 400:
        return OPD_GRPC_INTERNAL;
    case 401:
        return OPD_GRPC_UNAUTHENTICATED;
    case 403:
        return OPD_GRPC_PERMISSION_DENIED;
    case 404:
        return OPD_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return OPD_GRPC_UNAVAILABLE;
    default:
        return OPD_GRPC_UNKNOWN;
    }
}

int opd_grpc_compression_parse(const char *s)
{
    if (!s || !*s || strcmp(s, "none") == 0 || strcmp(s, "identity") == 0)
        return OPD_GRPC_COMP_NONE;
    if (strcmp(s, "gzip") == 0)
        return OPD_GRPC_COMP_GZIP;
    if (strcmp(s, "zstd") == 0)
        return OPD_GRPC_COMP_ZSTD;
    return -EINVAL;
}

const char *opd_grpc_compression_name(enum opd_grpc_compression c)
{
    switch (c) {
    case OPD_GRPC_COMP_GZIP:
        return "gzip";
    case OPD_GRPC_COMP_ZSTD:
        return "zstd";
    default:
        return NULL;
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int gzip_compress(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    z_stream zs;
    int rc;

    memset(&zs, 0, sizeof(zs));
    /* windowBits 15 + 16 selects the gzip wrapper that grpc-encoding: gzip means. Level 1:
     * on profile requests it is ~5x faster than the default level for ~8 % more bytes
     * (bench/RESULTS.export.md), the better trade for a daemon that must stay cheap. */
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)*out_len;
    rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? 0 : -EIO;
}

int opd_grpc_compress(enum opd_grpc_compression c, const uint8_t *in, size_t len, size_t headroom,
                      uint8_t **out, size_t *out_len)
{
    size_t cap, body;
    uint8_t *buf;
    int rc = 0;

    *out = NULL;
    *out_len = 0;
    if (len > 0 && !in)
        return -EINVAL;
    switch (c) {
    case OPD_GRPC_COMP_GZIP:
        cap = compressBound((uLong)len) + 32;
        break;
    case OPD_GRPC_COMP_ZSTD:
        cap = ZSTD_compressBound(len);
        break;
    default:
        cap = len;
        break;
    }
    buf = opd_malloc(cap + headroom);
    if (!buf)
        return -ENOMEM;
    body = cap;
    if (c == OPD_GRPC_COMP_GZIP) {
        rc = len > UINT32_MAX ? -EMSGSIZE : gzip_compress(in, len, buf + headroom, &body);
    } else if (c == OPD_GRPC_COMP_ZSTD) {
        size_t z = ZSTD_compress(buf + headroom, cap, in, len, 3);
        if (ZSTD_isError(z))
            rc = -EIO;
        else
            body = z;
    } else {
        if (len)
            memcpy(buf + headroom, in, len);
        body = len;
    }
    if (rc) {
        opd_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = body + headroom;
    return 0;
}

int opd_grpc_frame_encode(enum opd_grpc_compression c, const uint8_t *msg, size_t len,
                          uint8_t **out, size_t *out_len)
{
    size_t total;
    int rc;

    *out = NULL;
    *out_len = 0;
    if (len > UINT32_MAX)
        return -EMSGSIZE;
    rc = opd_grpc_compress(c, msg, len, 5, out, &total);
    if (rc)
        return rc;
    if (total - 5 > UINT32_MAX) {
        opd_free(*out);
        *out = NULL;
        return -EMSGSIZE;
    }
    (*out)[0] = c == OPD_GRPC_COMP_NONE ? 0 : 1;
    put_be32(*out + 1, (uint32_t)(total - 5));
    *out_len = total;
    return 0;
}

static int gzip_decompress(const uint8_t *in, size_t len, size_t max_len, uint8_t **out,
                           size_t *out_len)
{
    z_stream zs;
    uint8_t *buf = NULL, *nb;
    size_t cap = len * 4 + 64;
    int zrc, rc = 0;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return -ENOMEM;
    if (cap > max_len + 1)
        cap = max_len + 1;
    buf = opd_malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        zs.next_out = buf + zs.total_out;
        zs.avail_out = (uInt)(cap - zs.total_out);
        zrc = inflate(&zs, Z_NO_FLUSH);
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = -EINVAL;
            goto out;
        }
        if (zs.total_out > max_len) {
            rc = -EMSGSIZE;
            goto out;
        }
        if (zs.avail_out == 0) {
            size_t ncap = cap * 2;
            if (ncap > max_len + 1)
                ncap = max_len + 1;
            if (ncap <= cap) {
                rc = -EMSGSIZE;
                goto out;
            }
            nb = opd_realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        } else if (zs.avail_in == 0) {
            rc = -EINVAL; /* input ended inside the stream */
            goto out;
        }
    }
    if (zs.total_out > max_len) {
        rc = -EMSGSIZE;
        goto out;
    }
    *out = buf;
    *out_len = zs.total_out;
    buf = NULL;
out:
    inflateEnd(&zs);
    opd_free(buf);
    return rc;
}

static int zstd_decompress(const uint8_t *in, size_t len, size_t max_len, uint8_t **out,
                           size_t *out_len)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    ZSTD_inBuffer ib = {in, len, 0};
    ZSTD_outBuffer ob;
    uint8_t *buf = NULL, *nb;
    size_t cap = len * 4 + 64, r = 1;
    int rc = 0;

    if (!ds)
        return -ENOMEM;
    if (cap > max_len + 1)
        cap = max_len + 1;
    buf = opd_malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    ob.dst = buf;
    ob.size = cap;
    ob.pos = 0;
    while (r != 0) {
        r = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(r)) {
            rc = -EINVAL;
            goto out;
        }
        if (ob.pos > max_len) {
            rc = -EMSGSIZE;
            goto out;
        }
        if (r == 0)
            break;
        if (ob.pos == ob.size) {
            size_t ncap = cap * 2;
            if (ncap > max_len + 1)
                ncap = max_len + 1;
            if (ncap <= cap) {
                rc = -EMSGSIZE;
                goto out;
            }
            nb = opd_realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
            ob.dst = buf;
            ob.size = cap;
        } else if (ib.pos == ib.size) {
            rc = -EINVAL; /* truncated frame */
            goto out;
        }
    }
    *out = buf;
    *out_len = ob.pos;
    buf = NULL;
out:
    ZSTD_freeDStream(ds);
    opd_free(buf);
    return rc;
}

int opd_grpc_decompress(enum opd_grpc_compression c, const uint8_t *in, size_t len, size_t max_len,
                        uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (c == OPD_GRPC_COMP_GZIP)
        return gzip_decompress(in, len, max_len, out, out_len);
    if (c == OPD_GRPC_COMP_ZSTD)
        return zstd_decompress(in, len, max_len, out, out_len);
    return -EINVAL;
}

int opd_grpc_frame_decode(const uint8_t *buf, size_t len, const char *encoding, size_t max_len,
                          const uint8_t **msg, size_t *msg_len, uint8_t **owned)
{
    uint32_t n;
    int comp;

    *msg = NULL;
    *msg_len = 0;
    *owned = NULL;
    if (len == 0)
        return 0;
    if (len < 5)
        return -EINVAL;
    n = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
    if ((size_t)n > len - 5)
        return -EINVAL;
    if (buf[0] == 0) {
        if (n > max_len)
            return -EMSGSIZE;
        *msg = buf + 5;
        *msg_len = n;
        return 0;
    }
    if (buf[0] != 1)
        return -EINVAL;
    if (!encoding || !*encoding || strcmp(encoding, "identity") == 0)
        return -EINVAL;
    comp = opd_grpc_compression_parse(encoding);
    if (comp <= 0)
        return -ENOTSUP;
    int rc = opd_grpc_decompress(comp, buf + 5, n, max_len, owned, msg_len);
    if (rc == 0)
        *msg = *owned;
    return rc;
}

void opd_grpc_timeout_format(int64_t timeout_ns, char *buf, size_t len)
{
    static const struct {
        int64_t ns;
        char unit;
    } units[] = {{1, 'n'},          {1000, 'u'},          {1000000, 'm'},
                 {1000000000, 'S'}, {60000000000LL, 'M'}, {3600000000000LL, 'H'}};
    if (timeout_ns < 1)
        timeout_ns = 1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        int64_t v = (timeout_ns + units[i].ns - 1) / units[i].ns;
        if (v <= 99999999) {
            snprintf(buf, len, "%lld%c", (long long)v, units[i].unit);
            return;
        }
    }
    snprintf(buf, len, "99999999H");
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void opd_grpc_message_decode(const char *in, size_t len, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < outlen; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
            (lo = hexval(in[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = in[i];
        }
    }
    out[o] = '\0';
}

/* ---- minimal protobuf reader for the few response messages we decode ---------------- */

struct pb {
    const uint8_t *p, *end;
};

static int pb_varint(struct pb *r, uint64_t *v)
{
    uint64_t x = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -EINVAL;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EINVAL;
}

/* Reads one field header and, for length-delimited fields, the payload bounds. Skips
 * the value of other wire types into *v (varint) or nothing. */
static int pb_field(struct pb *r, uint32_t *field, int *wt, uint64_t *v, struct pb *sub)
{
    uint64_t key, n;

    if (pb_varint(r, &key))
        return -EINVAL;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    if (*field == 0)
        return -EINVAL;
    switch (*wt) {
    case 0:
        return pb_varint(r, v);
    case 1:
        if (r->end - r->p < 8)
            return -EINVAL;
        r->p += 8;
        return 0;
    case 5:
        if (r->end - r->p < 4)
            return -EINVAL;
        r->p += 4;
        return 0;
    case 2:
        if (pb_varint(r, &n) || n > (uint64_t)(r->end - r->p))
            return -EINVAL;
        sub->p = r->p;
        sub->end = r->p + n;
        r->p += n;
        return 0;
    default:
        return -EINVAL;
    }
}

int opd_grpc_partial_success_decode(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
                                    size_t msglen)
{
    struct pb r = {buf, buf}, sub, f;
    uint32_t field;
    int wt;
    uint64_t v;

    if (buf)
        r.end = buf + len;
    *rejected = 0;
    if (msglen)
        msg[0] = '\0';
    if (!buf || len == 0)
        return 0;
    while (r.p < r.end) {
        if (pb_field(&r, &field, &wt, &v, &sub))
            return -EINVAL;
        if (field != 1 || wt != 2)
            continue;
        while (sub.p < sub.end) {
            if (pb_field(&sub, &field, &wt, &v, &f))
                return -EINVAL;
            if (field == 1 && wt == 0) {
                *rejected = (int64_t)v;
            } else if (field == 2 && wt == 2 && msglen) {
                size_t n = (size_t)(f.end - f.p);
                if (n >= msglen)
                    n = msglen - 1;
                memcpy(msg, f.p, n);
                msg[n] = '\0';
            }
        }
    }
    return 0;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Decodes standard or URL-safe base64, padded or not. */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int v;
        if (in[i] == '=')
            break;
        v = b64val(in[i]);
        if (v < 0)
            return -EINVAL;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return 0;
}

static int retry_info_from_any(struct pb any, int64_t *delay_ns)
{
    static const char type[] = "type.googleapis.com/google.rpc.RetryInfo";
    struct pb sub, value = {NULL, NULL}, dur, f;
    uint32_t field;
    int wt, is_retry = 0;
    uint64_t v;
    int64_t secs = 0, nanos = 0;

    while (any.p < any.end) {
        if (pb_field(&any, &field, &wt, &v, &sub))
            return -EINVAL;
        if (field == 1 && wt == 2)
            is_retry = (size_t)(sub.end - sub.p) == sizeof(type) - 1 &&
                       memcmp(sub.p, type, sizeof(type) - 1) == 0;
        else if (field == 2 && wt == 2)
            value = sub;
    }
    if (!is_retry || !value.p)
        return 0;
    while (value.p < value.end) {
        if (pb_field(&value, &field, &wt, &v, &dur))
            return -EINVAL;
        if (field != 1 || wt != 2)
            continue;
        while (dur.p < dur.end) {
            if (pb_field(&dur, &field, &wt, &v, &f))
                return -EINVAL;
            if (field == 1 && wt == 0)
                secs = (int64_t)v;
            else if (field == 2 && wt == 0)
                nanos = (int32_t)v;
        }
    }
    if (secs < 0 || nanos < 0 || secs > 86400 * 365)
        return -EINVAL;
    *delay_ns = secs * 1000000000LL + nanos;
    return 1;
}

int opd_grpc_retry_info_decode(const char *b64, size_t len, int64_t *delay_ns)
{
    uint8_t *raw;
    size_t n;
    struct pb r, sub;
    uint32_t field;
    int wt, rc = 0;
    uint64_t v;

    raw = opd_malloc(len * 3 / 4 + 4);
    if (!raw)
        return -ENOMEM;
    if (b64_decode(b64, len, raw, &n)) {
        rc = -EINVAL;
        goto out;
    }
    r.p = raw;
    r.end = raw + n;
    while (r.p < r.end && rc == 0) {
        if (pb_field(&r, &field, &wt, &v, &sub)) {
            rc = -EINVAL;
            goto out;
        }
        if (field == 3 && wt == 2)
            rc = retry_info_from_any(sub, delay_ns);
    }
out:
    opd_free(raw);
    return rc;
}

bool opd_grpc_encoding_listed(const char *list, const char *enc)
{
    size_t n = strlen(enc);
    const char *p = list;

    if (!list)
        return false;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if ((size_t)(e - p) == n && strncasecmp(p, enc, n) == 0)
            return true;
        p = e;
    }
    return false;
}
