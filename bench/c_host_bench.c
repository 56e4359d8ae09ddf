/*
 * c_host_bench — the guarded no-op call as a C host sees it: agentrt_run of bench.noop through
 * libAgentRT.so, every guard on, timed call by call (scripts/bench-c-host.sh builds and runs it).
 *   usage: c_host_bench <libAgentRTBenchPlugin.so> <calls> <caller|handoff> [threads] [agent] [input]
 * Prints one line: mode threads calls p50_ns p99_ns mean_ns. The agent is bench.noop unless named
 * (bench.emit with input N emits N events: callgrind of two inputs gives instructions per emit).
 */
#define _POSIX_C_SOURCE 200809L
#include <agentrt/agentrt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static agentrt_runtime *rt;
static long calls;
static uint32_t flags;
static const char *agent = "noop", *input = "{}";

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct { int index; int64_t *samples; } worker;

static void *caller(void *arg) {
    worker *w = arg;
    char user[32];
    agentrt_run_options o;
    long i;
    snprintf(user, sizeof user, "c-host-%d", w->index);
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.flags = flags;
    for (i = 0; i < calls; i++) {
        char *result = NULL, *error = NULL;
        int64_t t0 = now_ns();
        agentrt_status s = agentrt_run(rt, "bench", agent, user, input, &o, &result, &error, NULL);
        w->samples[i] = now_ns() - t0;
        if (s != AGENTRT_OK) { fprintf(stderr, "run failed: %d %s\n", (int)s, error ? error : ""); exit(1); }
        agentrt_free(result);
    }
    return NULL;
}

int main(int argc, char **argv) {
    agentrt_config c;
    char *error = NULL;
    int threads = argc > 4 ? atoi(argv[4]) : 1, t;
    pthread_t tids[64];
    worker ws[64];
    int64_t *all;
    double sum = 0;
    long n, i;
    if (argc < 4 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: c_host_bench <libAgentRTBenchPlugin.so> <calls> <caller|handoff> [threads] [agent] [input]\n");
        return 2;
    }
    if (argc > 5) agent = argv[5];
    if (argc > 6) input = argv[6];
    calls = atol(argv[2]);
    flags = strcmp(argv[3], "caller") == 0 ? AGENTRT_RUN_ON_CALLER_THREAD : AGENTRT_RUN_HAND_OFF;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    if (agentrt_runtime_new(&c, &rt) != AGENTRT_OK) return 1;
    if (agentrt_load_plugin(rt, argv[1], NULL, NULL, &error) != AGENTRT_OK) { fprintf(stderr, "%s\n", error); return 1; }
    {   /* warm-up: threads started, code paths hot */
        long keep = calls;
        worker w0 = {99, malloc(sizeof(int64_t) * 2000)};
        calls = 2000;
        caller(&w0);
        free(w0.samples);
        calls = keep;
    }
    for (t = 0; t < threads; t++) {
        ws[t].index = t;
        ws[t].samples = malloc(sizeof(int64_t) * (size_t)calls);
        pthread_create(&tids[t], NULL, caller, &ws[t]);
    }
    for (t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    n = calls * threads;
    all = malloc(sizeof(int64_t) * (size_t)n);
    for (t = 0; t < threads; t++) memcpy(all + (long)t * calls, ws[t].samples, sizeof(int64_t) * (size_t)calls);
    qsort(all, (size_t)n, sizeof(int64_t), cmp);
    for (i = 0; i < n; i++) sum += (double)all[i];
    printf("%s %d %ld %lld %lld %.0f\n", argv[3], threads, n, (long long)all[n / 2], (long long)all[(n * 99) / 100], sum / (double)n);
    agentrt_runtime_free(rt);
    return 0;
}
