/* gRPC message codec: the 5-byte length-prefixed framing, message compression
 * (identity, gzip, zstd), status codes and their retry class, grpc-timeout and
 * grpc-message encodings, and decoding of the pieces of a response the exporter needs
 * (ExportProfilesServiceResponse.partial_success, google.rpc.RetryInfo). Pure functions
 * over byte buffers: no I/O, so the fuzzer can drive every parser directly. */
#ifndef OPD_GRPC_CODEC_H
#define OPD_GRPC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum opd_grpc_code {
    OPD_GRPC_OK = 0,
    OPD_GRPC_CANCELLED = 1,
    OPD_GRPC_UNKNOWN = 2,
    OPD_GRPC_INVALID_ARGUMENT = 3,
    OPD_GRPC_DEADLINE_EXCEEDED = 4,
    OPD_GRPC_NOT_FOUND = 5,
    OPD_GRPC_ALREADY_EXISTS = 6,
    OPD_GRPC_PERMISSION_DENIED = 7,
    OPD_GRPC_RESOURCE_EXHAUSTED = 8,
    OPD_GRPC_FAILED_PRECONDITION = 9,
    OPD_GRPC_ABORTED = 10,
    OPD_GRPC_OUT_OF_RANGE = 11,
    OPD_GRPC_UNIMPLEMENTED = 12,
    OPD_GRPC_INTERNAL = 13,
    OPD_GRPC_UNAVAILABLE = 14,
    OPD_GRPC_DATA_LOSS = 15,
    OPD_GRPC_UNAUTHENTICATED = 16,
};

enum opd_grpc_compression {
    OPD_GRPC_COMP_NONE = 0,
    OPD_GRPC_COMP_GZIP,
    OPD_GRPC_COMP_ZSTD,
};

/* Returns the canonical name ("UNAVAILABLE"), or "CODE_<n>" style "UNKNOWN_CODE" when
 * code is out of range. Static storage. */
const char *opd_grpc_code_name(int code);

/* The OTLP split: UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and
 * DATA_LOSS are retryable; RESOURCE_EXHAUSTED only when the server attached RetryInfo;
 * everything else is permanent. */
bool opd_grpc_code_retryable(int code, bool has_retry_info);

/* Maps an HTTP status of a response without grpc-status to a gRPC code, as the gRPC
 * spec's http-grpc-status-mapping does. */
int opd_grpc_code_from_http(int http_status);

/* Parses "gzip" / "zstd" / "none" (also "" and "identity"); returns the value or -EINVAL. */
int opd_grpc_compression_parse(const char *s);
/* The grpc-encoding header value; NULL for none. */
const char *opd_grpc_compression_name(enum opd_grpc_compression c);

/* Builds one gRPC message: 5-byte prefix (compressed flag, big-endian length) then msg,
 * compressed with c. *out is a new opd_malloc'ed buffer the caller frees with opd_free.
 * Returns 0, -ENOMEM, -EMSGSIZE (over 4 GiB) or -EIO (compressor failure). */
int opd_grpc_frame_encode(enum opd_grpc_compression c, const uint8_t *msg, size_t len,
                          uint8_t **out, size_t *out_len);

/* Compresses in with c (none copies) into a new opd_malloc'ed buffer that starts with
 * headroom unused bytes (for a frame prefix); *out_len includes them. Returns 0,
 * -ENOMEM, -EMSGSIZE or -EIO. */
int opd_grpc_compress(enum opd_grpc_compression c, const uint8_t *in, size_t len, size_t headroom,
                      uint8_t **out, size_t *out_len);

/* Splits the first message out of a unary response body. On success *msg points into buf
 * (or, when compressed, to a new buffer in *owned the caller frees with opd_free) with its
 * length; an empty body yields *msg_len = 0. encoding is the grpc-encoding response
 * header (NULL: identity). Returns 0, or -EINVAL (truncated frame, bad flag, compressed
 * without encoding), -ENOTSUP (unknown encoding), -EMSGSIZE (over max_len once
 * decompressed) or -ENOMEM. */
int opd_grpc_frame_decode(const uint8_t *buf, size_t len, const char *encoding, size_t max_len,
                          const uint8_t **msg, size_t *msg_len, uint8_t **owned);

/* Decompresses gzip or zstd data into a new opd_malloc'ed buffer, refusing to produce
 * more than max_len bytes. Returns 0, -EINVAL (corrupt), -EMSGSIZE or -ENOMEM. */
int opd_grpc_decompress(enum opd_grpc_compression c, const uint8_t *in, size_t len, size_t max_len,
                        uint8_t **out, size_t *out_len);

/* Formats a grpc-timeout header value ("4999m", "12S") for timeout_ns > 0: at most 8
 * digits, rounded up to the next unit that fits. buf must hold 16 bytes. */
void opd_grpc_timeout_format(int64_t timeout_ns, char *buf, size_t len);

/* Percent-decodes a grpc-message value into out (NUL-terminated, truncated to fit). */
void opd_grpc_message_decode(const char *in, size_t len, char *out, size_t outlen);

/* Decodes ExportProfilesServiceResponse.partial_success. Sets *rejected and copies the
 * error_message (truncated, NUL-terminated) into msg. An empty message is a response
 * without partial success (*rejected = 0, msg ""). Returns 0 or -EINVAL (malformed). */
int opd_grpc_partial_success_decode(const uint8_t *buf, size_t len, int64_t *rejected, char *msg,
                                    size_t msglen);

/* Decodes a base64 grpc-status-details-bin value (google.rpc.Status) and looks for a
 * google.rpc.RetryInfo detail. Returns 1 with *delay_ns set when found, 0 when the status
 * has none, -EINVAL when the value is malformed. */
int opd_grpc_retry_info_decode(const char *b64, size_t len, int64_t *delay_ns);

/* True when the comma-separated list (a grpc-accept-encoding value) names enc. */
bool opd_grpc_encoding_listed(const char *list, const char *enc);

#endif
