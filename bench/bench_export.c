/* Export benchmark. (1) wire: the otlp_grpc exporter sends synthetic CPU profile batches
 * to a gRPC receiver on loopback (the endpoint given, normally shared/peer/otlp-sink);
 * prints samples/s end to end and bytes per sample uncompressed and on the wire.
 * (2) queue path: the cost of one request through the exporter helper (submit → consumer
 * → send callback) with a no-op destination, in memory and with the persistent queue
 * (with and without fsync). Usage: bench_export [ENDPOINT] [BATCHES] [SAMPLES_PER_BATCH]
 * [COMPRESSION]; without an endpoint only (2) runs. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/component.h"
#include "collector/exporterhelper/exporterhelper.h"
#include "collector/exporters/otlp_grpc/otlp_grpc_config.h"
#include "collector/log.h"
#include "collector/mem.h"
#include "collector/telemetry.h"
#include "otlp/grpc/grpc_codec.h"
#include "otlp/profiles.h"
#include "tests/unit/test_otlp_fixture.h"

extern const struct opd_factory opd_otlp_grpc_exporter_factory;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int wire(const char *endpoint, int batches, size_t per_batch, const char *comp)
{
    struct opd_otlp_grpc_config cfg;
    struct opd_telemetry *tel = opd_telemetry_create();
    struct opd_create_params p = {
        .id = "otlp_grpc/bench", .logname = "exporter/otlp_grpc/bench", .telemetry = tel};
    struct opd_host host = {0};
    struct opd_batch **bs = calloc((size_t)batches, sizeof(*bs));
    struct opd_component *c;
    struct opd_metric *sent;
    uint64_t total = 0;
    size_t raw = 0, wire_bytes = 0;
    double t0, t1;

    memset(&cfg, 0, sizeof(cfg));
    opd_config_defaults(opd_otlp_grpc_config_map, &cfg);
    cfg.endpoint = strdup(endpoint);
    cfg.tls.insecure = true;
    free(cfg.compression);
    cfg.compression = strdup(comp);
    cfg.sending_queue.queue_size = batches + 1;
    for (int i = 0; i < batches; i++) {
        uint8_t *buf, *z;
        size_t len, zl;
        bs[i] = otlp_fixture_synthetic(per_batch, per_batch / 10 + 1, 30);
        if (!bs[i] || opd_proto_encode(bs[i], &buf, &len))
            return 1;
        raw += len;
        if (opd_grpc_compress(opd_grpc_compression_parse(comp), buf, len, 0, &z, &zl))
            return 1;
        wire_bytes += zl;
        opd_free(z);
        free(buf);
        total += opd_batch_sample_count(bs[i]);
    }
    c = opd_otlp_grpc_exporter_factory.create(&p, &cfg);
    if (!c || opd_component_init_base(c, &opd_otlp_grpc_exporter_factory, p.id) ||
        c->ops->start(c, &host))
        return 1;
    sent =
        opd_telemetry_find(tel, "otelcol_exporter_sent_profiles", "exporter=\"otlp_grpc/bench\"");
    t0 = now_s();
    for (int i = 0; i < batches; i++)
        opd_component_consume(c, bs[i]);
    double t_enq = now_s() - t0;
    while ((uint64_t)opd_metric_get(sent) < total && now_s() - t0 < 300)
        usleep(1000);
    t1 = now_s();
    c->ops->shutdown(c, 0);
    printf("wire: %d requests x %zu samples (%llu samples), compression %s, %lld consumers\n",
           batches, per_batch, (unsigned long long)total, comp,
           (long long)cfg.sending_queue.num_consumers);
    printf("wire: delivered %lld samples in %.3f s: %.0f samples/s, %.1f requests/s\n",
           (long long)opd_metric_get(sent), t1 - t0, (double)total / (t1 - t0),
           batches / (t1 - t0));
    printf("wire: consume() (encode + enqueue) %.1f us per request, %.0f ns per sample\n",
           t_enq / batches * 1e6, t_enq / (double)total * 1e9);
    printf("wire: bytes/sample uncompressed %.1f, on the wire (%s) %.1f\n",
           (double)raw / (double)total, comp, (double)wire_bytes / (double)total);
    opd_component_destroy(c);
    opd_config_release(opd_otlp_grpc_config_map, &cfg);
    opd_telemetry_destroy(tel);
    free(bs);
    return 0;
}

static _Atomic uint64_t delivered;

static int noop_send(void *ctx, const uint8_t *d, size_t len, uint64_t items,
                     struct opd_eh_send_status *st)
{
    atomic_fetch_add(&delivered, items);
    return 0;
}

static void queue_path(const char *storage_dir, bool fsync, int n, size_t req_bytes)
{
    struct opd_eh_queue_config q = {
        .enabled = true, .num_consumers = 4, .queue_size = n + 1, .sizer = "requests"};
    struct opd_eh_retry_config r = {.enabled = true,
                                    .initial_interval_ns = 1000000,
                                    .max_interval_ns = 1000000,
                                    .multiplier = 1.5,
                                    .randomization_factor = 0.5};
    struct opd_eh_params p = {
        .who = "bench", .id = "bench", .queue = &q, .retry = &r, .send = noop_send};
    struct opd_eh_storage st = {.fsync = fsync};
    char path[512];
    struct opd_exporterhelper *eh = opd_eh_create(&p);
    double t0, t1;

    if (storage_dir) {
        snprintf(path, sizeof(path), "%s/bench.queue", storage_dir);
        unlink(path);
        st.path = path;
    }
    atomic_store(&delivered, 0);
    if (!eh || opd_eh_start(eh, storage_dir ? &st : NULL))
        exit(1);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        uint8_t *d = opd_malloc(req_bytes);
        memset(d, i, req_bytes);
        opd_eh_submit(eh, d, req_bytes, 1);
    }
    while (atomic_load(&delivered) < (uint64_t)n)
        usleep(100);
    t1 = now_s();
    opd_eh_shutdown(eh, 0);
    opd_eh_destroy(eh);
    printf("queue: %-28s %6d requests of %zu B: %.2f us per request (submit to delivered)\n",
           storage_dir ? (fsync ? "persistent, fsync each" : "persistent, no fsync") : "in memory",
           n, req_bytes, (t1 - t0) / n * 1e6);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/opd-bench-queue-XXXXXX";

    opd_log_set_level(OPD_LOG_ERROR);
    if (argc > 1 && wire(argv[1], argc > 2 ? atoi(argv[2]) : 200,
                         argc > 3 ? (size_t)atol(argv[3]) : 5000, argc > 4 ? argv[4] : "gzip"))
        return 1;
    if (!mkdtemp(dir))
        return 1;
    queue_path(NULL, false, 100000, 4096);
    queue_path(dir, false, 20000, 4096);
    queue_path(dir, true, 2000, 4096);
    unlink(strcat(dir, "/bench.queue"));
    return 0;
}
