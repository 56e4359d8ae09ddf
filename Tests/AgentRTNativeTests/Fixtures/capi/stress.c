/*
 * stress — the embedding API under concurrent use:
 *   8 worker threads x 200 iterations, each running basics.echo for its own user (the result
 *   must equal the input), churning subscriptions (subscribe / unsubscribe, live and replaying)
 *   and reading list/stats/isolation JSON; meanwhile a canceller thread cancels run ids at random
 *   (finished runs, made-up ids, and its own long guards.cooperative runs, which must end
 *   cancelled exactly once). Then 20 rounds of agentrt_runtime_free while 4 threads keep using
 *   that runtime: every call answers a documented status and each thread ends on stale_handle.
 *
 *   stress <libbasics.so> <libguards.so>
 *
 * Prints one line per check; the first failure prints "FAIL <check>: <details>" and exits 1.
 * The last line of a passing run starts with "OK".
 */
#include "capi_common.h"

#define THREADS 8
#define ITERATIONS 200
#define RING 512

static agentrt_runtime *rt;
static atomic_int workers_done;

/* Run ids of finished runs, for the canceller. */
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static char ring[RING][96];
static int ring_count;

static void remember(const char *run_id) {
    pthread_mutex_lock(&ring_lock);
    snprintf(ring[ring_count % RING], sizeof ring[0], "%s", run_id);
    ring_count++;
    pthread_mutex_unlock(&ring_lock);
}

/* Per-subscription state for the churn; `closed` is set once agentrt_unsubscribe returned. */
typedef struct {
    const char *user;
    atomic_int closed, late, foreign, events;
} churn_sub;

static void on_churn_event(void *user_data, const char *json, size_t len) {
    churn_sub *s = user_data;
    char user[64];
    (void)len;
    if (atomic_load(&s->closed)) atomic_fetch_add(&s->late, 1);
    capi_json_string(json, "user_id", user, sizeof user);
    if (strcmp(user, s->user) != 0) atomic_fetch_add(&s->foreign, 1);
    atomic_fetch_add(&s->events, 1);
}

typedef struct {
    int index;
    char user[32];
    char failure[512];
    int runs_ok, subscriptions;
    churn_sub subs[ITERATIONS];
    churn_sub whole;          /* one subscription for the whole run */
    uint64_t whole_id;
} worker_state;

static worker_state workers[THREADS];

#define WORKER_FAIL(w, ...)                                                       \
    do {                                                                          \
        if (!(w)->failure[0]) snprintf((w)->failure, sizeof (w)->failure, __VA_ARGS__); \
        return NULL;                                                              \
    } while (0)

static void *worker(void *p) {
    worker_state *w = p;
    unsigned seed = 1234u + (unsigned)w->index;
    int i;
    for (i = 0; i < ITERATIONS; i++) {
        char input[256], *result = NULL, *error = NULL, *run_id = NULL, *json = NULL;
        agentrt_status st;
        uint64_t sub = 0;
        int subscribing = (i % 2) == 0;
        churn_sub *cs = &w->subs[i];

        if (subscribing) {
            cs->user = w->user;
            st = agentrt_subscribe(rt, w->user, (i % 4) == 0 ? -1 : (int64_t)(rand_r(&seed) % 8), on_churn_event, cs, &sub);
            if (st != AGENTRT_OK) WORKER_FAIL(w, "iteration %d: agentrt_subscribe gave %s", i, agentrt_status_string(st));
            w->subscriptions++;
        }
        snprintf(input, sizeof input, "{\"thread\":%d,\"iteration\":%d,\"nonce\":%u,\"text\":\"%s-%d\"}", w->index, i,
                 (unsigned)rand_r(&seed), w->user, i);
        st = agentrt_run(rt, "basics", "echo", w->user, input, NULL, &result, &error, &run_id);
        if (st != AGENTRT_OK)
            WORKER_FAIL(w, "iteration %d: agentrt_run gave %s: %s", i, agentrt_status_string(st), capi_s(error));
        if (result == NULL || strcmp(result, input) != 0)
            WORKER_FAIL(w, "iteration %d: result %s differs from input %s", i, capi_s(result), input);
        if (run_id == NULL) WORKER_FAIL(w, "iteration %d: no run id", i);
        remember(run_id);
        w->runs_ok++;
        agentrt_free(result);
        agentrt_free(error);
        agentrt_free(run_id);

        if (subscribing) {
            st = agentrt_unsubscribe(rt, sub);
            if (st != AGENTRT_OK) WORKER_FAIL(w, "iteration %d: agentrt_unsubscribe gave %s", i, agentrt_status_string(st));
            atomic_store(&cs->closed, 1);
        }
        st = agentrt_list_json(rt, &json);
        if (st != AGENTRT_OK || json == NULL || !strstr(json, "\"basics\""))
            WORKER_FAIL(w, "iteration %d: agentrt_list_json gave %s: %.200s", i, agentrt_status_string(st), capi_s(json));
        agentrt_free(json);
        json = NULL;
        st = agentrt_stats_json(rt, &json);
        if (st != AGENTRT_OK || json == NULL || json[0] != '{')
            WORKER_FAIL(w, "iteration %d: agentrt_stats_json gave %s: %.200s", i, agentrt_status_string(st), capi_s(json));
        agentrt_free(json);
        json = NULL;
        if (i % 10 == 0) {
            st = agentrt_isolation_json(rt, &json);
            if (st != AGENTRT_OK || json == NULL || json[0] != '{')
                WORKER_FAIL(w, "iteration %d: agentrt_isolation_json gave %s", i, agentrt_status_string(st));
            agentrt_free(json);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ canceller */

typedef struct {
    char failure[512];
    int cancels, not_found, ok, own_runs;
} canceller_state;

static canceller_state canceller;

#define CANCELLER_FAIL(...)                                                                 \
    do {                                                                                    \
        if (!canceller.failure[0]) snprintf(canceller.failure, sizeof canceller.failure, __VA_ARGS__); \
        return NULL;                                                                        \
    } while (0)

static void *cancel_loop(void *p) {
    unsigned seed = 99u;
    int loop = 0;
    (void)p;
    while (atomic_load(&workers_done) < THREADS) {
        char id[96];
        agentrt_status st;
        int kind = (int)(rand_r(&seed) % 3);
        id[0] = '\0';
        if (kind == 0) {
            pthread_mutex_lock(&ring_lock);
            if (ring_count > 0) snprintf(id, sizeof id, "%s", ring[rand_r(&seed) % (unsigned)(ring_count < RING ? ring_count : RING)]);
            pthread_mutex_unlock(&ring_lock);
        }
        if (!id[0]) snprintf(id, sizeof id, "run_%08x_%x", rand_r(&seed), rand_r(&seed) % 100000u);
        st = agentrt_cancel(rt, id);
        canceller.cancels++;
        /* A finished run may still be leaving the in-flight table: ok (a no-op) or not_found. */
        if (st == AGENTRT_ERR_NOT_FOUND) canceller.not_found++;
        else if (st == AGENTRT_OK) canceller.ok++;
        else CANCELLER_FAIL("agentrt_cancel(%s) gave %s", id, agentrt_status_string(st));

        if (++loop % 25 == 0) {
            /* A real cancellation: its own long run, cancelled by id. */
            capi_completion done;
            char *run_id = NULL;
            capi_completion_init(&done);
            st = agentrt_run_async(rt, "guards", "cooperative", "stress-canceller", "{\"ms\":10000}", NULL, capi_on_done,
                                   &done, &run_id);
            if (st != AGENTRT_OK || run_id == NULL) CANCELLER_FAIL("agentrt_run_async(cooperative) gave %s", agentrt_status_string(st));
            st = agentrt_cancel(rt, run_id);
            if (st != AGENTRT_OK) CANCELLER_FAIL("agentrt_cancel(own running run %s) gave %s", run_id, agentrt_status_string(st));
            if (!capi_wait_completion(&done, 20000)) CANCELLER_FAIL("cancelled run %s: no callback within 20 s", run_id);
            if (done.status != AGENTRT_ERR_CANCELLED)
                CANCELLER_FAIL("cancelled run %s ended %s: %.300s", run_id, agentrt_status_string(done.status), done.text);
            capi_sleep_ms(20);
            if (atomic_load(&done.calls) != 1) CANCELLER_FAIL("cancelled run %s: callback ran %d times", run_id, atomic_load(&done.calls));
            agentrt_free(run_id);
            canceller.own_runs++;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ free under load */

/* Threads that keep using a runtime while another thread frees it: every call answers with a
 * documented status (never a crash), and every thread ends up seeing stale_handle. */
typedef struct {
    agentrt_runtime *rt;
    int index;
    char failure[256];
    int saw_stale, calls;
    char user[32];
    churn_sub events;
} free_user;

static void *use_until_stale(void *p) {
    free_user *u = p;
    const char *user = u->user;
    int i;
    snprintf(u->user, sizeof u->user, "free-race-user-%d", u->index);
    u->events.user = u->user;
    for (i = 0; i < 100000 && !u->saw_stale; i++) {
        char *result = NULL, *error = NULL, *json = NULL;
        uint64_t sub = 0;
        agentrt_status st;
        switch ((u->index + i) % 3) {
        case 0:
            st = agentrt_run(u->rt, "basics", "echo", user, "{\"k\":1}", NULL, &result, &error, NULL);
            if (st == AGENTRT_OK && (result == NULL || strcmp(result, "{\"k\":1}") != 0))
                snprintf(u->failure, sizeof u->failure, "agentrt_run result %s", capi_s(result));
            else if (st != AGENTRT_OK && st != AGENTRT_ERR_STALE_HANDLE && st != AGENTRT_ERR_CANCELLED)
                snprintf(u->failure, sizeof u->failure, "agentrt_run gave %s: %s", agentrt_status_string(st), capi_s(error));
            break;
        case 1:
            st = agentrt_subscribe(u->rt, user, 0, on_churn_event, &u->events, &sub);
            if (st == AGENTRT_OK) {
                agentrt_status st2 = agentrt_unsubscribe(u->rt, sub);
                if (st2 != AGENTRT_OK && st2 != AGENTRT_ERR_STALE_HANDLE && st2 != AGENTRT_ERR_NOT_FOUND)
                    snprintf(u->failure, sizeof u->failure, "agentrt_unsubscribe gave %s", agentrt_status_string(st2));
            } else if (st != AGENTRT_ERR_STALE_HANDLE) {
                snprintf(u->failure, sizeof u->failure, "agentrt_subscribe gave %s", agentrt_status_string(st));
            }
            break;
        default:
            st = agentrt_stats_json(u->rt, &json);
            if (st != AGENTRT_OK && st != AGENTRT_ERR_STALE_HANDLE)
                snprintf(u->failure, sizeof u->failure, "agentrt_stats_json gave %s", agentrt_status_string(st));
            break;
        }
        agentrt_free(result);
        agentrt_free(error);
        agentrt_free(json);
        u->calls++;
        if (st == AGENTRT_ERR_STALE_HANDLE) u->saw_stale = 1;
        if (u->failure[0]) break;
    }
    return NULL;
}

/* Static: a subscription the free missed must never call into a dead stack frame. */
static free_user free_users[20][4];

static void free_under_load(const char *basics) {
    int round, i;
    char label[160];
    for (round = 0; round < 20; round++) {
        agentrt_runtime *r = NULL;
        free_user *users = free_users[round];
        pthread_t t[4];
        char *name = NULL, *error = NULL;
        agentrt_status st;
        capi_begin("free under load");
        if (agentrt_runtime_new(NULL, &r) != AGENTRT_OK) capi_fail("free under load", "agentrt_runtime_new failed");
        st = agentrt_load_plugin(r, basics, NULL, &name, &error);
        if (st != AGENTRT_OK) capi_fail("free under load", "load basics: %s", capi_s(error));
        agentrt_free(name);
        for (i = 0; i < 4; i++) {
            memset(&users[i], 0, sizeof users[i]);
            users[i].rt = r;
            users[i].index = i;
            pthread_create(&t[i], NULL, use_until_stale, &users[i]);
        }
        capi_sleep_ms(5 + round % 7);
        st = agentrt_runtime_free(r);
        if (st != AGENTRT_OK) capi_fail("free under load", "round %d: agentrt_runtime_free gave %s", round, agentrt_status_string(st));
        for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
        for (i = 0; i < 4; i++) {
            if (users[i].failure[0] || !users[i].saw_stale) {
                snprintf(label, sizeof label, "free under load, round %d, thread %d", round, i);
                capi_fail(label, "%s", users[i].failure[0] ? users[i].failure : "never saw stale_handle");
            }
        }
    }
    capi_pass("20 rounds of agentrt_runtime_free while 4 threads use the runtime: only documented statuses");
}

static void *worker_main(void *p) {
    void *r = worker(p);
    atomic_fetch_add(&workers_done, 1);
    return r;
}

int main(int argc, char **argv) {
    pthread_t threads[THREADS], cancel_thread;
    char *name = NULL, *error = NULL, *json = NULL, label[160];
    agentrt_config config;
    agentrt_status st;
    int i, j, total_runs = 0, late = 0, foreign = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s <libbasics.so> <libguards.so>\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    capi_watchdog(110);

    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.grace_ms = 500;
    CHECK_STATUS("agentrt_runtime_new", agentrt_runtime_new(&config, &rt), AGENTRT_OK, NULL);
    st = agentrt_load_plugin(rt, argv[1], NULL, &name, &error);
    CHECK_STATUS("load basics", st, AGENTRT_OK, error);
    agentrt_free(name);
    st = agentrt_load_plugin(rt, argv[2], NULL, &name, &error);
    CHECK_STATUS("load guards", st, AGENTRT_OK, error);
    agentrt_free(name);

    atomic_init(&workers_done, 0);
    for (i = 0; i < THREADS; i++) {
        worker_state *w = &workers[i];
        w->index = i;
        snprintf(w->user, sizeof w->user, "stress-user-%d", i);
        w->whole.user = w->user;
        snprintf(label, sizeof label, "agentrt_subscribe(%s) for the whole run", w->user);
        CHECK_STATUS(label, agentrt_subscribe(rt, w->user, -1, on_churn_event, &w->whole, &w->whole_id), AGENTRT_OK, NULL);
    }
    capi_begin("8 workers x 200 iterations with a canceller");
    pthread_create(&cancel_thread, NULL, cancel_loop, NULL);
    for (i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker_main, &workers[i]);
    for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    pthread_join(cancel_thread, NULL);

    for (i = 0; i < THREADS; i++) {
        snprintf(label, sizeof label, "worker %d: every result equals its input", i);
        CHECK(label, workers[i].failure[0] == '\0' && workers[i].runs_ok == ITERATIONS, "%s (%d of %d runs ok)",
              workers[i].failure[0] ? workers[i].failure : "incomplete", workers[i].runs_ok, ITERATIONS);
        total_runs += workers[i].runs_ok;
    }
    CHECK("canceller: every agentrt_cancel answered ok or not_found, own runs ended cancelled once",
          canceller.failure[0] == '\0', "%s", canceller.failure);
    CHECK("canceller: cancelled some of its own running runs", canceller.own_runs > 0, "%d own runs", canceller.own_runs);

    /* Each whole-run subscription sees 2 events per run (agent_started, agent_completed). */
    for (i = 0; i < THREADS; i++) {
        worker_state *w = &workers[i];
        for (j = 0; j < 2000 && atomic_load(&w->whole.events) < 2 * ITERATIONS; j++) capi_sleep_ms(10);
        snprintf(label, sizeof label, "worker %d: its subscription saw all %d of its events", i, 2 * ITERATIONS);
        CHECK(label, atomic_load(&w->whole.events) == 2 * ITERATIONS, "%d events", atomic_load(&w->whole.events));
        CHECK_STATUS("agentrt_unsubscribe(whole-run subscription)", agentrt_unsubscribe(rt, w->whole_id), AGENTRT_OK, NULL);
        atomic_store(&w->whole.closed, 1);
        foreign += atomic_load(&w->whole.foreign);
        for (j = 0; j < ITERATIONS; j++) {
            late += atomic_load(&w->subs[j].late);
            foreign += atomic_load(&w->subs[j].foreign);
        }
    }
    CHECK("no subscription saw another user's event", foreign == 0, "%d foreign events", foreign);
    CHECK("no callback ran after its agentrt_unsubscribe returned", late == 0, "%d late callbacks", late);

    CHECK_STATUS("agentrt_isolation_json", agentrt_isolation_json(rt, &json), AGENTRT_OK, NULL);
    CHECK("the runtime reports isolated users", json && strstr(json, "\"cross_user_events_refused\":0") && strstr(json, "\"violations\":[]"), "%.300s", capi_s(json));
    agentrt_free(json);
    json = NULL;
    CHECK_STATUS("agentrt_stats_json", agentrt_stats_json(rt, &json), AGENTRT_OK, NULL);
    CHECK("stats count the echo runs", json && capi_json_int(strstr(json, "\"basics.echo\"") ? strstr(json, "\"basics.echo\"") : "", "calls", -1) ==
                                                   (long long)THREADS * ITERATIONS,
          "%.300s", capi_s(json));
    agentrt_free(json);
    CHECK_STATUS("agentrt_runtime_free", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
    free_under_load(argv[1]);
    printf("OK: %d runs, %d subscriptions churned, %d cancels (%d not_found, %d ok), %d runs cancelled while running\n",
           total_runs, workers[0].subscriptions * THREADS, canceller.cancels, canceller.not_found, canceller.ok,
           canceller.own_runs);
    return 0;
}
