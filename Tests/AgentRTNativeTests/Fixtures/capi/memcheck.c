/*
 * memcheck — does an embedded runtime give back what it took? In ONE process, ROUNDS times:
 *   agentrt_runtime_new; load the basics plugin; one subscription per user (agentrt_subscribe);
 *   USERS users x RUNS runs of basics.echo spread over THREADS host threads (even passes with
 *   agentrt_run_async, odd passes with agentrt_run); wait for every completion and for every
 *   user's agent_completed events; unsubscribe all; agentrt_runtime_free.
 * After each round it prints the heap in use and the thread count:
 *   round 1: heap_in_use=... threads=... runs_ok=10000 events=20000 violations=0
 *
 *   memcheck <libbasics.so> [users [runs [rounds [threads]]]]     (defaults 1000 10 3 8)
 *
 * Environment (all optional):
 *   MEMCHECK_SLACK_BYTES      heap growth allowed from round 1 to the last round [1048576]
 *   MEMCHECK_THREAD_ALLOWANCE threads allowed above the count before round 1 [12]
 *   MEMCHECK_SETTLE_MS        how long to wait for the runtime's threads to end after a round [10000]
 *   MEMCHECK_TIMEOUT_S        watchdog for the whole program [600]
 *   MEMCHECK_HEAP_RULE=0      report the heap figures but do not judge them; the rule is also
 *                             skipped when mallinfo2 reports nothing at all (under valgrind)
 *
 * Exit status: 0 when every check passes; 1 when a stream check, the heap rule or the thread rule
 * fails (each failing rule prints a "FAIL <rule>: ..." line); 3 when the watchdog fired.
 *
 * The rules, and why:
 * - Streams: each subscription must see only its own user's events ("user_id"), with strictly
 *   increasing and gap-free "seq", no stream_gap, never two callbacks of one subscription at once,
 *   none after agentrt_unsubscribe returned, and exactly one agent_completed per run. Every run
 *   must succeed and return its input.
 * - Heap: heap_in_use = mallinfo2().uordblks + .hblkhd (bytes in allocated chunks, including
 *   mmapped ones) after malloc_trim(0) (under a sanitizer, its allocator's own count,
 *   __sanitizer_get_current_allocated_bytes), measured once the round's threads have ended (a
 *   live thread's tcache holds chunks). Round 1 pays the one-time costs (the plugin mapping, the
 *   loader's table, Swift metadata caches, stdio), so it is the reference: the last round may
 *   exceed it by at most MEMCHECK_SLACK_BYTES (1 MiB). A leak that scales with the work cannot
 *   hide under that: 1 MiB over two rounds is ~52 bytes per run, or ~520 bytes per user or
 *   subscription, at 1,000 users x 10 runs, far below what one leaked stream, subscription or
 *   event costs; while allocator noise on the same workload is a few KiB.
 * - Threads: after each round the count (entries of /proc/self/task) must come back to at most
 *   the count before round 1 plus MEMCHECK_THREAD_ALLOWANCE (12: process-wide threads started
 *   once and kept: the event delivery pool shared by every runtime keeps 2 workers per core and
 *   its watcher (5 on 2 cores; it never exceeds 16), plus libdispatch's workers behind Swift's
 *   global executor, which end on their own when idle), and the last round must not end with more
 *   threads than round 1 (growth per round is what a leak looks like).
 *   The runtime's worker pool ends its (detached) threads on its own after agentrt_runtime_free,
 *   so the count is polled for up to MEMCHECK_SETTLE_MS before it is judged.
 */
#include "capi_common.h"

#include <dirent.h>
#include <malloc.h>

#define MAX_RUNS 64

typedef struct user_rec user_rec;

/* One run: where its completion lands. */
typedef struct {
    user_rec *user;
    int index;
    struct host_thread *owner;
} run_slot;

struct user_rec {
    char id[40];
    uint64_t sub;
    atomic_int events;          /* callbacks of this user's subscription */
    atomic_int completed;       /* agent_completed events */
    atomic_int violations;
    atomic_int in_callback;     /* set while the callback runs: two at once is a violation */
    atomic_llong last_seq;      /* seq of the previous event (0: none yet) */
    atomic_int closed;          /* set once agentrt_unsubscribe returned */
    run_slot runs[MAX_RUNS];
};

struct host_thread {
    int index;
    capi_monitor m;
    int pending;                /* async runs started and not completed (guarded by m.lock) */
};

typedef struct host_thread host_thread;

static agentrt_runtime *rt;
static user_rec *users;
static int user_count, runs_per_user, thread_count;
static atomic_int runs_ok, runs_failed, total_violations;

/* The first few violations, for the report. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static int reported;

__attribute__((format(printf, 2, 3)))
static void violation(user_rec *u, const char *fmt, ...) {
    va_list ap;
    if (u) atomic_fetch_add(&u->violations, 1);
    atomic_fetch_add(&total_violations, 1);
    pthread_mutex_lock(&report_lock);
    if (reported++ < 10) {
        printf("violation: ");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    pthread_mutex_unlock(&report_lock);
}

static void input_for(const user_rec *u, int run, char *out, size_t cap) {
    snprintf(out, cap, "{\"user\":\"%s\",\"run\":%d}", u->id, run);
}

static void on_event(void *user_data, const char *json, size_t len) {
    user_rec *u = user_data;
    char who[64], type[40];
    long long seq, last;
    (void)len;
    if (atomic_exchange(&u->in_callback, 1)) violation(u, "%s: two callbacks of one subscription ran at once", u->id);
    if (atomic_load(&u->closed)) violation(u, "%s: callback after agentrt_unsubscribe returned", u->id);
    capi_json_string(json, "user_id", who, sizeof who);
    capi_json_string(json, "type", type, sizeof type);
    seq = capi_json_int(json, "seq", -1);
    if (strcmp(who, u->id) != 0) violation(u, "%s received an event of \"%s\": %.200s", u->id, who, json);
    if (strcmp(type, "stream_gap") == 0) violation(u, "%s: stream_gap: %.200s", u->id, json);
    last = atomic_load(&u->last_seq);
    if (seq <= 0 || (last > 0 && seq != last + 1))
        violation(u, "%s: seq %lld after %lld: %.200s", u->id, seq, last, json);
    atomic_store(&u->last_seq, seq);
    if (strcmp(type, "agent_completed") == 0) atomic_fetch_add(&u->completed, 1);
    atomic_fetch_add(&u->events, 1);
    atomic_store(&u->in_callback, 0);
}

static void check_result(user_rec *u, int run, agentrt_status st, const char *text) {
    char expect[96];
    input_for(u, run, expect, sizeof expect);
    if (st == AGENTRT_OK && text && strcmp(text, expect) == 0) {
        atomic_fetch_add(&runs_ok, 1);
    } else {
        atomic_fetch_add(&runs_failed, 1);
        violation(u, "%s run %d: %s: %.200s", u->id, run, agentrt_status_string(st), capi_s(text));
    }
}

static void on_done(void *user_data, agentrt_status status, const char *run_id, const char *text) {
    run_slot *slot = user_data;
    host_thread *t = slot->owner;
    (void)run_id;
    check_result(slot->user, slot->index, status, text);
    pthread_mutex_lock(&t->m.lock);
    t->pending--;
    pthread_cond_broadcast(&t->m.cond);
    pthread_mutex_unlock(&t->m.lock);
}

/* Waits until every async run of this thread completed; 0 after 120 s without. */
static int wait_pending(host_thread *t) {
    struct timespec until = capi_deadline(120000);
    int ok;
    pthread_mutex_lock(&t->m.lock);
    while (t->pending > 0) {
        if (pthread_cond_timedwait(&t->m.cond, &t->m.lock, &until) != 0) break;
    }
    ok = t->pending == 0;
    pthread_mutex_unlock(&t->m.lock);
    return ok;
}

/* One host thread: the users i with i % thread_count == index. Even passes start one async run
 * per user and wait for them all (so a user has at most one run in flight); odd passes run
 * blocking with agentrt_run. */
static void *host_main(void *p) {
    host_thread *t = p;
    int run, i;
    for (run = 0; run < runs_per_user; run++) {
        for (i = t->index; i < user_count; i += thread_count) {
            user_rec *u = &users[i];
            char input[96];
            input_for(u, run, input, sizeof input);
            if (run % 2 == 0) {
                run_slot *slot = &u->runs[run];
                agentrt_status st;
                slot->user = u;
                slot->index = run;
                slot->owner = t;
                pthread_mutex_lock(&t->m.lock);
                t->pending++;
                pthread_mutex_unlock(&t->m.lock);
                st = agentrt_run_async(rt, "basics", "echo", u->id, input, NULL, on_done, slot, NULL);
                if (st != AGENTRT_OK) {
                    /* Refused as a misuse: the callback does not run. */
                    pthread_mutex_lock(&t->m.lock);
                    t->pending--;
                    pthread_mutex_unlock(&t->m.lock);
                    check_result(u, run, st, "agentrt_run_async refused the call");
                }
            } else {
                char *result = NULL, *error = NULL;
                agentrt_status st = agentrt_run(rt, "basics", "echo", u->id, input, NULL, &result, &error, NULL);
                check_result(u, run, st, st == AGENTRT_OK ? result : error);
                agentrt_free(result);
                agentrt_free(error);
            }
        }
        if (run % 2 == 0 && !wait_pending(t)) violation(NULL, "host thread %d: async completions missing after 120 s", t->index);
    }
    return NULL;
}

/* ------------------------------------------------------------------ measurements */

static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') n++;
    }
    closedir(d);
    return n;
}

/* Under AddressSanitizer or ThreadSanitizer malloc is the sanitizer's, which glibc's mallinfo2
 * does not see; their runtimes answer the same question. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static long long heap_in_use(void) {
    struct mallinfo2 mi;
    if (__sanitizer_get_current_allocated_bytes) return (long long)__sanitizer_get_current_allocated_bytes();
    malloc_trim(0);
    mi = mallinfo2();
    return (long long)mi.uordblks + (long long)mi.hblkhd;
}

static long env_long(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : fallback;
}

/* Waits up to `ms` for the thread count to drop to `limit`; returns the count. */
static int settle_threads(int limit, long ms) {
    int64_t end = capi_now_ms() + ms;
    int n = threads_now();
    while (n > limit && capi_now_ms() < end) {
        capi_sleep_ms(20);
        n = threads_now();
    }
    return n;
}

/* ------------------------------------------------------------------ one round */

typedef struct {
    long long heap;
    int threads, runs_ok, events, violations;
    int live_threads;   /* threads while every subscription was still open (not judged) */
} round_figures;

static int run_round(const char *plugin, int round, int threads_before, int thread_limit, long settle_ms,
                     round_figures *out) {
    host_thread *hosts;
    pthread_t *tids;
    char *name = NULL, *error = NULL, label[128];
    agentrt_config config;
    agentrt_status st;
    int i, events = 0;
    int64_t end;

    atomic_store(&runs_ok, 0);
    atomic_store(&runs_failed, 0);
    atomic_store(&total_violations, 0);
    snprintf(label, sizeof label, "round %d", round);
    capi_begin(label);

    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    /* Every user may have one async run in flight at once: room for all of them. */
    config.global_limit = (uint32_t)(user_count + 64 > 1024 ? user_count + 64 : 1024);
    st = agentrt_runtime_new(&config, &rt);
    if (st != AGENTRT_OK) capi_fail(label, "agentrt_runtime_new gave %s", agentrt_status_string(st));
    st = agentrt_load_plugin(rt, plugin, NULL, &name, &error);
    if (st != AGENTRT_OK) capi_fail(label, "loading %s gave %s: %s", plugin, agentrt_status_string(st), capi_s(error));
    agentrt_free(name);

    users = calloc((size_t)user_count, sizeof *users);
    hosts = calloc((size_t)thread_count, sizeof *hosts);
    tids = calloc((size_t)thread_count, sizeof *tids);
    if (!users || !hosts || !tids) capi_fail(label, "out of memory");
    for (i = 0; i < user_count; i++) {
        user_rec *u = &users[i];
        snprintf(u->id, sizeof u->id, "mc-r%d-user-%d", round, i);
        st = agentrt_subscribe(rt, u->id, -1, on_event, u, &u->sub);
        if (st != AGENTRT_OK) capi_fail(label, "agentrt_subscribe(%s) gave %s", u->id, agentrt_status_string(st));
    }
    for (i = 0; i < thread_count; i++) {
        hosts[i].index = i;
        capi_monitor_init(&hosts[i].m);
        if (pthread_create(&tids[i], NULL, host_main, &hosts[i]) != 0) capi_fail(label, "pthread_create failed");
    }
    for (i = 0; i < thread_count; i++) pthread_join(tids[i], NULL);

    out->live_threads = threads_now();
    /* Every run completed; its agent_completed event may still be on its way. */
    end = capi_now_ms() + 60000;
    for (i = 0; i < user_count; i++) {
        while (atomic_load(&users[i].completed) < runs_per_user && capi_now_ms() < end) capi_sleep_ms(5);
    }
    for (i = 0; i < user_count; i++) {
        user_rec *u = &users[i];
        st = agentrt_unsubscribe(rt, u->sub);
        if (st != AGENTRT_OK) violation(u, "agentrt_unsubscribe(%s) gave %s", u->id, agentrt_status_string(st));
        atomic_store(&u->closed, 1);
        if (atomic_load(&u->completed) != runs_per_user)
            violation(u, "%s: %d agent_completed events for %d runs", u->id, atomic_load(&u->completed), runs_per_user);
        events += atomic_load(&u->events);
    }
    st = agentrt_runtime_free(rt);
    if (st != AGENTRT_OK) violation(NULL, "agentrt_runtime_free gave %s", agentrt_status_string(st));
    rt = NULL;

    for (i = 0; i < thread_count; i++) {
        pthread_mutex_destroy(&hosts[i].m.lock);
        pthread_cond_destroy(&hosts[i].m.cond);
    }
    free(users);
    users = NULL;
    free(hosts);
    free(tids);

    /* Ending threads take a moment: wait (briefly) for the count before round 1, and as long as
     * MEMCHECK_SETTLE_MS for the allowance. */
    out->threads = settle_threads(threads_before, 2000);
    if (out->threads > thread_limit) out->threads = settle_threads(thread_limit, settle_ms);
    out->heap = heap_in_use();
    out->runs_ok = atomic_load(&runs_ok);
    out->events = events;
    out->violations = atomic_load(&total_violations);
    return out->violations == 0 && out->runs_ok == user_count * runs_per_user;
}

int main(int argc, char **argv) {
    const char *plugin;
    int rounds, round, failed = 0, threads_before;
    long long heap_before, slack;
    long allowance, settle_ms;
    int heap_rule;
    round_figures *figures;

    if (argc < 2) {
        fprintf(stderr, "usage: %s <libbasics.so> [users [runs [rounds [threads]]]]\n", argv[0]);
        return 2;
    }
    plugin = argv[1];
    user_count = argc > 2 ? atoi(argv[2]) : 1000;
    runs_per_user = argc > 3 ? atoi(argv[3]) : 10;
    rounds = argc > 4 ? atoi(argv[4]) : 3;
    thread_count = argc > 5 ? atoi(argv[5]) : 8;
    if (user_count < 1 || runs_per_user < 1 || runs_per_user > MAX_RUNS || rounds < 1 || thread_count < 1) {
        fprintf(stderr, "users, rounds and threads must be >= 1 and runs within 1..%d\n", MAX_RUNS);
        return 2;
    }
    slack = env_long("MEMCHECK_SLACK_BYTES", 1 << 20);
    allowance = env_long("MEMCHECK_THREAD_ALLOWANCE", 12);
    settle_ms = env_long("MEMCHECK_SETTLE_MS", 10000);
    heap_rule = env_long("MEMCHECK_HEAP_RULE", 1) != 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    capi_watchdog((unsigned)env_long("MEMCHECK_TIMEOUT_S", 600));
    figures = calloc((size_t)rounds, sizeof *figures);

    printf("memcheck: %d rounds of %d users x %d runs on %d host threads, one subscription per user (agentrt %s)\n",
           rounds, user_count, runs_per_user, thread_count, agentrt_version());
    threads_before = threads_now();
    heap_before = heap_in_use();
    printf("before:  heap_in_use=%lld threads=%d\n", heap_before, threads_before);
    if (heap_rule && heap_before == 0) {
        printf("note: mallinfo2 reports no heap (malloc is replaced, e.g. by valgrind): heap rule skipped\n");
        heap_rule = 0;
    } else if (!heap_rule) {
        printf("note: MEMCHECK_HEAP_RULE=0: heap figures reported, not judged\n");
    }

    for (round = 1; round <= rounds; round++) {
        round_figures *f = &figures[round - 1];
        int ok = run_round(plugin, round, threads_before, threads_before + (int)allowance, settle_ms, f);
        printf("round %d: heap_in_use=%lld (%+lld since before, %+lld since round 1) threads=%d runs_ok=%d events=%d "
               "violations=%d (threads during the round: %d)\n",
               round, f->heap, f->heap - heap_before, f->heap - figures[0].heap, f->threads, f->runs_ok, f->events,
               f->violations, f->live_threads);
        if (!ok) {
            printf("FAIL streams: round %d: %d of %d runs ok, %d violations\n", round, f->runs_ok,
                   user_count * runs_per_user, f->violations);
            failed = 1;
        }
    }

    {
        round_figures *first = &figures[0], *last = &figures[rounds - 1];
        long long growth = last->heap - first->heap;
        int r;
        if (heap_rule && rounds > 1 && growth > slack) {
            printf("FAIL heap: round %d - round 1 = %lld bytes (%.1f MiB, %.0f bytes per run of a round), limit %lld\n",
                   rounds, growth, growth / 1048576.0, (double)growth / (rounds - 1) / (user_count * runs_per_user),
                   slack);
            failed = 1;
        }
        for (r = 0; r < rounds; r++) {
            if (figures[r].threads > threads_before + allowance) {
                printf("FAIL threads: round %d ended with %d threads, %d before round 1 (allowance %ld)\n", r + 1,
                       figures[r].threads, threads_before, allowance);
                failed = 1;
            }
        }
        if (last->threads > first->threads) {
            printf("FAIL threads: round %d ended with %d threads, round 1 with %d\n", rounds, last->threads,
                   first->threads);
            failed = 1;
        }
    }
    free(figures);
    printf("%s\n", failed ? "memcheck: FAILED" : "memcheck: OK");
    return failed;
}
