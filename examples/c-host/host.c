/*
 * A native host embedding agentrt through its C API (include/agentrt/agentrt.h):
 * loads the example plugin, registers a host tool the agent calls, runs agents for several users
 * from several pthreads at once, prints each user's events from its own subscription, and checks
 * that no user saw another user's events.
 *
 *   make -C examples/c-host run      (see the README's "Embedding" section)
 */
#define _POSIX_C_SOURCE 200809L
#include <agentrt/agentrt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USERS 4
#define RUNS_PER_USER 5

/* User data bound to the host tool: proves the plugin's call reached this host's function. */
typedef struct { atomic_long calls; long magic; } tool_state;

/* host.multiply: the prototype given at registration is "int64_t multiply(int64_t a, int64_t b)";
   with user data, the function receives it as an extra first parameter. */
static int64_t multiply(void *user_data, int64_t a, int64_t b) {
    tool_state *s = user_data;
    if (s->magic != 0x5eed) return -1;
    atomic_fetch_add(&s->calls, 1);
    return a * b;
}

/* Per-user event log, filled by the subscription callback on the runtime's delivery thread. */
typedef struct {
    char user[32];
    pthread_mutex_t lock;
    int events, completed, foreign;
    char last_type[32];
} user_log;

static void on_event(void *user_data, const char *json, size_t len) {
    user_log *log = user_data;
    char expect[64];
    const char *type = strstr(json, "\"type\":\"");
    snprintf(expect, sizeof expect, "\"user_id\":\"%s\"", log->user);
    pthread_mutex_lock(&log->lock);
    log->events++;
    if (!strstr(json, expect)) log->foreign++;            /* another user's event: must never happen */
    if (strstr(json, "\"type\":\"agent_completed\"")) log->completed++;
    if (type) sscanf(type + 8, "%31[^\"]", log->last_type);
    if (log->events <= 3) printf("  [%s] %.*s\n", log->user, (int)(len > 150 ? 150 : len), json);
    pthread_mutex_unlock(&log->lock);
}

typedef struct { agentrt_runtime *rt; user_log *log; int index; int failures; } worker_args;

static void *worker(void *p) {
    worker_args *w = p;
    int i;
    for (i = 0; i < RUNS_PER_USER; i++) {
        char input[64], *result = NULL, *error = NULL;
        agentrt_status st;
        snprintf(input, sizeof input, "{\"a\":%d,\"b\":%d}", w->index + 1, i + 1);
        st = agentrt_run(w->rt, "basics", "delegate", w->log->user, input, NULL, &result, &error, NULL);
        if (st != AGENTRT_OK) {
            fprintf(stderr, "run for %s failed: %s: %s\n", w->log->user, agentrt_status_string(st), error);
            w->failures++;
        } else {
            char expect[64];
            snprintf(expect, sizeof expect, "{\"product\":%d}", (w->index + 1) * (i + 1));
            if (strcmp(result, expect) != 0) { fprintf(stderr, "wrong result %s, expected %s\n", result, expect); w->failures++; }
        }
        agentrt_free(result);
        agentrt_free(error);
    }
    return NULL;
}

int main(int argc, char **argv) {
    const char *plugin = argc > 1 ? argv[1] : "plugins/build/libbasics.so";
    agentrt_config config = {0};
    agentrt_runtime *rt = NULL;
    tool_state state = {0, 0x5eed};
    user_log logs[USERS];
    worker_args args[USERS];
    pthread_t threads[USERS];
    uint64_t subs[USERS];
    char *name = NULL, *error = NULL, *stats = NULL, *isolation = NULL;
    int i, failures = 0;

    printf("agentrt %s\n", agentrt_version());
    config.struct_size = sizeof config;
    config.per_user_limit = 4;
    if (agentrt_runtime_new(&config, &rt) != AGENTRT_OK) return 1;
    if (agentrt_load_plugin(rt, plugin, NULL, &name, &error) != AGENTRT_OK) {
        fprintf(stderr, "cannot load %s: %s\n", plugin, error);
        return 1;
    }
    printf("loaded plugin %s\n", name);
    agentrt_free(name);
    if (agentrt_register_native_tool(rt, "multiply", "Multiplies two integers (a host tool).",
                                     "int64_t multiply(int64_t a, int64_t b)", (agentrt_native_fn)multiply,
                                     &state, &error) != AGENTRT_OK) {
        fprintf(stderr, "cannot register host.multiply: %s\n", error);
        return 1;
    }

    for (i = 0; i < USERS; i++) {
        memset(&logs[i], 0, sizeof logs[i]);
        snprintf(logs[i].user, sizeof logs[i].user, "c-user-%d", i + 1);
        pthread_mutex_init(&logs[i].lock, NULL);
        if (agentrt_subscribe(rt, logs[i].user, -1, on_event, &logs[i], &subs[i]) != AGENTRT_OK) return 1;
    }
    for (i = 0; i < USERS; i++) {
        args[i].rt = rt; args[i].log = &logs[i]; args[i].index = i; args[i].failures = 0;
        pthread_create(&threads[i], NULL, worker, &args[i]);
    }
    for (i = 0; i < USERS; i++) { pthread_join(threads[i], NULL); failures += args[i].failures; }

    /* Runs are done; give the delivery threads a moment to hand over the last events. */
    for (i = 0; i < 200; i++) {
        int j, pending = 0;
        for (j = 0; j < USERS; j++) { pthread_mutex_lock(&logs[j].lock); pending += logs[j].completed < RUNS_PER_USER; pthread_mutex_unlock(&logs[j].lock); }
        if (!pending) break;
        { struct timespec ts = {0, 10 * 1000000L}; nanosleep(&ts, NULL); }
    }
    for (i = 0; i < USERS; i++) {
        agentrt_unsubscribe(rt, subs[i]);
        printf("%s: %d events, %d runs completed, %d foreign events, last %s\n", logs[i].user, logs[i].events,
               logs[i].completed, logs[i].foreign, logs[i].last_type);
        if (logs[i].foreign || logs[i].completed != RUNS_PER_USER) failures++;
    }
    printf("host.multiply was called %ld times with the right user data\n", (long)atomic_load(&state.calls));
    if (atomic_load(&state.calls) != USERS * RUNS_PER_USER) failures++;

    /* Misuse returns a status, never a crash. */
    if (agentrt_run(rt, "basics", "echo", "none", "{}", NULL, NULL, &error, NULL) != AGENTRT_ERR_INVALID_CONTEXT) failures++;
    printf("placeholder user id refused: %s\n", error);
    agentrt_free(error);

    agentrt_isolation_json(rt, &isolation);
    /* Measured by the runtime: events refused for naming another user, runs in a wrong table. */
    int clean = strstr(isolation, "\"cross_user_events_refused\":0") && strstr(isolation, "\"violations\":[]");
    printf("isolation: %s\n", clean ? "every event checked against its user, none crossed" : isolation);
    if (!clean) failures++;
    agentrt_stats_json(rt, &stats);
    printf("stats: %.200s...\n", stats);
    agentrt_free(isolation);
    agentrt_free(stats);
    agentrt_runtime_free(rt);
    if (agentrt_run(rt, "basics", "echo", "u", "{}", NULL, NULL, NULL, NULL) != AGENTRT_ERR_STALE_HANDLE) failures++;
    printf("%s\n", failures ? "FAILED" : "OK: every user saw only their own events");
    return failures ? 1 : 0;
}
