/* Private to otlp/: pieces the OTLP/JSON encoder and decoder share. */
#ifndef OPD_OTLP_JSON_UTIL_H
#define OPD_OTLP_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Routes jansson's allocations through collector/mem.h (once per process). */
void opd_json_use_project_alloc(void);
/* Whether a jansson allocation failed on this thread since the last reset. */
void opd_json_alloc_failed_reset(void);
bool opd_json_alloc_failed(void);

/* Standard base64 with padding into a new NUL-terminated opd_malloc'ed string; NULL on
 * -ENOMEM. */
char *opd_base64_encode(const uint8_t *p, size_t n);
/* Decodes standard or URL-safe base64, padding optional, into out (room for
 * opd_base64_max(len) bytes). Returns the decoded length or -EINVAL. */
long opd_base64_decode(const char *s, size_t len, uint8_t *out);
size_t opd_base64_max(size_t len);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void opd_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2n hex digits into out; 0 or -EINVAL. */
int opd_hex_decode(const char *s, size_t len, uint8_t *out, size_t n);

/* True when s[0..len) is valid UTF-8. */
bool opd_utf8_valid(const char *s, size_t len);
/* Copy of s with every invalid UTF-8 sequence replaced by U+FFFD, opd_malloc'ed and
 * NUL-terminated; NULL on -ENOMEM. */
char *opd_utf8_sanitize(const char *s, size_t len, size_t *out_len);

#endif
