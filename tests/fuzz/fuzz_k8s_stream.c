/* libFuzzer target: watch stream framing. The first bytes choose the chunk sizes the
 * rest is fed in, so line reassembly across arbitrary HTTP chunk boundaries is
 * exercised together with event decoding and the cache. */
#include <stddef.h>
#include <stdint.h>

#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_stream.h"

static int on_event(void *arg, const struct opd_k8s_event *ev)
{
    struct opd_k8s_cache *c = arg;

    switch (ev->type) {
    case OPD_K8S_ADDED:
    case OPD_K8S_MODIFIED:
        opd_k8s_cache_put(c, ev->obj);
        break;
    case OPD_K8S_DELETED:
        opd_k8s_cache_delete(c, ev->obj->uid, 5);
        break;
    case OPD_K8S_ERROR:
        return ev->code == 410 ? -1 : 0;
    default:
        break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_k8s_stream s;
    struct opd_k8s_cache *cache;
    uint8_t steps[4];
    size_t off = 0, k = 0;

    if (size < 4)
        return 0;
    for (int i = 0; i < 4; i++)
        steps[i] = (uint8_t)(data[i] | 1);
    data += 4;
    size -= 4;
    cache = opd_k8s_cache_create(32, 10);
    if (!cache)
        return 0;
    opd_k8s_stream_init(&s, OPD_K8S_POD, 4096, on_event, cache);
    while (off < size) {
        size_t n = steps[k++ % 4];

        if (n > size - off)
            n = size - off;
        if (opd_k8s_stream_feed(&s, (const char *)data + off, n))
            break;
        off += n;
    }
    opd_k8s_stream_fini(&s);
    opd_k8s_cache_sweep(cache, 20);
    opd_k8s_cache_destroy(cache);
    return 0;
}
