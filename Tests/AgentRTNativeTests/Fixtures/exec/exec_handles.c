/*
 * exec_handles — call-handle misuse the runtime must turn into statuses, never crashes.
 *
 *   keeper      stores its call handle in slot input.slot and returns.
 *   stale_user  uses the handle stored in input.slot (an earlier, finished call) with every host
 *               function and reports the statuses: {"statuses":[...]}.
 *   null_outs   calls host functions with NULL out pointers and malformed views on its own live
 *               handle and reports the statuses.
 *   leaker      starts a detached thread with its handle and returns at once; 50 ms later the
 *               thread emits, heartbeats, calls a tool and sets a result (statuses kept in slot).
 *   hold        (alice) stores its handle in input.slot, emits an "alice_private" event, sets its
 *               result and waits until `cross` releases it.
 *   cross       (bob) emits its own event, releases `hold` of slot input.slot, waits until that
 *               handle is stale, then tries to emit on it.
 *   emits       emit() with reserved types, invalid JSON and valid data; reports the statuses.
 *   forge_scan  guesses handle values (walking the token space the way a buggy or hostile plugin
 *               could) and reports how many live handles of OTHER users it reached:
 *               {"foreign_live":n,"user":"<a user id it read>","probes":n}.
 *   nop         (JSON tool) returns {}.
 *
 * Exported for the tests (dlsym): exec_handles_probe, exec_handles_stored, exec_handles_leak,
 * exec_handles_release.
 */
#define _POSIX_C_SOURCE 200809L
#include "exec_common.h"
#include <pthread.h>

static const agentrt_host *host;

static agentrt_call *stored[EXEC_SLOTS];
static int released[EXEC_SLOTS];

#define PROBE_COUNT 12

/* Calls every host function with `h`; writes up to `cap` statuses; returns how many exist. */
AGENTRT_EXPORT int32_t exec_handles_probe(agentrt_call *h, int32_t *out, int32_t cap);
AGENTRT_EXPORT int32_t exec_handles_probe(agentrt_call *h, int32_t *out, int32_t cap) {
    int32_t s[PROBE_COUNT];
    agentrt_str v = {NULL, 0};
    int64_t ms = 0;
    agentrt_tool_result r;
    int32_t i;
    memset(&r, 0, sizeof r);
    r.struct_size = (uint32_t)sizeof r;
    s[0] = host->user_id(h, &v);
    s[1] = host->session_id(h, &v);
    s[2] = host->run_id(h, &v);
    s[3] = host->metadata(h, agentrt_cstr("k"), &v);
    s[4] = host->is_cancelled(h);
    s[5] = host->remaining_ms(h, &ms);
    s[6] = host->heartbeat(h, agentrt_cstr("probe"));
    s[7] = host->emit(h, agentrt_cstr("probe_note"), agentrt_cstr("{\"probe\":true}"));
    s[8] = host->call_tool(h, agentrt_cstr("exec_handles.nop"), agentrt_cstr("{}"), &r);
    s[9] = host->set_result(h, agentrt_cstr("{\"probe\":true}"));
    s[10] = host->set_error(h, agentrt_cstr("probe"));
    s[11] = host->log(h, AGENTRT_LOG_INFO, agentrt_cstr("probe"));
    for (i = 0; i < PROBE_COUNT && i < cap; i++) out[i] = s[i];
    return PROBE_COUNT;
}

AGENTRT_EXPORT agentrt_call *exec_handles_stored(int32_t slot);
AGENTRT_EXPORT agentrt_call *exec_handles_stored(int32_t slot) {
    if (slot < 0 || slot >= EXEC_SLOTS) return NULL;
    return EXEC_LOAD(&stored[slot]);
}

static agentrt_status keeper_run(void *inst, agentrt_call *call, agentrt_str input) {
    int slot = exec_slot(input);
    (void)inst;
    if (slot < 0) return AGENTRT_ERR_AGENT_ERROR;
    EXEC_STORE(&stored[slot], call);
    return host->set_result(call, agentrt_cstr("{\"stored\":true}"));
}

static agentrt_status stale_user_run(void *inst, agentrt_call *call, agentrt_str input) {
    int slot = exec_slot(input);
    int32_t s[PROBE_COUNT];
    int32_t i, n;
    exec_buf b;
    (void)inst;
    if (slot < 0 || EXEC_LOAD(&stored[slot]) == NULL) return AGENTRT_ERR_AGENT_ERROR;
    n = exec_handles_probe(EXEC_LOAD(&stored[slot]), s, PROBE_COUNT);
    b.len = 0;
    exec_put(&b, "{\"statuses\":[");
    for (i = 0; i < n; i++) exec_put(&b, "%s%d", i ? "," : "", (int)s[i]);
    exec_put(&b, "]}");
    return host->set_result(call, exec_view(&b));
}

static agentrt_status null_outs_run(void *inst, agentrt_call *call, agentrt_str input) {
    agentrt_tool_result small;
    agentrt_str malformed;
    exec_buf b;
    (void)inst;
    (void)input;
    memset(&small, 0, sizeof small);
    small.struct_size = 0; /* too small for the host to fill */
    malformed.ptr = NULL;
    malformed.len = 5; /* NULL with a length */
    b.len = 0;
    exec_put(&b, "{\"user_id\":%d", (int)host->user_id(call, NULL));
    exec_put(&b, ",\"session_id\":%d", (int)host->session_id(call, NULL));
    exec_put(&b, ",\"run_id\":%d", (int)host->run_id(call, NULL));
    exec_put(&b, ",\"metadata_present\":%d", (int)host->metadata(call, agentrt_cstr("k"), NULL));
    exec_put(&b, ",\"metadata_absent\":%d", (int)host->metadata(call, agentrt_cstr("absent-key"), NULL));
    exec_put(&b, ",\"remaining_ms\":%d", (int)host->remaining_ms(call, NULL));
    exec_put(&b, ",\"call_tool\":%d", (int)host->call_tool(call, agentrt_cstr("nop"), agentrt_cstr("{}"), NULL));
    exec_put(&b, ",\"call_tool_small\":%d", (int)host->call_tool(call, agentrt_cstr("nop"), agentrt_cstr("{}"), &small));
    exec_put(&b, ",\"emit_malformed\":%d", (int)host->emit(call, malformed, agentrt_cstr("{}")));
    exec_put(&b, ",\"heartbeat_malformed\":%d", (int)host->heartbeat(call, malformed));
    exec_put(&b, ",\"set_error_malformed\":%d", (int)host->set_error(call, malformed));
    exec_put(&b, ",\"log_bad_level\":%d", (int)host->log(call, 99, agentrt_cstr("x")));
    exec_put(&b, ",\"set_result_malformed\":%d", (int)host->set_result(call, malformed));
    exec_put(&b, "}");
    return host->set_result(call, exec_view(&b));
}

/* ---------------------------------------------------------------- leaked thread */

static agentrt_call *leak_call[EXEC_SLOTS];
static int32_t leak_status[EXEC_SLOTS][6];
static int leak_done[EXEC_SLOTS];

static void *leak_thread(void *arg) {
    int slot = (int)(intptr_t)arg;
    agentrt_call *call = EXEC_LOAD(&leak_call[slot]);
    agentrt_tool_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = (uint32_t)sizeof r;
    exec_sleep_ms(50);
    EXEC_STORE(&leak_status[slot][0], host->emit(call, agentrt_cstr("leaked_note"), agentrt_cstr("{\"from\":\"thread\"}")));
    EXEC_STORE(&leak_status[slot][1], host->heartbeat(call, agentrt_cstr("leaked heartbeat")));
    EXEC_STORE(&leak_status[slot][2], host->call_tool(call, agentrt_cstr("nop"), agentrt_cstr("{}"), &r));
    EXEC_STORE(&leak_status[slot][3], host->set_result(call, agentrt_cstr("{\"late\":true}")));
    EXEC_STORE(&leak_status[slot][4], host->emit(call, agentrt_cstr("agent_thinking"),
                                                 agentrt_cstr("{\"text\":\"late thought\"}")));
    EXEC_STORE(&leak_status[slot][5], host->is_cancelled(call));
    EXEC_STORE(&leak_done[slot], 1);
    return NULL;
}

/* which < 0: 1 when the thread finished; else its status number `which`. */
AGENTRT_EXPORT int32_t exec_handles_leak(int32_t slot, int32_t which);
AGENTRT_EXPORT int32_t exec_handles_leak(int32_t slot, int32_t which) {
    if (slot < 0 || slot >= EXEC_SLOTS) return -1;
    if (which < 0) return EXEC_LOAD(&leak_done[slot]);
    if (which >= 6) return -1;
    return EXEC_LOAD(&leak_status[slot][which]);
}

static agentrt_status leaker_run(void *inst, agentrt_call *call, agentrt_str input) {
    int slot = exec_slot(input);
    pthread_t t;
    pthread_attr_t attr;
    (void)inst;
    if (slot < 0) return AGENTRT_ERR_AGENT_ERROR;
    EXEC_STORE(&leak_done[slot], 0);
    EXEC_STORE(&leak_call[slot], call);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, leak_thread, (void *)(intptr_t)slot) != 0) {
        pthread_attr_destroy(&attr);
        host->set_error(call, agentrt_cstr("pthread_create failed"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    pthread_attr_destroy(&attr);
    host->emit(call, agentrt_cstr("before_return"), agentrt_cstr("{\"ok\":true}"));
    return host->set_result(call, agentrt_cstr("{\"leaked\":true}"));
}

/* ---------------------------------------------------------------- two users */

static agentrt_status hold_run(void *inst, agentrt_call *call, agentrt_str input) {
    int slot = exec_slot(input), waited = 0;
    (void)inst;
    if (slot < 0) return AGENTRT_ERR_AGENT_ERROR;
    EXEC_STORE(&released[slot], 0);
    host->emit(call, agentrt_cstr("alice_private"), agentrt_cstr("{\"secret\":\"alice only\"}"));
    host->set_result(call, agentrt_cstr("{\"held\":true}"));
    EXEC_STORE(&stored[slot], call);
    while (!EXEC_LOAD(&released[slot]) && waited < 10000) {
        if (host->is_cancelled(call) != AGENTRT_OK) break;
        exec_sleep_ms(2);
        waited += 2;
    }
    return AGENTRT_OK;
}

static agentrt_status cross_run(void *inst, agentrt_call *call, agentrt_str input) {
    int slot = exec_slot(input), waited = 0;
    int32_t own, live_check, stale_emit, stale_user, stale_cancel = AGENTRT_OK;
    agentrt_call *other;
    agentrt_str v;
    exec_buf b;
    (void)inst;
    if (slot < 0 || (other = EXEC_LOAD(&stored[slot])) == NULL) return AGENTRT_ERR_AGENT_ERROR;
    own = host->emit(call, agentrt_cstr("bob_own"), agentrt_cstr("{\"by\":\"bob\"}"));
    live_check = host->is_cancelled(other); /* alice's call still runs: OK */
    EXEC_STORE(&released[slot], 1);
    while (waited < 10000) {
        stale_cancel = host->is_cancelled(other);
        if (stale_cancel == AGENTRT_ERR_STALE_HANDLE) break;
        exec_sleep_ms(1);
        waited += 1;
    }
    stale_emit = host->emit(other, agentrt_cstr("from_bob_on_alice"), agentrt_cstr("{\"by\":\"bob\"}"));
    stale_user = host->user_id(other, &v);
    b.len = 0;
    exec_put(&b, "{\"own\":%d,\"live_check\":%d,\"became\":%d,\"stale_emit\":%d,\"stale_user_id\":%d}",
             (int)own, (int)live_check, (int)stale_cancel, (int)stale_emit, (int)stale_user);
    return host->set_result(call, exec_view(&b));
}

AGENTRT_EXPORT void exec_handles_release(int32_t slot);
AGENTRT_EXPORT void exec_handles_release(int32_t slot) {
    if (slot >= 0 && slot < EXEC_SLOTS) EXEC_STORE(&released[slot], 1);
}

/* ---------------------------------------------------------------- guessing handles */

static agentrt_status try_token(uint64_t token, long *probes) {
    (*probes)++;
    return host->is_cancelled((agentrt_call *)(uintptr_t)token);
}

/* Walks (shard 0..63, slot 0..31) of the handle encoding (generation << 32 | slot << 6 | shard),
 * finds each slot's current generation by bisection on the INVALID/STALE answers, and checks
 * whether that guess is a live handle of another user. */
static agentrt_status forge_scan_run(void *inst, agentrt_call *call, agentrt_str input) {
    uint64_t own = (uint64_t)(uintptr_t)call, shard, index;
    agentrt_str me, other;
    char mine[300], who[300] = "";
    long probes = 0;
    int found = 0;
    exec_buf b;
    (void)inst;
    (void)input;
    if (host->user_id(call, &me) != AGENTRT_OK || me.len >= sizeof mine) return AGENTRT_ERR_AGENT_ERROR;
    memcpy(mine, me.ptr, me.len);
    mine[me.len] = '\0';
    for (shard = 0; shard < 64; shard++) {
        for (index = 0; index < 32; index++) {
            uint64_t base = index << 6 | shard, lo = 1, hi = 0xFFFFFFFFull, t;
            agentrt_status s;
            if (try_token(lo << 32 | base, &probes) == AGENTRT_ERR_INVALID_HANDLE) continue;
            while (lo < hi) {
                uint64_t mid = lo + (hi - lo + 1) / 2;
                if (try_token(mid << 32 | base, &probes) != AGENTRT_ERR_INVALID_HANDLE) lo = mid;
                else hi = mid - 1;
            }
            t = lo << 32 | base;
            if (t == own) continue;
            s = try_token(t, &probes);
            if ((s == AGENTRT_OK || s == AGENTRT_ERR_CANCELLED) &&
                host->user_id((agentrt_call *)(uintptr_t)t, &other) == AGENTRT_OK &&
                (other.len != me.len || memcmp(other.ptr, mine, me.len) != 0)) {
                found++;
                if (other.len < sizeof who) {
                    memcpy(who, other.ptr, other.len);
                    who[other.len] = '\0';
                }
            }
        }
    }
    b.len = 0;
    exec_put(&b, "{\"foreign_live\":%d,\"user\":\"", found);
    {
        size_t i;
        for (i = 0; who[i]; i++)
            if (who[i] != '"' && who[i] != '\\' && (unsigned char)who[i] >= 0x20) exec_put(&b, "%c", who[i]);
    }
    exec_put(&b, "\",\"probes\":%ld}", probes);
    return host->set_result(call, exec_view(&b));
}

/* ---------------------------------------------------------------- emit rules */

static agentrt_status emits_run(void *inst, agentrt_call *call, agentrt_str input) {
    static const char *const reserved[] = {"agent_started", "agent_completed", "agent_failed", "agent_cancelled",
                                           "tool_executing", "tool_completed", "circuit_state_changed",
                                           "stream_gap"};
    size_t i;
    exec_buf b;
    (void)inst;
    (void)input;
    b.len = 0;
    exec_put(&b, "{\"reserved\":[");
    for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        exec_put(&b, "%s%d", i ? "," : "",
                 (int)host->emit(call, agentrt_cstr(reserved[i]), agentrt_cstr("{\"forged\":true}")));
    exec_put(&b, "],\"invalid_json\":%d", (int)host->emit(call, agentrt_cstr("note"), agentrt_cstr("{\"unterminated\":")));
    exec_put(&b, ",\"not_json_text\":%d", (int)host->emit(call, agentrt_cstr("note"), agentrt_cstr("hello")));
    exec_put(&b, ",\"valid\":%d", (int)host->emit(call, agentrt_cstr("note"), agentrt_cstr("{\"fine\":1}")));
    exec_put(&b, ",\"thinking\":%d}", (int)host->emit(call, agentrt_cstr("agent_thinking"),
                                                   agentrt_cstr("{\"text\":\"pondering\",\"kind\":\"reasoning\"}")));
    return host->set_result(call, exec_view(&b));
}

static agentrt_status nop_tool(void *state, agentrt_call *call, agentrt_str args) {
    (void)state;
    (void)args;
    return host->set_result(call, agentrt_cstr("{}"));
}

static const agentrt_agent agents[] = {
    EXEC_AGENT("keeper", keeper_run),     EXEC_AGENT("stale_user", stale_user_run),
    EXEC_AGENT("null_outs", null_outs_run), EXEC_AGENT("leaker", leaker_run),
    EXEC_AGENT("hold", hold_run),         EXEC_AGENT("cross", cross_run),
    EXEC_AGENT("emits", emits_run),       EXEC_AGENT("forge_scan", forge_scan_run),
};

static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("nop"), AGENTRT_STR("Returns {}."), AGENTRT_STR(""),
     nop_tool, AGENTRT_STR(""), NULL, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_handles"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Execution-test fixture: handle misuse."), agents, 8, 1, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
