/*
 * exec_guards — agents for the timeout, heartbeat, hung-call and quarantine tests.
 *
 *   sleeper      sleeps input.ms and ignores cancellation entirely; when it finally returns it
 *                tries set_result, emit and is_cancelled on its (by then abandoned) call and
 *                records their statuses in slot input.slot.
 *   cooperative  polls is_cancelled every 2 ms for up to input.ms; stops when cancelled.
 *   heartbeat    heartbeats every input.interval_ms ("beat N") for input.ms; with
 *                input.silent_after_ms >= 0 it sends a last heartbeat "last words before silence"
 *                at that point, then goes silent (polling only is_cancelled).
 *   quick        sets {"ok":true} at once.
 *
 * exec_guards_probe(slot, what) lets the tests read what the sleeper recorded: "entered" is 1
 * while a sleeper of that slot is inside its function, "returned" once it came back.
 */
#define _POSIX_C_SOURCE 200809L
#include "exec_common.h"

static const agentrt_host *host;

static int entered[EXEC_SLOTS];
static int returned[EXEC_SLOTS];
static int32_t late_result[EXEC_SLOTS];
static int32_t late_emit[EXEC_SLOTS];
static int32_t late_cancel[EXEC_SLOTS];
static int sleeping_now;

enum { PROBE_ENTERED = 0, PROBE_RETURNED = 1, PROBE_LATE_RESULT = 2, PROBE_LATE_EMIT = 3,
       PROBE_LATE_CANCEL = 4, PROBE_SLEEPING = 5 };

AGENTRT_EXPORT int32_t exec_guards_probe(int32_t slot, int32_t what);
AGENTRT_EXPORT int32_t exec_guards_probe(int32_t slot, int32_t what) {
    if (what == PROBE_SLEEPING) return EXEC_LOAD(&sleeping_now);
    if (slot < 0 || slot >= EXEC_SLOTS) return -1;
    switch (what) {
    case PROBE_ENTERED: return EXEC_LOAD(&entered[slot]);
    case PROBE_RETURNED: return EXEC_LOAD(&returned[slot]);
    case PROBE_LATE_RESULT: return EXEC_LOAD(&late_result[slot]);
    case PROBE_LATE_EMIT: return EXEC_LOAD(&late_emit[slot]);
    case PROBE_LATE_CANCEL: return EXEC_LOAD(&late_cancel[slot]);
    default: return -1;
    }
}

static agentrt_status sleeper_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = exec_json_int(input, "ms", 100);
    int slot = exec_slot(input);
    int32_t r, e, c;
    char out[96];
    (void)inst;
    EXEC_ADD(&sleeping_now, 1);
    if (slot >= 0) {
        EXEC_STORE(&returned[slot], 0);
        EXEC_STORE(&entered[slot], 1);
    }
    exec_sleep_ms(ms); /* never looks at cancellation */
    snprintf(out, sizeof out, "{\"slept_ms\":%lld}", ms);
    r = host->set_result(call, agentrt_cstr(out));
    e = host->emit(call, agentrt_cstr("late_note"), agentrt_cstr("{\"late\":true}"));
    c = host->is_cancelled(call);
    if (slot >= 0) {
        EXEC_STORE(&late_result[slot], r);
        EXEC_STORE(&late_emit[slot], e);
        EXEC_STORE(&late_cancel[slot], c);
        EXEC_STORE(&entered[slot], 0);
        EXEC_STORE(&returned[slot], 1);
    }
    EXEC_ADD(&sleeping_now, -1);
    return AGENTRT_OK;
}

static agentrt_status cooperative_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = exec_json_int(input, "ms", 100), t;
    (void)inst;
    for (t = 0; t < ms; t += 2) {
        if (host->is_cancelled(call) != AGENTRT_OK) {
            host->set_error(call, agentrt_cstr("stopped: cancelled"));
            return AGENTRT_ERR_CANCELLED;
        }
        exec_sleep_ms(2);
    }
    return host->set_result(call, agentrt_cstr("{\"finished\":true}"));
}

static agentrt_status heartbeat_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long ms = exec_json_int(input, "ms", 300), every = exec_json_int(input, "interval_ms", 20);
    long long silent_after = exec_json_int(input, "silent_after_ms", -1), t, n = 0;
    int silent = 0;
    char note[64];
    (void)inst;
    if (every < 1) every = 1;
    for (t = 0; t < ms; t += every) {
        if (!silent && silent_after >= 0 && t >= silent_after) {
            if (host->heartbeat(call, agentrt_cstr("last words before silence")) == AGENTRT_ERR_CANCELLED)
                return AGENTRT_ERR_CANCELLED;
            silent = 1;
        }
        if (!silent) {
            snprintf(note, sizeof note, "beat %lld", n++);
            if (host->heartbeat(call, agentrt_cstr(note)) == AGENTRT_ERR_CANCELLED) {
                host->set_error(call, agentrt_cstr("cancelled while heartbeating"));
                return AGENTRT_ERR_CANCELLED;
            }
        } else if (host->is_cancelled(call) != AGENTRT_OK) {
            host->set_error(call, agentrt_cstr("cancelled while silent"));
            return AGENTRT_ERR_CANCELLED;
        }
        exec_sleep_ms(every);
    }
    snprintf(note, sizeof note, "{\"beats\":%lld}", n);
    return host->set_result(call, agentrt_cstr(note));
}

static agentrt_status quick_run(void *inst, agentrt_call *call, agentrt_str input) {
    (void)inst;
    (void)input;
    return host->set_result(call, agentrt_cstr("{\"ok\":true}"));
}

static const agentrt_agent agents[] = {
    EXEC_AGENT("sleeper", sleeper_run),
    EXEC_AGENT("cooperative", cooperative_run),
    EXEC_AGENT("heartbeat", heartbeat_run),
    EXEC_AGENT("quick", quick_run),
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_guards"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Execution-test fixture: guards."), agents, 4, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
