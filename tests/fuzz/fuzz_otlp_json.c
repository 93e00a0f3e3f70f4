/* OTLP/JSON decoder fuzzer: any input either fails with an error or decodes to a batch
 * that passes the decoders' checks, encodes, and decodes again to the same JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/profiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_batch *b, *b2;
    char err[256], *js = NULL, *js2 = NULL;
    uint8_t *pb = NULL;
    size_t len, len2, pblen;

    b = opd_json_decode((const char *)data, size, err, sizeof(err));
    if (!b)
        return 0;
    if (opd_json_encode(b, &js, &len))
        abort();
    b2 = opd_json_decode(js, len, err, sizeof(err));
    if (!b2) {
        fprintf(stderr, "re-decode failed: %s\n", err);
        abort();
    }
    if (opd_json_encode(b2, &js2, &len2) || len != len2 || memcmp(js, js2, len))
        abort();
    opd_batch_unref(b2);
    /* the protobuf form of anything we accept must decode as well */
    if (opd_proto_encode(b, &pb, &pblen))
        abort();
    b2 = opd_proto_decode(pb, pblen, err, sizeof(err));
    if (!b2) {
        fprintf(stderr, "protobuf re-decode failed: %s\n", err);
        abort();
    }
    opd_batch_unref(b2);
    free(pb);
    free(js);
    free(js2);
    opd_batch_unref(b);
    return 0;
}
