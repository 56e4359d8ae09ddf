/*
 * Helpers shared by the embedding-API test programs (Tests/AgentRTNativeTests/Fixtures/capi).
 * Header-only; the programs are plain C11 hosts built like any embedding host:
 *   cc -std=c11 -I include prog.c -L <products> -lAgentRT -Wl,-rpath,<products> -lpthread -o prog
 *
 * Every check prints one line ("ok   <name>") and the first failing one prints
 * "FAIL <name>: <details>" and exits with status 1. A watchdog (SIGALRM) turns a hang into
 * "FAIL <last check started>: hung" and exit status 3, so a deadlock names itself too.
 */
#ifndef CAPI_COMMON_H
#define CAPI_COMMON_H

#define _POSIX_C_SOURCE 200809L
#include <agentrt/agentrt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAPI_UNUSED __attribute__((unused))

static const char *volatile capi_current = "startup";
static atomic_int capi_checks;

CAPI_UNUSED static void capi_on_alarm(int sig) {
    const char *name = capi_current;
    (void)sig;
    /* async-signal-safe output only */
    (void)!write(1, "FAIL ", 5);
    (void)!write(1, name, strlen(name));
    (void)!write(1, ": hung (watchdog fired; no answer within the time limit)\n", 57);
    _exit(3);
}

/* Arms the watchdog: the program exits with status 3 after `seconds`. */
CAPI_UNUSED static void capi_watchdog(unsigned seconds) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = capi_on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

/* Names the check about to run (for the watchdog's message). */
CAPI_UNUSED static void capi_begin(const char *name) { capi_current = name; }

CAPI_UNUSED static void capi_pass(const char *name) {
    printf("ok   %s\n", name);
    fflush(stdout);
    atomic_fetch_add(&capi_checks, 1);
}

CAPI_UNUSED __attribute__((format(printf, 2, 3), noreturn))
static void capi_fail(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

/* CHECK(name, condition, printf-style details shown on failure) */
#define CHECK(name, cond, ...)                                    \
    do {                                                          \
        capi_begin(name);                                         \
        if (cond) capi_pass(name); else capi_fail(name, __VA_ARGS__); \
    } while (0)

CAPI_UNUSED static const char *capi_s(const char *s) { return s ? s : "(NULL)"; }

/* Checks a status against the expected one; the message shows both names and `detail`. */
#define CHECK_STATUS(name, got, want, detail)                                                     \
    do {                                                                                          \
        agentrt_status g_ = (got), w_ = (want);                                                   \
        CHECK(name, g_ == w_, "got %s (%d), expected %s (%d); message: %s", agentrt_status_string(g_), \
              (int)g_, agentrt_status_string(w_), (int)w_, capi_s(detail));                       \
    } while (0)

CAPI_UNUSED static int64_t capi_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

CAPI_UNUSED static void capi_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {}
}

/* A deadline `ms` from now on CLOCK_MONOTONIC, for pthread_cond_timedwait. */
CAPI_UNUSED static struct timespec capi_deadline(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    return ts;
}

/* A mutex + condition variable pair using CLOCK_MONOTONIC. */
typedef struct { pthread_mutex_t lock; pthread_cond_t cond; } capi_monitor;

CAPI_UNUSED static void capi_monitor_init(capi_monitor *m) {
    pthread_condattr_t attr;
    pthread_mutex_init(&m->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* ------------------------------------------------------------------ run completions */

/* Records agentrt_run_async completions: how many, and the first one's details. */
typedef struct {
    capi_monitor m;
    atomic_int calls;
    agentrt_status status;
    char run_id[160];
    char text[2048];
    pthread_t thread;
    int64_t at_ms;
    agentrt_runtime *rt;      /* for callbacks that call back into the API */
    agentrt_status reentry;   /* status of that call */
    int reenter;
} capi_completion;

CAPI_UNUSED static void capi_completion_init(capi_completion *c) {
    memset(c, 0, sizeof *c);
    capi_monitor_init(&c->m);
    atomic_init(&c->calls, 0);
    c->status = -1;
}

CAPI_UNUSED static void capi_on_done(void *user_data, agentrt_status status, const char *run_id, const char *text) {
    capi_completion *c = user_data;
    if (c->reenter) {
        char *json = NULL;
        c->reentry = agentrt_stats_json(c->rt, &json);
        agentrt_free(json);
    }
    pthread_mutex_lock(&c->m.lock);
    if (atomic_fetch_add(&c->calls, 1) == 0) {
        c->status = status;
        snprintf(c->run_id, sizeof c->run_id, "%s", capi_s(run_id));
        snprintf(c->text, sizeof c->text, "%s", capi_s(text));
        c->thread = pthread_self();
        c->at_ms = capi_now_ms();
    }
    pthread_cond_broadcast(&c->m.cond);
    pthread_mutex_unlock(&c->m.lock);
}

/* Waits until the completion arrived (1) or `ms` passed (0). */
CAPI_UNUSED static int capi_wait_completion(capi_completion *c, long ms) {
    struct timespec until = capi_deadline(ms);
    int done;
    pthread_mutex_lock(&c->m.lock);
    while (atomic_load(&c->calls) == 0) {
        if (pthread_cond_timedwait(&c->m.cond, &c->m.lock, &until) != 0) break;
    }
    done = atomic_load(&c->calls) > 0;
    pthread_mutex_unlock(&c->m.lock);
    return done;
}

/* ------------------------------------------------------------------ event logs */

#define CAPI_MAX_EVENTS 256

/* Records the events a subscription delivers. */
typedef struct {
    capi_monitor m;
    char user[300];
    int count, foreign, late;
    long long seq[CAPI_MAX_EVENTS];
    char type[CAPI_MAX_EVENTS][32];
    char run_id[CAPI_MAX_EVENTS][96];
    atomic_int closed;          /* set by the test after agentrt_unsubscribe returned */
    /* Optional re-entry: unsubscribe (or free the runtime) from inside the callback. */
    agentrt_runtime *rt;
    uint64_t sub;
    atomic_int sub_ready;
    int unsubscribe_inside, free_inside;
    agentrt_status inside_status;
    atomic_int inside_done;
} capi_events;

CAPI_UNUSED static void capi_events_init(capi_events *e, const char *user) {
    memset(e, 0, sizeof *e);
    capi_monitor_init(&e->m);
    snprintf(e->user, sizeof e->user, "%s", user);
    e->inside_status = -1;
}

/* Copies the string value of "key":"..." from a JSON object into out (empty when absent). */
CAPI_UNUSED static void capi_json_string(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    const char *p;
    size_t n = 0;
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    out[0] = '\0';
    p = strstr(json, pattern);
    if (!p) return;
    p += strlen(pattern);
    while (p[n] && p[n] != '"' && n + 1 < cap) { out[n] = p[n]; n++; }
    out[n] = '\0';
}

/* The integer value of "key":<n> in a JSON object, or `fallback`. */
CAPI_UNUSED static long long capi_json_int(const char *json, const char *key, long long fallback) {
    char pattern[64];
    const char *p;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    p = strstr(json, pattern);
    if (!p) return fallback;
    p += strlen(pattern);
    while (*p == ' ') p++;
    if (*p != '-' && (*p < '0' || *p > '9')) return fallback;
    return strtoll(p, NULL, 10);
}

CAPI_UNUSED static void capi_on_event(void *user_data, const char *json, size_t len) {
    capi_events *e = user_data;
    char user[300];
    (void)len;
    capi_json_string(json, "user_id", user, sizeof user);
    pthread_mutex_lock(&e->m.lock);
    if (atomic_load(&e->closed)) e->late++;
    if (strcmp(user, e->user) != 0) e->foreign++;
    if (e->count < CAPI_MAX_EVENTS) {
        e->seq[e->count] = capi_json_int(json, "seq", -1);
        capi_json_string(json, "type", e->type[e->count], sizeof e->type[e->count]);
        capi_json_string(json, "run_id", e->run_id[e->count], sizeof e->run_id[e->count]);
    }
    e->count++;
    pthread_cond_broadcast(&e->m.cond);
    pthread_mutex_unlock(&e->m.lock);
    if ((e->unsubscribe_inside || e->free_inside) && atomic_load(&e->sub_ready) && !atomic_load(&e->inside_done)) {
        agentrt_status st = e->unsubscribe_inside ? agentrt_unsubscribe(e->rt, e->sub) : agentrt_runtime_free(e->rt);
        pthread_mutex_lock(&e->m.lock);
        e->inside_status = st;
        atomic_store(&e->inside_done, 1);
        pthread_cond_broadcast(&e->m.cond);
        pthread_mutex_unlock(&e->m.lock);
    }
}

/* Waits until at least `n` events arrived (1) or `ms` passed (0). */
CAPI_UNUSED static int capi_wait_events(capi_events *e, int n, long ms) {
    struct timespec until = capi_deadline(ms);
    int ok;
    pthread_mutex_lock(&e->m.lock);
    while (e->count < n) {
        if (pthread_cond_timedwait(&e->m.cond, &e->m.lock, &until) != 0) break;
    }
    ok = e->count >= n;
    pthread_mutex_unlock(&e->m.lock);
    return ok;
}

CAPI_UNUSED static int capi_event_count(capi_events *e) {
    int n;
    pthread_mutex_lock(&e->m.lock);
    n = e->count;
    pthread_mutex_unlock(&e->m.lock);
    return n;
}

#endif /* CAPI_COMMON_H */
