/* Drained kernel data → batch. The bytes play the part of what the BPF maps hold (sample
 * keys with counts, stacks with lengths), including lengths and ids the kernel would never
 * write; whatever they are, the builder must produce a batch that passes opd_batch_check
 * and sums to the recorded counts that survive, and the CPU list parser must not misread.
 * /proc is pointed at a missing directory so every process is "gone" and runs are
 * deterministic. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/receivers/profiling/build.h"
#include "collector/receivers/profiling/cpus.h"
#include "collector/receivers/profiling/drain.h"
#include "collector/receivers/profiling/proctab.h"
#include "otlp/profiles.h"

static struct opd_proctab *tab;

static size_t take(const uint8_t **p, size_t *n, void *out, size_t want)
{
    size_t k = *n < want ? *n : want;

    memset(out, 0, want);
    memcpy(out, *p, k);
    *p += k;
    *n -= k;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_build_params bp = {.samples_per_second = 19, .host_name = "fuzz", .now = 1};
    struct opd_drain d;
    struct opd_batch *b;
    uint8_t mask[64];
    uint64_t want = 0;
    char err[256];

    opd_cpus_parse((const char *)data, size, mask, 64);
    if (!tab) {
        struct opd_proctab_config pc = {.procfs_root = "/nonexistent-procfs"};

        tab = opd_proctab_create(&pc, NULL, "fuzz");
        if (!tab)
            abort();
    }
    bp.tab = tab;
    opd_drain_init(&d);
    /* Layout: records of {key, u16 count}, then stacks of {u8 id, u8 len, u8 kernel,
     * len × u64}, split by the first byte. Stack ids are small so records hit them. */
    if (size < 1)
        goto out;
    {
        size_t nrec = data[0] % 16;
        const uint8_t *p = data + 1;
        size_t n = size - 1;

        for (size_t i = 0; i < nrec && n; i++) {
            struct opd_sample_key k;
            uint16_t c;

            take(&p, &n, &k, sizeof(k));
            take(&p, &n, &c, sizeof(c));
            k.ustack &= 0xff;
            k.kstack &= 0xff;
            k.tgid = k.tgid % 8 + 1;
            if (opd_drain_add_record(&d, &k, c))
                goto out;
            want += c;
        }
        while (n >= 3) {
            struct opd_bpf_stack st;
            uint8_t hdr[3];

            take(&p, &n, hdr, 3);
            memset(&st, 0, sizeof(st));
            st.len = hdr[1];
            st.kernel = hdr[2] & 1;
            take(&p, &n, st.ip, (hdr[1] % 32) * sizeof(uint64_t));
            if (opd_drain_add_stack(&d, hdr[0], &st))
                goto out;
        }
    }
    opd_drain_finish(&d);
    b = opd_profiling_build(&bp, &d, NULL);
    if (!b)
        abort(); /* no allocation limit here: only ENOMEM may fail */
    if (opd_batch_check(b, err, sizeof(err)) && opd_batch_sample_count(b) > 0) {
        fprintf(stderr, "invalid batch: %s\n", err);
        abort();
    }
    if (opd_batch_sample_count(b) > want)
        abort();
    opd_batch_unref(b);
    opd_proctab_sweep(tab, 2);
out:
    opd_drain_fini(&d);
    return 0;
}
