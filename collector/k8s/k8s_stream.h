/* The two response shapes of the Kubernetes API the metadata client reads:
 *  - a LIST body: {"kind": "PodList", "metadata": {"resourceVersion", "continue"},
 *    "items": [...]};
 *  - a WATCH stream: one JSON event per line, {"type": ADDED|MODIFIED|DELETED|BOOKMARK|
 *    ERROR, "object": {...}}, delivered in HTTP chunks that split lines anywhere.
 * The stream decoder reassembles lines across chunks, bounds their length and hands each
 * decoded event to a callback. */
#ifndef OPD_K8S_STREAM_H
#define OPD_K8S_STREAM_H

#include <stddef.h>

#include "collector/k8s/k8s_object.h"

enum opd_k8s_event_type {
    OPD_K8S_ADDED,
    OPD_K8S_MODIFIED,
    OPD_K8S_DELETED,
    OPD_K8S_BOOKMARK,
    OPD_K8S_ERROR,
};

struct opd_k8s_event {
    enum opd_k8s_event_type type;
    struct opd_k8s_object *obj;   /* ADDED/MODIFIED/DELETED; borrowed for the callback */
    const char *resource_version; /* of the object or bookmark; "" when absent */
    int code;                     /* ERROR: the Status code (410 = resourceVersion too old) */
    const char *message;          /* ERROR: the Status message, "" when absent */
};

/* Called for every event; a nonzero return stops decoding and is returned by feed. */
typedef int (*opd_k8s_event_fn)(void *arg, const struct opd_k8s_event *ev);

struct opd_k8s_stream {
    enum opd_k8s_kind kind;
    char *buf;
    size_t len, cap;
    size_t max_line;
    opd_k8s_event_fn fn;
    void *arg;
    unsigned long events;
};

/* Prepares a decoder for watch events of kind; lines longer than max_line bytes are an
 * error. */
void opd_k8s_stream_init(struct opd_k8s_stream *s, enum opd_k8s_kind kind, size_t max_line,
                         opd_k8s_event_fn fn, void *arg);
void opd_k8s_stream_fini(struct opd_k8s_stream *s);

/* Feeds len bytes of the (de-chunked) response body. Returns 0, the callback's nonzero
 * result, -EMSGSIZE for an over-long line, -EPROTO for a line that is not a watch event,
 * or -ENOMEM. After an error the stream must be reset (fini + init) before reuse. */
int opd_k8s_stream_feed(struct opd_k8s_stream *s, const char *data, size_t len);

/* Decodes one watch event line (without the newline). Same results as feed. */
int opd_k8s_event_decode(enum opd_k8s_kind kind, const char *line, size_t len, opd_k8s_event_fn fn,
                         void *arg);

struct opd_k8s_list {
    struct opd_k8s_object **items;
    size_t n;
    char *resource_version; /* list metadata.resourceVersion */
    char *cont;             /* metadata.continue, "" on the last page */
    size_t skipped;         /* items that could not be decoded (no uid/name) */
};

/* Decodes a LIST body of kind into out (zeroed by the caller). Returns 0, -EPROTO when
 * the body is not a list, -ENOMEM. out must be released with opd_k8s_list_fini either way. */
int opd_k8s_list_decode(enum opd_k8s_kind kind, const char *body, size_t len,
                        struct opd_k8s_list *out);
void opd_k8s_list_fini(struct opd_k8s_list *l);

#endif
