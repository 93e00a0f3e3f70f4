/* Test helper: runs the independent OTLP receiver (shared/peer/otlp-sink, grpc-js) as a
 * child process on a loopback port and reads back what it recorded (JSONL). */
#ifndef OPD_EXPORT_PEER_H
#define OPD_EXPORT_PEER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct peer {
    pid_t pid;
    int port;
    char out[512];
    char portfile[512];
};

/* Finds shared/ beside the source tree and installs the peer's npm packages (NODE_PATH).
 * Returns the shared/ path, or NULL with the reason printed when the peer is unusable. */
const char *peer_setup(void);

/* Starts otlp-sink on 127.0.0.1:port (0 = any) with extra flags (NULL-terminated), writing
 * records to dir/name.jsonl; waits until it listens. Returns 0 or -1. */
int peer_start(struct peer *p, const char *dir, const char *name, int port,
               const char *const *flags);
/* As peer_start, listening on host ("127.0.0.1", "[::1]"). */
int peer_start_on(struct peer *p, const char *dir, const char *name, const char *host, int port,
                  const char *const *flags);
/* Stops the sink (SIGTERM, graceful) and waits for it. */
void peer_stop(struct peer *p);

/* Loads every record written so far (a JSON array; caller json_decref). */
json_t *peer_records(const struct peer *p);
/* Counts records of kind ("export", "rejected_stream", "call_cancelled"). */
size_t peer_count(json_t *recs, const char *kind);
/* Counts export records answered with this gRPC status name ("OK", "UNAVAILABLE"). */
size_t peer_count_status(json_t *recs, const char *status);
/* Counts error-severity violations over all records. */
size_t peer_error_violations(json_t *recs);
/* Counts violations (any severity) with this rule over all records. */
size_t peer_count_rule(json_t *recs, const char *rule);
/* Sum of summary.samples over export records answered OK. */
size_t peer_ok_samples(json_t *recs);

/* Returns a free loopback TCP port (bound and released). */
int peer_free_port(void);

/* Makes a throw-away CA, server (localhost, 127.0.0.1) and client certificates, and a
 * second unrelated CA, in dir with openssl. Returns 0 or -1. */
int peer_make_certs(const char *dir);

#endif
