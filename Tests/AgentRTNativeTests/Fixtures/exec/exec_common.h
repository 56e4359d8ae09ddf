/*
 * Helpers shared by the execution-test fixture plugins (Tests/AgentRTNativeTests/Fixtures/exec).
 * Header-only and static: every fixture stays a single self-contained C99 translation unit that
 * depends on libc (and pthreads) only, built exactly like a third-party plugin:
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden -I include fixture.c -o libfixture.so
 */
#ifndef EXEC_COMMON_H
#define EXEC_COMMON_H

#include <agentrt/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXEC_SLOTS 128
#define EXEC_UNUSED __attribute__((unused))

/* Atomic helpers (GCC/Clang builtins: available in -std=c99). */
#define EXEC_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define EXEC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define EXEC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

/* Finds "key": <integer|true|false> in a flat JSON object; returns fallback when absent. */
EXEC_UNUSED static long long exec_json_int(agentrt_str json, const char *key, long long fallback) {
    char pattern[64];
    size_t n = (size_t)snprintf(pattern, sizeof pattern, "\"%s\"", key), i;
    if (json.ptr == NULL) return fallback;
    for (i = 0; i + n <= json.len; i++) {
        if (memcmp(json.ptr + i, pattern, n) == 0) {
            size_t j = i + n;
            while (j < json.len && (json.ptr[j] == ' ' || json.ptr[j] == ':')) j++;
            if (j + 4 <= json.len && memcmp(json.ptr + j, "true", 4) == 0) return 1;
            if (j + 5 <= json.len && memcmp(json.ptr + j, "false", 5) == 0) return 0;
            {
                char buf[32];
                size_t k = 0;
                while (j < json.len && k < sizeof buf - 1 &&
                       (json.ptr[j] == '-' || (json.ptr[j] >= '0' && json.ptr[j] <= '9')))
                    buf[k++] = json.ptr[j++];
                buf[k] = '\0';
                return k ? strtoll(buf, NULL, 10) : fallback;
            }
        }
    }
    return fallback;
}

/* input.slot, clamped to [0, EXEC_SLOTS); -1 when absent or out of range. */
EXEC_UNUSED static int exec_slot(agentrt_str input) {
    long long s = exec_json_int(input, "slot", -1);
    return (s >= 0 && s < EXEC_SLOTS) ? (int)s : -1;
}

/* Sleeps ms milliseconds, resuming after signals; never looks at cancellation. */
EXEC_UNUSED static void exec_sleep_ms(long long ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {}
}

/* A tiny append-only JSON text builder over a fixed buffer. */
typedef struct exec_buf {
    char data[16384];
    size_t len;
} exec_buf;

EXEC_UNUSED static void exec_put(exec_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void exec_put(exec_buf *b, const char *fmt, ...) {
    va_list ap;
    int n;
    if (b->len >= sizeof b->data) return;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, sizeof b->data - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
    if (b->len > sizeof b->data - 1) b->len = sizeof b->data - 1;
}

EXEC_UNUSED static agentrt_str exec_view(const exec_buf *b) {
    agentrt_str v;
    v.ptr = b->data;
    v.len = b->len;
    return v;
}

#define EXEC_AGENT(name, fn) \
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR(name), AGENTRT_STR("execution test fixture"), \
     AGENTRT_STR(""), 0, 0, fn, NULL, NULL}

#endif
