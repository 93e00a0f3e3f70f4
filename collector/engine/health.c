#include "collector/engine/health.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "collector/log.h"
#include "collector/mem.h"

enum entry_kind { KIND_STATE, KIND_ATTEMPTS };

struct entry {
    char *name;
    char *message;
    enum entry_kind kind;
    bool ok;              /* state, or the last attempt's outcome */
    uint64_t consecutive; /* failed attempts since the last success */
    uint64_t last_fail_ns;
};

static pthread_mutex_t board_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *board;
static size_t board_n, board_cap;

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Finds or adds the entry of name (lock held); NULL on -ENOMEM. */
static struct entry *entry_get(const char *name, enum entry_kind kind)
{
    struct entry *e;

    for (size_t i = 0; i < board_n; i++)
        if (strcmp(board[i].name, name) == 0)
            return &board[i];
    if (opd_vec_reserve((void **)&board, &board_cap, board_n + 1, sizeof(*board)))
        return NULL;
    e = &board[board_n];
    memset(e, 0, sizeof(*e));
    e->name = opd_strdup(name);
    if (!e->name)
        return NULL;
    e->kind = kind;
    e->ok = true;
    board_n++;
    return e;
}

/* Replaces e's message (lock held). A failed copy leaves no message rather than a stale
 * one. */
static int set_message(struct entry *e, const char *message)
{
    opd_free(e->message);
    e->message = NULL;
    if (!message)
        return 0;
    e->message = opd_strdup(message);
    return e->message ? 0 : -ENOMEM;
}

/* keep_message: a state derived from telemetry that agrees with the component's own
 * leaves the component's words (which say more) in place. */
static int report(const char *component, bool ok, const char *message, enum entry_kind kind,
                  bool keep_message)
{
    struct entry *e;
    int err = -ENOMEM;

    if (!component)
        return -EINVAL;
    pthread_mutex_lock(&board_lock);
    e = entry_get(component, kind);
    if (!e)
        goto out;
    if (keep_message && e->kind == kind && e->ok == ok && e->message) {
        err = 0;
        goto out;
    }
    e->kind = kind;
    e->ok = ok;
    if (kind == KIND_ATTEMPTS) {
        if (ok) {
            e->consecutive = 0;
        } else {
            e->consecutive++;
            e->last_fail_ns = mono_ns();
        }
    }
    err = set_message(e, message);
out:
    pthread_mutex_unlock(&board_lock);
    if (err)
        OPD_WARN("health", "cannot record the health of %s: %s", component, strerror(-err));
    return err;
}

int opd_health_report(const char *component, bool ok, const char *message)
{
    return report(component, ok, message, KIND_STATE, false);
}

int opd_health_report_derived(const char *component, bool ok, const char *message)
{
    return report(component, ok, message, KIND_STATE, true);
}

int opd_health_report_attempt(const char *component, bool ok, const char *message)
{
    return report(component, ok, message, KIND_ATTEMPTS, false);
}

void opd_health_forget(const char *component)
{
    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < board_n; i++) {
        if (strcmp(board[i].name, component) != 0)
            continue;
        opd_free(board[i].name);
        opd_free(board[i].message);
        memmove(&board[i], &board[i + 1], (board_n - i - 1) * sizeof(*board));
        board_n--;
        break;
    }
    pthread_mutex_unlock(&board_lock);
}

void opd_health_reset(void)
{
    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < board_n; i++) {
        opd_free(board[i].name);
        opd_free(board[i].message);
    }
    opd_free(board);
    board = NULL;
    board_n = board_cap = 0;
    pthread_mutex_unlock(&board_lock);
}

static bool entry_healthy(const struct entry *e, const struct opd_health_policy *p, uint64_t now)
{
    uint64_t threshold = p->failure_threshold ? p->failure_threshold : 1;

    if (e->kind == KIND_STATE || e->ok)
        return e->ok;
    if (e->consecutive < threshold)
        return true;
    /* A failure reported after the caller read its clock is brand new. */
    return p->window_ns && now > e->last_fail_ns && now - e->last_fail_ns > p->window_ns;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

bool opd_health_evaluate(const struct opd_health_policy *policy, uint64_t now_ns, bool all,
                         FILE *out)
{
    bool healthy = true;
    bool first = true;

    pthread_mutex_lock(&board_lock);
    for (size_t i = 0; i < board_n; i++)
        healthy &= entry_healthy(&board[i], policy, now_ns);
    if (out) {
        fprintf(out, "{\"healthy\":%s,\"components\":[", healthy ? "true" : "false");
        for (size_t i = 0; i < board_n; i++) {
            const struct entry *e = &board[i];
            bool ok = entry_healthy(e, policy, now_ns);

            if (ok && !all)
                continue;
            fprintf(out, "%s{\"component\":", first ? "" : ",");
            json_string(out, e->name);
            fprintf(out, ",\"healthy\":%s", ok ? "true" : "false");
            if (e->kind == KIND_ATTEMPTS)
                fprintf(out, ",\"consecutive_failures\":%llu", (unsigned long long)e->consecutive);
            fputs(",\"message\":", out);
            json_string(out, e->message ? e->message : (ok ? "ok" : "unhealthy"));
            fputc('}', out);
            first = false;
        }
        fputs("]}", out);
    }
    pthread_mutex_unlock(&board_lock);
    return healthy;
}
