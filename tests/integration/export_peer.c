#include "tests/integration/export_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char shared_dir[1024];

const char *peer_setup(void)
{
    const char *src = getenv("OPD_SOURCE_DIR");
    char cmd[1200], nodepath[1024] = "";
    struct stat st;
    FILE *f;

    if (shared_dir[0])
        return shared_dir;
    if (!src) {
        printf("SKIP: OPD_SOURCE_DIR is not set (run through ctest)\n");
        return NULL;
    }
    snprintf(shared_dir, sizeof(shared_dir), "%s/../shared", src);
    snprintf(cmd, sizeof(cmd), "%s/peer/otlp-sink", shared_dir);
    if (stat(cmd, &st) != 0) {
        printf("SKIP: no OTLP peer at %s\n", cmd);
        shared_dir[0] = '\0';
        return NULL;
    }
    if (system("command -v node >/dev/null 2>&1") != 0) {
        printf("SKIP: node is not installed (the peer needs it)\n");
        shared_dir[0] = '\0';
        return NULL;
    }
    snprintf(cmd, sizeof(cmd), "%s/peer/install-deps.sh 2>/dev/null", shared_dir);
    f = popen(cmd, "r");
    if (!f || !fgets(nodepath, sizeof(nodepath), f)) {
        if (f)
            pclose(f);
        printf("SKIP: the peer's npm packages could not be installed\n");
        shared_dir[0] = '\0';
        return NULL;
    }
    pclose(f);
    nodepath[strcspn(nodepath, "\n")] = '\0';
    setenv("NODE_PATH", nodepath, 1);
    return shared_dir;
}

int peer_start(struct peer *p, const char *dir, const char *name, int port,
               const char *const *flags)
{
    return peer_start_on(p, dir, name, "127.0.0.1", port, flags);
}

int peer_start_on(struct peer *p, const char *dir, const char *name, const char *host, int port,
                  const char *const *flags)
{
    char sink[1100], listen[64];
    const char *argv[64];
    size_t n = 0;

    memset(p, 0, sizeof(*p));
    snprintf(sink, sizeof(sink), "%s/peer/otlp-sink", shared_dir);
    snprintf(listen, sizeof(listen), "%s:%d", host, port);
    snprintf(p->out, sizeof(p->out), "%s/%s.jsonl", dir, name);
    snprintf(p->portfile, sizeof(p->portfile), "%s/%s.port", dir, name);
    unlink(p->portfile);
    argv[n++] = sink;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--port-file";
    argv[n++] = p->portfile;
    argv[n++] = "--out";
    argv[n++] = p->out;
    argv[n++] = "--append";
    argv[n++] = "--quiet";
    for (size_t i = 0; flags && flags[i] && n < 62; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        /* The sink must not outlive a test that failed half way. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        execv(sink, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        FILE *f = fopen(p->portfile, "r");
        int status;
        if (f) {
            int ok = fscanf(f, "%d", &p->port) == 1;
            fclose(f);
            if (ok && p->port > 0)
                return 0;
        }
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            fprintf(stderr, "otlp-sink exited early (status %d)\n", status);
            p->pid = 0;
            return -1;
        }
        usleep(50000);
    }
    peer_stop(p);
    return -1;
}

void peer_stop(struct peer *p)
{
    int status;

    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        usleep(50000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
}

json_t *peer_records(const struct peer *p)
{
    json_t *arr = json_array();
    FILE *f = fopen(p->out, "r");
    char *line = NULL;
    size_t cap = 0;

    if (!f)
        return arr;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *r = json_loads(line, 0, &e);
        if (r)
            json_array_append_new(arr, r);
    }
    free(line);
    fclose(f);
    return arr;
}

size_t peer_count(json_t *recs, const char *kind)
{
    size_t i, n = 0;
    json_t *r;

    json_array_foreach(recs, i, r)
    {
        const char *k = json_string_value(json_object_get(r, "kind"));
        if (k && strcmp(k, kind) == 0)
            n++;
    }
    return n;
}

size_t peer_count_status(json_t *recs, const char *status)
{
    size_t i, n = 0;
    json_t *r;

    json_array_foreach(recs, i, r)
    {
        const char *s =
            json_string_value(json_object_get(json_object_get(r, "response"), "status"));
        const char *k = json_string_value(json_object_get(r, "kind"));
        if (k && strcmp(k, "export") == 0 && s && strcmp(s, status) == 0)
            n++;
    }
    return n;
}

size_t peer_error_violations(json_t *recs)
{
    size_t i, j, n = 0;
    json_t *r, *v;

    json_array_foreach(recs, i, r)
    {
        json_array_foreach(json_object_get(r, "violations"), j, v)
        {
            const char *sev = json_string_value(json_object_get(v, "severity"));
            if (sev && strcmp(sev, "error") == 0) {
                fprintf(stderr, "peer violation: %s at %s: %s\n",
                        json_string_value(json_object_get(v, "rule")),
                        json_string_value(json_object_get(v, "path")),
                        json_string_value(json_object_get(v, "message")));
                n++;
            }
        }
    }
    return n;
}

size_t peer_count_rule(json_t *recs, const char *rule)
{
    size_t i, j, n = 0;
    json_t *r, *v;

    json_array_foreach(recs, i, r)
    {
        json_array_foreach(json_object_get(r, "violations"), j, v)
        {
            const char *k = json_string_value(json_object_get(v, "rule"));
            if (k && strcmp(k, rule) == 0)
                n++;
        }
    }
    return n;
}

size_t peer_ok_samples(json_t *recs)
{
    size_t i, n = 0;
    json_t *r;

    json_array_foreach(recs, i, r)
    {
        const char *s =
            json_string_value(json_object_get(json_object_get(r, "response"), "status"));
        if (!s || strcmp(s, "OK") != 0)
            continue;
        n += (size_t)json_integer_value(json_object_get(json_object_get(r, "summary"), "samples"));
    }
    return n;
}

int peer_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int peer_make_certs(const char *dir)
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd),
             "(set -e; cd '%s'; K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
             "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=opd-test-ca;"
             "openssl req -x509 $K -keyout ca2.key -out ca2.pem -days 2 -subj /CN=opd-other-ca;"
             "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost;"
             "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext;"
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out server.pem -days 2 -extfile san.ext;"
             "openssl req $K -keyout client.key -out client.csr -subj /CN=opd-client;"
             "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out client.pem -days 2) >/dev/null 2>&1",
             dir);
    return system(cmd) == 0 ? 0 : -1;
}
