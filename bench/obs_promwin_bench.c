/* Cost of the prometheus exporter's sliding window: adding samples (per sample) and
 * rendering a scrape, for S services × F functions per service. Prints one line per size.
 * Build and run (from the repository root, after building build-obs):
 *   gcc -O2 -I. -Ibuild-obs bench/obs_promwin_bench.c \
 *       build-obs/collector/exporters/prometheus/libopd_exporter_prometheus.a \
 *       build-obs/collector/libopd_base.a -lpthread -o /tmp/obs_promwin_bench
 *   /tmp/obs_promwin_bench */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "collector/exporters/prometheus/promwin.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(int services, int functions, int samples)
{
    struct opd_promwin *w = opd_promwin_create(60ull * 1000000000ull, 12, 1000000);
    char svc[32], fn[32];
    double t0, t1, t2;
    FILE *devnull = fopen("/dev/null", "w");
    unsigned seed = 1;

    if (!w || !devnull)
        exit(1);
    t0 = now_s();
    for (int i = 0; i < samples; i++) {
        struct opd_promwin_labels l = {svc, "ns", "team", fn};
        seed = seed * 1103515245u + 12345u;
        snprintf(svc, sizeof(svc), "service-%d", (int)(seed >> 16) % services);
        snprintf(fn, sizeof(fn), "function-%d", (int)(seed >> 8) % functions);
        /* Time advances 1 ms per sample: the window slides during the run. */
        if (opd_promwin_add(w, 1000000000ull + (unsigned long long)i * 1000000ull, &l, 0.01) < 0)
            exit(1);
    }
    t1 = now_s();
    if (opd_promwin_write(w, 1000000000ull + (unsigned long long)samples * 1000000ull, 10, false,
                          devnull))
        exit(1);
    t2 = now_s();
    printf("services=%d functions/service=%d samples=%d series=%zu: add %.0f ns/sample, "
           "scrape %.2f ms\n",
           services, functions, samples,
           opd_promwin_series(w, 1000000000ull + (unsigned long long)samples * 1000000ull),
           (t1 - t0) / samples * 1e9, (t2 - t1) * 1e3);
    fclose(devnull);
    opd_promwin_destroy(w);
}

int main(void)
{
    run(10, 100, 200000);
    run(50, 1000, 1000000);
    run(200, 5000, 1000000);
    return 0;
}
