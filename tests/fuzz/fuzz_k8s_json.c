/* libFuzzer target: Kubernetes API JSON decoding (LIST bodies of every kind, single
 * watch event lines, objects) and what the processors read from decoded objects. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/k8s/k8s_cache.h"
#include "collector/k8s/k8s_client.h"
#include "collector/k8s/k8s_stream.h"

static int on_event(void *arg, const struct opd_k8s_event *ev)
{
    struct opd_k8s_cache *c = arg;

    if (ev->obj && ev->type != OPD_K8S_DELETED)
        opd_k8s_cache_put(c, ev->obj);
    else if (ev->obj)
        opd_k8s_cache_delete(c, ev->obj->uid, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_k8s_cache *cache;
    struct opd_k8s_list l = {0};
    enum opd_k8s_kind kind;

    if (size < 1)
        return 0;
    kind = (enum opd_k8s_kind)(data[0] % OPD_K8S_NKINDS);
    data++;
    size--;
    cache = opd_k8s_cache_create(64, 10);
    if (!cache)
        return 0;
    if (opd_k8s_list_decode(kind, (const char *)data, size, &l) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            const char *wk;
            char name[64], img[64], tag[32];
            struct opd_k8s_object *owner;

            opd_k8s_cache_put(cache, l.items[i]);
            opd_k8s_resolve_workload(cache, l.items[i], &wk, name, sizeof(name), &owner);
            opd_k8s_object_unref(owner);
            for (size_t j = 0; j < l.items[i]->n_containers; j++)
                opd_k8s_image_split(l.items[i]->containers[j].image, img, sizeof(img), tag,
                                    sizeof(tag));
        }
    }
    opd_k8s_list_fini(&l);
    opd_k8s_event_decode(kind, (const char *)data, size, on_event, cache);
    opd_k8s_cache_sweep(cache, 100);
    opd_k8s_cache_destroy(cache);
    return 0;
}
