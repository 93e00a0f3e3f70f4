/* Server bytes → the gRPC client's HTTP/2 callbacks (headers, trailers, DATA, RST_STREAM,
 * GOAWAY) through opd_grpc_client_replay, then the response parsers on what the call
 * collected: message framing and decompression, partial_success, grpc-status-details-bin.
 * The first input byte picks the chunk size the bytes are fed in. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/log.h"
#include "collector/mem.h"
#include "otlp/grpc/grpc_client.h"
#include "otlp/grpc/grpc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_grpc_result res;
    const uint8_t *msg;
    size_t msg_len, chunk;
    uint8_t *owned = NULL;
    int64_t rej, delay;
    char why[64];

    opd_log_set_level(OPD_LOG_ERROR);
    if (size < 1)
        return 0;
    chunk = (size_t)data[0] * 7 + 1;
    opd_grpc_client_replay(data + 1, size - 1, chunk, &res);
    if (res.code < 0 || res.code > OPD_GRPC_UNAUTHENTICATED)
        __builtin_trap(); /* a status outside the gRPC range must never escape */
    if (opd_grpc_frame_decode(res.body, res.body_len, res.encoding[0] ? res.encoding : NULL,
                              1 << 20, &msg, &msg_len, &owned) == 0)
        opd_grpc_partial_success_decode(msg, msg_len, &rej, why, sizeof(why));
    opd_free(owned);
    opd_free(res.body);
    /* The same bytes as a details header and as a raw response message. */
    opd_grpc_retry_info_decode((const char *)data, size, &delay);
    opd_grpc_partial_success_decode(data, size, &rej, why, sizeof(why));
    owned = NULL;
    if (opd_grpc_frame_decode(data + 1, size - 1, data[0] & 1 ? "gzip" : "zstd", 1 << 16, &msg,
                              &msg_len, &owned) == 0)
        opd_free(owned);
    return 0;
}
