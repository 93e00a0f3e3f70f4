/* Bytes → the persistent-queue file reader: the record scanner (magic, lengths, CRC,
 * resync after corruption) and a full open of a queue file holding them (recovery,
 * ack matching, compaction), which must never crash and must leave a file that opens to
 * the same requests again. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/exporterhelper/pqueue.h"
#include "collector/log.h"

static int count(const struct opd_pq_record *r, void *arg)
{
    /* The scanner only hands out records that lie inside the buffer. */
    volatile uint8_t sink = r->len ? r->payload[r->len - 1] : 0;
    (void)sink;
    (*(size_t *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct opd_pq_scan_stats st;
    struct opd_pq_item *items, *again;
    size_t n = 0, n_items, n_again;
    struct opd_pqueue *q;
    char path[64];
    FILE *f;

    opd_log_set_level(OPD_LOG_ERROR);
    opd_pq_scan(data, size, &st, count, &n);
    if (n != st.records)
        __builtin_trap();
    /* tmpfs when there is one: the queue makes its writes durable, which is slow on disk. */
    snprintf(path, sizeof(path), "%s/fuzz-pqueue-%d.queue",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
    f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    q = opd_pqueue_open(path, 0, false, "fuzz", &items, &n_items);
    if (q) {
        opd_pqueue_close(q);
        q = opd_pqueue_open(path, 0, false, "fuzz", &again, &n_again);
        if (!q || n_again != n_items)
            __builtin_trap();
        for (size_t i = 0; i < n_items; i++)
            if (again[i].len != items[i].len || again[i].seq != items[i].seq ||
                memcmp(again[i].data, items[i].data, items[i].len) != 0)
                __builtin_trap();
        opd_pq_items_free(again, n_again);
        opd_pqueue_close(q);
        opd_pq_items_free(items, n_items);
    }
    unlink(path);
    return 0;
}
