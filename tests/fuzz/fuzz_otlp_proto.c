/* Protobuf ExportProfilesServiceRequest decoder fuzzer: any input either fails with an
 * error or decodes to a batch that re-encodes and decodes again; after that one round
 * (which repairs invalid UTF-8 and merges the duplicates repair creates) encode → decode →
 * encode gives the same bytes. The OTLP/JSON form of the batch must decode too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp/profiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_batch *b, *b2, *b3;
    char err[256], *js = NULL;
    uint8_t *pb = NULL, *pb2 = NULL, *pb3 = NULL;
    size_t pblen, pblen2, pblen3, jlen;

    b = opd_proto_decode(data, size, err, sizeof(err));
    if (!b)
        return 0;
    if (opd_proto_encode(b, &pb, &pblen))
        abort();
    b2 = opd_proto_decode(pb, pblen, err, sizeof(err));
    if (!b2) {
        fprintf(stderr, "re-decode failed: %s\n", err);
        abort();
    }
    if (opd_proto_encode(b2, &pb2, &pblen2))
        abort();
    b3 = opd_proto_decode(pb2, pblen2, err, sizeof(err));
    if (!b3 || opd_proto_encode(b3, &pb3, &pblen3) || pblen2 != pblen3 || memcmp(pb2, pb3, pblen2))
        abort();
    opd_batch_unref(b3);
    opd_batch_unref(b2);
    /* strings that are not UTF-8 are repaired on the way to JSON, never rejected */
    if (opd_json_encode(b, &js, &jlen))
        abort();
    b2 = opd_json_decode(js, jlen, err, sizeof(err));
    if (!b2) {
        fprintf(stderr, "JSON decode of our own output failed: %s\n", err);
        abort();
    }
    opd_batch_unref(b2);
    free(js);
    free(pb);
    free(pb2);
    free(pb3);
    opd_batch_unref(b);
    return 0;
}
