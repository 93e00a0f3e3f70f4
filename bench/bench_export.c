/* Export benchmark. (1) wire: the otlp_grpc exporter sends synthetic CPU profile batches
 * to a gRPC receiver on loopback (the endpoint given, normally shared/peer/otlp-sink);
 * prints samples/s end to end and bytes per sample uncompressed and on the wire.
 * (2) queue path: the cost of one request through the exporter helper (submit → consumer
 * → send callback) with a no-op destination, in memory and with the persistent queue
 * (with and without fsync). Usage: bench_export [ENDPOINT|null] [BATCHES]
 * [SAMPLES_PER_BATCH] [COMPRESSION]; "null" starts an in-process gRPC server that answers
 * OK at once (the exporter's own cost); without an endpoint only (2) runs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
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
        opd_telemetry_find(tel, "otelcol_exporter_sent_profile_samples", "exporter=\"otlp_grpc/bench\"");
    t0 = now_s();
    for (int i = 0; i < batches; i++)
        opd_component_consume(c, bs[i]);
    double t_enq = now_s() - t0;
    while ((uint64_t)opd_metric_get(sent) < total && now_s() - t0 < 300)
        usleep(1000);
    t1 = now_s();
    c->ops->shutdown(c, 0);
    printf("wire: %s, %d requests x %zu samples (%llu samples), compression %s, %lld consumers\n",
           endpoint, batches, per_batch, (unsigned long long)total, comp,
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

/* ---- a null gRPC server: answers every call OK at once (trailers-only), so the wire
 * numbers show the exporter's own cost without a receiver's decoding ---------------- */

static int null_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *u)
{
    static const nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE},
    };

    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        nghttp2_submit_response(s, f->hd.stream_id, nv, 3, NULL);
    return 0;
}

static void *null_server(void *arg)
{
    int ls = *(int *)arg, fd;
    nghttp2_session_callbacks *cb;
    nghttp2_session *s;
    uint8_t buf[65536];
    const uint8_t *out;
    ssize_t n;

    while ((fd = accept(ls, NULL, NULL)) >= 0) {
        nghttp2_session_callbacks_new(&cb);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, null_on_frame);
        nghttp2_session_server_new(&s, cb, NULL);
        nghttp2_session_callbacks_del(cb);
        nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0);
        nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0, 1 << 30);
        for (;;) {
            while ((n = nghttp2_session_mem_send(s, &out)) > 0)
                if (write(fd, out, (size_t)n) != n)
                    break;
            n = read(fd, buf, sizeof(buf));
            if (n <= 0 || nghttp2_session_mem_recv(s, buf, (size_t)n) < 0)
                break;
        }
        nghttp2_session_del(s);
        close(fd);
    }
    return NULL;
}

/* Starts the null server on a loopback port written into ep. */
static int null_start(char *ep, size_t len)
{
    static int ls;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    pthread_t t;

    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 16) ||
        getsockname(ls, (struct sockaddr *)&a, &al))
        return -1;
    snprintf(ep, len, "127.0.0.1:%d", ntohs(a.sin_port));
    return pthread_create(&t, NULL, null_server, &ls) ? -1 : 0;
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

    char ep[64];

    opd_log_set_level(OPD_LOG_ERROR);
    if (argc > 1 && strcmp(argv[1], "null") == 0) {
        if (null_start(ep, sizeof(ep)))
            return 1;
        argv[1] = ep;
    }
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
