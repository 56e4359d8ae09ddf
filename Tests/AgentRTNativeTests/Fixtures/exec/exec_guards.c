/*
 * exec_guards — agents for the timeout, heartbeat, hung-call and quarantine tests. The tests
 * drive deadlines with the runtime's manual clock; the agents only wait for conditions (the
 * test's release, cancellation), polling every millisecond. input.ms is a real-time cap that
 * only a failing test ever reaches.
 *
 *   sleeper      waits until the test calls exec_guards_release(input.slot), ignoring
 *                cancellation entirely; when it finally returns it tries set_result, emit and
 *                is_cancelled on its (by then abandoned) call and records their statuses in the slot.
 *   cooperative  polls is_cancelled every millisecond; stops when cancelled (or released).
 *   heartbeat    heartbeats "beat N" every input.interval_ms of real time (counting beats in the
 *                slot) until released; with input.silent_after >= 0 it stops after that many beats,
 *                sends a last heartbeat "last words before silence", marks the slot silent and
 *                then only polls is_cancelled.
 *   quick        sets {"ok":true} at once.
 *
 * exec_guards_probe(slot, what) lets the tests read what the agents recorded: "entered" is 1
 * while an agent of that slot is inside its function, "returned" once it came back.
 */
#define _POSIX_C_SOURCE 200809L
#include "exec_common.h"

static const agentrt_host *host;

static int entered[EXEC_SLOTS];
static int returned[EXEC_SLOTS];
static int32_t late_result[EXEC_SLOTS];
static int32_t late_emit[EXEC_SLOTS];
static int32_t late_cancel[EXEC_SLOTS];
static int released[EXEC_SLOTS];
static int beats[EXEC_SLOTS];
static int silent_now[EXEC_SLOTS];
static int sleeping_now;

enum { PROBE_ENTERED = 0, PROBE_RETURNED = 1, PROBE_LATE_RESULT = 2, PROBE_LATE_EMIT = 3,
       PROBE_LATE_CANCEL = 4, PROBE_SLEEPING = 5, PROBE_BEATS = 6, PROBE_SILENT = 7 };

/* Lets the agent of `slot` finish. */
AGENTRT_EXPORT void exec_guards_release(int32_t slot);
AGENTRT_EXPORT void exec_guards_release(int32_t slot) {
    if (slot >= 0 && slot < EXEC_SLOTS) EXEC_STORE(&released[slot], 1);
}

/* Marks `slot` entered (and not released, not returned) as an agent starts. */
static void enter_slot(int slot) {
    if (slot < 0) return;
    EXEC_STORE(&released[slot], 0);
    EXEC_STORE(&beats[slot], 0);
    EXEC_STORE(&silent_now[slot], 0);
    EXEC_STORE(&returned[slot], 0);
    EXEC_STORE(&entered[slot], 1);
}

static void leave_slot(int slot) {
    if (slot < 0) return;
    EXEC_STORE(&entered[slot], 0);
    EXEC_STORE(&returned[slot], 1);
}

static int is_released(int slot) { return slot >= 0 && EXEC_LOAD(&released[slot]); }

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
    case PROBE_BEATS: return EXEC_LOAD(&beats[slot]);
    case PROBE_SILENT: return EXEC_LOAD(&silent_now[slot]);
    default: return -1;
    }
}

static agentrt_status sleeper_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long cap = exec_json_int(input, "ms", 30000), waited;
    int slot = exec_slot(input);
    int32_t r, e, c;
    (void)inst;
    EXEC_ADD(&sleeping_now, 1);
    enter_slot(slot);
    /* Never looks at cancellation: only the test's release (or the cap) ends the wait. */
    for (waited = 0; waited < cap && !is_released(slot); waited++) exec_sleep_ms(1);
    r = host->set_result(call, agentrt_cstr("{\"slept\":true}"));
    e = host->emit(call, agentrt_cstr("late_note"), agentrt_cstr("{\"late\":true}"));
    c = host->is_cancelled(call);
    if (slot >= 0) {
        EXEC_STORE(&late_result[slot], r);
        EXEC_STORE(&late_emit[slot], e);
        EXEC_STORE(&late_cancel[slot], c);
    }
    leave_slot(slot);
    EXEC_ADD(&sleeping_now, -1);
    return AGENTRT_OK;
}

static agentrt_status cooperative_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long cap = exec_json_int(input, "ms", 30000), t;
    int slot = exec_slot(input);
    (void)inst;
    enter_slot(slot);
    for (t = 0; t < cap && !is_released(slot); t++) {
        if (host->is_cancelled(call) != AGENTRT_OK) {
            host->set_error(call, agentrt_cstr("stopped: cancelled"));
            leave_slot(slot);
            return AGENTRT_ERR_CANCELLED;
        }
        exec_sleep_ms(1);
    }
    leave_slot(slot);
    return host->set_result(call, agentrt_cstr("{\"finished\":true}"));
}

static agentrt_status heartbeat_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long cap = exec_json_int(input, "ms", 30000), every = exec_json_int(input, "interval_ms", 2);
    long long silent_after = exec_json_int(input, "silent_after", -1), t, n = 0;
    int slot = exec_slot(input), silent = 0;
    agentrt_status st = AGENTRT_OK;
    char note[64];
    (void)inst;
    if (every < 1) every = 1;
    enter_slot(slot);
    for (t = 0; t < cap && !is_released(slot); t += every) {
        if (!silent && silent_after >= 0 && n >= silent_after) {
            if (host->heartbeat(call, agentrt_cstr("last words before silence")) == AGENTRT_ERR_CANCELLED) {
                st = AGENTRT_ERR_CANCELLED;
                break;
            }
            silent = 1;
            if (slot >= 0) EXEC_STORE(&silent_now[slot], 1);
        }
        if (!silent) {
            snprintf(note, sizeof note, "beat %lld", n++);
            if (host->heartbeat(call, agentrt_cstr(note)) == AGENTRT_ERR_CANCELLED) {
                host->set_error(call, agentrt_cstr("cancelled while heartbeating"));
                st = AGENTRT_ERR_CANCELLED;
                break;
            }
            if (slot >= 0) EXEC_ADD(&beats[slot], 1);
        } else if (host->is_cancelled(call) != AGENTRT_OK) {
            host->set_error(call, agentrt_cstr("cancelled while silent"));
            st = AGENTRT_ERR_CANCELLED;
            break;
        }
        exec_sleep_ms(every);
    }
    if (st == AGENTRT_OK) {
        snprintf(note, sizeof note, "{\"beats\":%lld}", n);
        st = host->set_result(call, agentrt_cstr(note));
    }
    leave_slot(slot);
    return st;
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
