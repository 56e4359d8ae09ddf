/*
 * guards — C agents that exercise the runtime's guards:
 *   cooperative  works for input.ms milliseconds, polling is_cancelled: stops at the deadline;
 *   stubborn     sleeps input.ms milliseconds and ignores cancellation: abandoned at deadline + grace;
 *   heartbeat    heartbeats every input.interval_ms for input.ms ms; after input.silent_after_ms
 *                (if given) it goes silent and is declared dead (no_heartbeat);
 *   flaky        fails when input.fail is true, succeeds otherwise.
 * Input is a flat JSON object with integer or boolean members.
 */
#define _POSIX_C_SOURCE 200809L
#include <agentrt/plugin.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

static const agentrt_host *host;

/* Finds "key": <integer|true|false> in a flat JSON object; returns fallback when absent. */
static long long json_int(agentrt_str json, const char *key, long long fallback) {
    char pattern[64];
    size_t n = (size_t)snprintf(pattern, sizeof pattern, "\"%s\"", key), i;
    for (i = 0; i + n <= json.len; i++) {
        if (memcmp(json.ptr + i, pattern, n) == 0) {
            size_t j = i + n;
            while (j < json.len && (json.ptr[j] == ' ' || json.ptr[j] == ':')) j++;
            if (j + 4 <= json.len && memcmp(json.ptr + j, "true", 4) == 0) return 1;
            if (j + 5 <= json.len && memcmp(json.ptr + j, "false", 5) == 0) return 0;
            {
                char buf[32];
                size_t k = 0;
                while (j < json.len && k < sizeof buf - 1 && (json.ptr[j] == '-' || (json.ptr[j] >= '0' && json.ptr[j] <= '9')))
                    buf[k++] = json.ptr[j++];
                buf[k] = '\0';
                return k ? strtoll(buf, NULL, 10) : fallback;
            }
        }
    }
    return fallback;
}

static void sleep_ms(long long ms) {
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {}
}

static agentrt_status done(agentrt_call *call, long long worked) {
    char out[96];
    snprintf(out, sizeof out, "{\"worked_ms\":%lld}", worked);
    return host->set_result(call, agentrt_cstr(out));
}

static agentrt_status cooperative_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = json_int(input, "ms", 100), t;
    (void)inst;
    for (t = 0; t < ms; t += 5) {
        if (host->is_cancelled(call) != AGENTRT_OK) {
            host->set_error(call, agentrt_cstr("stopped early: cancelled"));
            return AGENTRT_ERR_CANCELLED;
        }
        sleep_ms(5);
    }
    return done(call, ms);
}

static agentrt_status stubborn_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = json_int(input, "ms", 100);
    (void)inst;
    sleep_ms(ms); /* never looks at cancellation */
    return done(call, ms);
}

static agentrt_status heartbeat_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = json_int(input, "ms", 200), every = json_int(input, "interval_ms", 20);
    long long silent_after = json_int(input, "silent_after_ms", -1), t;
    char note[64];
    (void)inst;
    if (every < 1) every = 1;
    for (t = 0; t < ms; t += every) {
        if (silent_after < 0 || t < silent_after) {
            snprintf(note, sizeof note, "step at %lld ms", t);
            if (host->heartbeat(call, agentrt_cstr(note)) == AGENTRT_ERR_CANCELLED) {
                host->set_error(call, agentrt_cstr("cancelled while working"));
                return AGENTRT_ERR_CANCELLED;
            }
        } else if (host->is_cancelled(call) != AGENTRT_OK) {
            return AGENTRT_ERR_CANCELLED;
        }
        sleep_ms(every);
    }
    return done(call, ms);
}

static agentrt_status flaky_run(void *inst, agentrt_call *call, agentrt_str input) {
    (void)inst;
    if (json_int(input, "fail", 0)) {
        host->set_error(call, agentrt_cstr("failing on demand (input.fail = true)"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    return host->set_result(call, agentrt_cstr("{\"ok\":true}"));
}

#define AGENT(name, desc, fn) \
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR(name), AGENTRT_STR(desc), AGENTRT_STR(""), 0, 0, fn, NULL, NULL}

static const agentrt_agent agents[] = {
    AGENT("cooperative", "Works for input.ms ms and honours cancellation.", cooperative_run),
    AGENT("stubborn", "Sleeps for input.ms ms and ignores cancellation.", stubborn_run),
    AGENT("heartbeat", "Heartbeats every input.interval_ms; silent after input.silent_after_ms.", heartbeat_run),
    AGENT("flaky", "Fails when input.fail is true.", flaky_run),
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("guards"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Agents that exercise timeouts, heartbeats and the circuit breaker."),
    agents, 4, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);