/* Recorded-file reader of the offline subcommands (cmd/otelprofd/recorded.c: JSON lines or
 * length-prefixed protobuf, told apart by the first byte) and, for every request it
 * decodes, the pprof encoder: whatever the bytes, no crash, every pprof file it hands out
 * is gzip that inflates to a profile.proto the generated decoder reads, with every sample's
 * values one per sample type. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/otelprofd/recorded.h"
#include "collector/mem.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/profiles.h"
#include "otlp/proto/pprof.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_pprof(const struct opd_pprof *pp, void *arg)
{
    Perftools__Profiles__Profile *p;
    uint8_t *raw = NULL;
    size_t len = 0;

    (void)arg;
    if (opd_grpc_decompress(OPD_GRPC_COMP_GZIP, pp->data, pp->len, 1u << 30, &raw, &len))
        abort();
    p = perftools__profiles__profile__unpack(NULL, len, raw);
    if (!p || !p->n_string_table || p->string_table[0][0])
        abort();
    for (size_t i = 0; i < p->n_sample; i++) {
        if (p->sample[i]->n_value != p->n_sample_type)
            abort();
        for (size_t k = 0; k < p->sample[i]->n_location_id; k++)
            if (!p->sample[i]->location_id[k] || p->sample[i]->location_id[k] > p->n_location)
                abort();
    }
    perftools__profiles__profile__free_unpacked(p, NULL);
    opd_free(raw);
    return 0;
}

static int each_request(const struct opd_batch *b, void *arg)
{
    (void)arg;
    if (opd_pprof_encode(b, check_pprof, NULL))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_recorded_stats st = {0};
    FILE *f;

    if (!size)
        return 0;
    f = fmemopen((void *)(uintptr_t)data, size, "r");
    if (!f)
        return 0;
    opd_recorded_read_stream(f, "fuzz", each_request, NULL, &st);
    fclose(f);
    return 0;
}
