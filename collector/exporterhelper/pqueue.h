/* Persistent queue file: an append-only log of checksummed records, so that requests
 * queued by an exporter survive a crash or restart and a torn write is detected and
 * skipped instead of crashing or replaying garbage.
 *
 * Record (little-endian): magic "OPQ1" u32, type u8 (1 put, 2 ack), 3 zero bytes,
 * seq u64, items u64, payload length u32, crc32 u32 over the first 28 header bytes and the
 * payload, then the payload. A put carries one request; an ack (no payload) retires the
 * put with the same seq. On open the file is scanned, puts without an ack are kept, and
 * the file is rewritten with only those (compaction). */
#ifndef OPD_PQUEUE_H
#define OPD_PQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPD_PQ_HEADER_SIZE 32
#define OPD_PQ_MAX_PAYLOAD (256u << 20)

enum opd_pq_type {
    OPD_PQ_PUT = 1,
    OPD_PQ_ACK = 2,
};

struct opd_pq_record {
    enum opd_pq_type type;
    uint64_t seq;
    uint64_t items;
    const uint8_t *payload; /* points into the scanned buffer */
    uint32_t len;
};

struct opd_pq_scan_stats {
    uint64_t records;
    uint64_t corrupt;       /* regions skipped: bad magic, crc, length or type */
    uint64_t skipped_bytes; /* bytes inside those regions */
};

/* Walks buf record by record, calling fn for each valid one; a corrupt or torn region is
 * counted and skipped by searching for the next magic. fn returns 0 to go on or -errno to
 * stop (returned). Returns 0 otherwise. Never reads outside buf. */
int opd_pq_scan(const uint8_t *buf, size_t len, struct opd_pq_scan_stats *stats,
                int (*fn)(const struct opd_pq_record *rec, void *arg), void *arg);

/* Encodes a record header for payload into hdr (OPD_PQ_HEADER_SIZE bytes). */
void opd_pq_header(uint8_t *hdr, enum opd_pq_type type, uint64_t seq, uint64_t items,
                   const uint8_t *payload, uint32_t len);

struct opd_pqueue;

/* A request recovered from the file. */
struct opd_pq_item {
    uint64_t seq;
    uint64_t items;
    uint8_t *data; /* opd_malloc; ownership moves to the caller */
    size_t len;
};

/* Opens (creating) the queue file at path, recovers the pending requests into *items
 * (*n_items of them, array and data owned by the caller; free with opd_pq_items_free)
 * and compacts the file. max_bytes bounds the file (0 = unbounded); fsync_each makes
 * every append durable before it returns. NULL with errno on failure; who names the
 * owner in log lines. */
struct opd_pqueue *opd_pqueue_open(const char *path, int64_t max_bytes, bool fsync_each,
                                   const char *who, struct opd_pq_item **items, size_t *n_items);
void opd_pq_items_free(struct opd_pq_item *items, size_t n);

/* Appends a put; assigns and returns its seq in *seq. Returns 0, -ENOSPC (max_bytes
 * would be exceeded) or -errno. Thread-safe. */
int opd_pqueue_put(struct opd_pqueue *q, const uint8_t *data, size_t len, uint64_t items,
                   uint64_t *seq);
/* Appends an ack for seq, and truncates the file when nothing is pending. 0 or -errno. */
int opd_pqueue_ack(struct opd_pqueue *q, uint64_t seq);
/* Number of puts not yet acknowledged. */
uint64_t opd_pqueue_pending(struct opd_pqueue *q);
/* Closes the file (pending records stay for the next open). NULL is a no-op. */
void opd_pqueue_close(struct opd_pqueue *q);

#endif
