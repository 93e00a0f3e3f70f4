#include "collector/exporterhelper/pqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "collector/log.h"
#include "collector/mem.h"

#define PQ_MAGIC 0x3151504fu /* "OPQ1" read as little-endian u32 */

struct opd_pqueue {
    pthread_mutex_t lock;
    char *path, *who;
    int fd;
    int64_t max_bytes;
    bool fsync_each;
    uint64_t size; /* current file size */
    uint64_t next_seq;
    uint64_t pending; /* puts without an ack */
    uint64_t acks;    /* ack records appended since the last compaction */
};

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static uint32_t record_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, hdr, 28);
    if (len)
        crc = crc32(crc, payload, len);
    return (uint32_t)crc;
}

void opd_pq_header(uint8_t *hdr, enum opd_pq_type type, uint64_t seq, uint64_t items,
                   const uint8_t *payload, uint32_t len)
{
    memset(hdr, 0, OPD_PQ_HEADER_SIZE);
    put_le32(hdr, PQ_MAGIC);
    hdr[4] = (uint8_t)type;
    put_le64(hdr + 8, seq);
    put_le64(hdr + 16, items);
    put_le32(hdr + 24, len);
    put_le32(hdr + 28, record_crc(hdr, payload, len));
}

/* Returns the record length at p when it is valid, 0 otherwise. */
static size_t record_valid(const uint8_t *p, size_t avail, struct opd_pq_record *rec)
{
    uint32_t len;

    if (avail < OPD_PQ_HEADER_SIZE || get_le32(p) != PQ_MAGIC)
        return 0;
    if ((p[4] != OPD_PQ_PUT && p[4] != OPD_PQ_ACK) || p[5] || p[6] || p[7])
        return 0;
    len = get_le32(p + 24);
    if (len > OPD_PQ_MAX_PAYLOAD || (size_t)len > avail - OPD_PQ_HEADER_SIZE)
        return 0;
    if (p[4] == OPD_PQ_ACK && len != 0)
        return 0;
    if (record_crc(p, p + OPD_PQ_HEADER_SIZE, len) != get_le32(p + 28))
        return 0;
    rec->type = (enum opd_pq_type)p[4];
    rec->seq = get_le64(p + 8);
    rec->items = get_le64(p + 16);
    rec->len = len;
    rec->payload = p + OPD_PQ_HEADER_SIZE;
    return OPD_PQ_HEADER_SIZE + (size_t)len;
}

int opd_pq_scan(const uint8_t *buf, size_t len, struct opd_pq_scan_stats *stats,
                int (*fn)(const struct opd_pq_record *rec, void *arg), void *arg)
{
    size_t off = 0;
    bool in_bad = false;

    memset(stats, 0, sizeof(*stats));
    while (off < len) {
        struct opd_pq_record rec;
        size_t n = record_valid(buf + off, len - off, &rec);
        if (n == 0) {
            /* Torn or corrupt: skip forward to the next plausible record. */
            if (!in_bad)
                stats->corrupt++;
            in_bad = true;
            stats->skipped_bytes++;
            off++;
            continue;
        }
        in_bad = false;
        stats->records++;
        if (fn) {
            int rc = fn(&rec, arg);
            if (rc)
                return rc;
        }
        off += n;
    }
    return 0;
}

/* ---- recovery ---------------------------------------------------------------------- */

struct recover {
    struct opd_pq_item *items;
    size_t n, cap;
    uint64_t *acks;
    size_t n_acks, cap_acks;
    uint64_t max_seq;
};

static int recover_fn(const struct opd_pq_record *rec, void *arg)
{
    struct recover *r = arg;

    if (rec->seq > r->max_seq)
        r->max_seq = rec->seq;
    if (rec->type == OPD_PQ_ACK) {
        uint64_t *slot = OPD_VEC_PUSH_SLOT(r->acks, r->n_acks, r->cap_acks);
        if (!slot)
            return -ENOMEM;
        *slot = rec->seq;
        return 0;
    }
    struct opd_pq_item *it = OPD_VEC_PUSH_SLOT(r->items, r->n, r->cap);
    if (!it)
        return -ENOMEM;
    it->seq = rec->seq;
    it->items = rec->items;
    it->len = rec->len;
    it->data = opd_malloc(rec->len);
    if (!it->data) {
        r->n--;
        return -ENOMEM;
    }
    memcpy(it->data, rec->payload, rec->len);
    return 0;
}

void opd_pq_items_free(struct opd_pq_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        opd_free(items[i].data);
    opd_free(items);
}

/* Drops acknowledged puts and duplicate puts of one seq. */
static void recover_filter(struct recover *r)
{
    size_t w = 0;

    for (size_t i = 0; i < r->n; i++) {
        bool drop = false;
        for (size_t j = 0; j < r->n_acks && !drop; j++)
            drop = r->acks[j] == r->items[i].seq;
        for (size_t j = 0; j < w && !drop; j++)
            drop = r->items[j].seq == r->items[i].seq;
        if (drop)
            opd_free(r->items[i].data);
        else
            r->items[w++] = r->items[i];
    }
    r->n = w;
}

static int read_all(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *buf;
    size_t off = 0;

    if (fstat(fd, &st))
        return -errno;
    buf = opd_malloc((size_t)st.st_size);
    if (!buf)
        return -ENOMEM;
    while (off < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            opd_free(buf);
            return -e;
        }
        if (n == 0)
            break;
        off += (size_t)n;
    }
    *out = buf;
    *len = off;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir(const char *path)
{
    char *copy = opd_strdup(path);
    int dfd;

    if (!copy)
        return;
    dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    opd_free(copy);
}

/* Writes the pending items to path.tmp, makes it durable, and renames it over path. */
static int rewrite(struct opd_pqueue *q, const struct opd_pq_item *items, size_t n)
{
    size_t plen = strlen(q->path);
    char *tmp = opd_malloc(plen + 5);
    uint64_t size = 0;
    int fd = -1, rc = 0;

    if (!tmp)
        return -ENOMEM;
    memcpy(tmp, q->path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t hdr[OPD_PQ_HEADER_SIZE];
        opd_pq_header(hdr, OPD_PQ_PUT, items[i].seq, items[i].items, items[i].data,
                      (uint32_t)items[i].len);
        rc = write_all(fd, hdr, sizeof(hdr));
        if (rc == 0)
            rc = write_all(fd, items[i].data, items[i].len);
        size += sizeof(hdr) + items[i].len;
    }
    if (rc == 0 && fsync(fd))
        rc = -errno;
    if (rc == 0 && rename(tmp, q->path))
        rc = -errno;
    if (rc == 0) {
        fsync_dir(q->path);
        q->size = size;
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    opd_free(tmp);
    return rc;
}

struct opd_pqueue *opd_pqueue_open(const char *path, int64_t max_bytes, bool fsync_each,
                                   const char *who, struct opd_pq_item **items, size_t *n_items)
{
    struct opd_pqueue *q = opd_calloc(1, sizeof(*q));
    struct recover r = {0};
    struct opd_pq_scan_stats st;
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd = -1, rc = -ENOMEM;

    *items = NULL;
    *n_items = 0;
    if (!q)
        goto fail;
    pthread_mutex_init(&q->lock, NULL);
    q->fd = -1;
    q->max_bytes = max_bytes;
    q->fsync_each = fsync_each;
    q->path = opd_strdup(path);
    q->who = opd_strdup(who ? who : "pqueue");
    if (!q->path || !q->who)
        goto fail;
    fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        OPD_ERR(q->who, "open persistent queue %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = read_all(fd, &buf, &len);
    close(fd);
    if (rc)
        goto fail;
    rc = opd_pq_scan(buf, len, &st, recover_fn, &r);
    if (rc)
        goto fail;
    if (st.corrupt)
        OPD_WARN(q->who,
                 "persistent queue %s: skipped %llu corrupt or torn region(s), %llu "
                 "bytes (checksum, length or magic mismatch)",
                 path, (unsigned long long)st.corrupt, (unsigned long long)st.skipped_bytes);
    recover_filter(&r);
    rc = rewrite(q, r.items, r.n);
    if (rc) {
        OPD_ERR(q->who, "compact persistent queue %s: %s", path, strerror(-rc));
        goto fail;
    }
    q->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (q->fd < 0) {
        rc = -errno;
        goto fail;
    }
    q->next_seq = r.max_seq + 1;
    q->pending = r.n;
    if (r.n)
        OPD_INFO(q->who, "persistent queue %s: recovered %zu request(s)", path, r.n);
    *items = r.items;
    *n_items = r.n;
    opd_free(r.acks);
    opd_free(buf);
    return q;
fail:
    opd_pq_items_free(r.items, r.n);
    opd_free(r.acks);
    opd_free(buf);
    opd_pqueue_close(q);
    errno = -rc;
    return NULL;
}

/* Rewrites the file with only the pending puts, to make room under max_bytes (lock
 * held). Returns 0 or -errno. */
static int compact_locked(struct opd_pqueue *q)
{
    struct recover r = {0};
    struct opd_pq_scan_stats st;
    uint8_t *buf = NULL;
    size_t len = 0;
    int fd, rc;

    fd = open(q->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = read_all(fd, &buf, &len);
    close(fd);
    if (rc)
        return rc;
    rc = opd_pq_scan(buf, len, &st, recover_fn, &r);
    if (rc)
        goto out;
    recover_filter(&r);
    rc = rewrite(q, r.items, r.n);
    if (rc)
        goto out;
    close(q->fd);
    q->fd = open(q->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (q->fd < 0)
        rc = -errno;
    q->pending = r.n;
    q->acks = 0;
out:
    opd_pq_items_free(r.items, r.n);
    opd_free(r.acks);
    opd_free(buf);
    return rc;
}

static int append(struct opd_pqueue *q, const uint8_t *hdr, const uint8_t *data, size_t len)
{
    int rc = write_all(q->fd, hdr, OPD_PQ_HEADER_SIZE);

    if (rc == 0 && len)
        rc = write_all(q->fd, data, len);
    if (rc == 0 && q->fsync_each && fdatasync(q->fd))
        rc = -errno;
    if (rc == 0)
        q->size += OPD_PQ_HEADER_SIZE + len;
    return rc;
}

int opd_pqueue_put(struct opd_pqueue *q, const uint8_t *data, size_t len, uint64_t items,
                   uint64_t *seq)
{
    uint8_t hdr[OPD_PQ_HEADER_SIZE];
    int rc;

    if (len > OPD_PQ_MAX_PAYLOAD)
        return -EMSGSIZE;
    pthread_mutex_lock(&q->lock);
    if (q->max_bytes > 0 && q->size + OPD_PQ_HEADER_SIZE + len > (uint64_t)q->max_bytes &&
        q->acks > 0) {
        /* Retired requests still take room in the log: drop them before refusing. */
        rc = compact_locked(q);
        if (rc)
            goto out;
    }
    if (q->max_bytes > 0 && q->size + OPD_PQ_HEADER_SIZE + len > (uint64_t)q->max_bytes) {
        rc = -ENOSPC;
        goto out;
    }
    *seq = q->next_seq++;
    opd_pq_header(hdr, OPD_PQ_PUT, *seq, items, data, (uint32_t)len);
    rc = append(q, hdr, data, len);
    if (rc == 0)
        q->pending++;
out:
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int opd_pqueue_ack(struct opd_pqueue *q, uint64_t seq)
{
    uint8_t hdr[OPD_PQ_HEADER_SIZE];
    int rc;

    pthread_mutex_lock(&q->lock);
    if (q->pending)
        q->pending--;
    if (q->pending == 0) {
        /* Nothing left to recover: start the log afresh instead of growing it. */
        rc = ftruncate(q->fd, 0) ? -errno : 0;
        if (rc == 0) {
            q->size = 0;
            q->acks = 0;
            if (q->fsync_each)
                fdatasync(q->fd);
        }
    } else {
        opd_pq_header(hdr, OPD_PQ_ACK, seq, 0, NULL, 0);
        rc = append(q, hdr, NULL, 0);
        if (rc == 0)
            q->acks++;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

uint64_t opd_pqueue_pending(struct opd_pqueue *q)
{
    uint64_t n;

    pthread_mutex_lock(&q->lock);
    n = q->pending;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void opd_pqueue_close(struct opd_pqueue *q)
{
    if (!q)
        return;
    if (q->fd >= 0) {
        fsync(q->fd);
        close(q->fd);
    }
    pthread_mutex_destroy(&q->lock);
    opd_free(q->path);
    opd_free(q->who);
    opd_free(q);
}
