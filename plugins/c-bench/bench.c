/*
 * bench — the no-op agents and tools `agentrt bench` measures the runtime's overhead with.
 * Built by the package (product AgentRTBenchPlugin); it is an ordinary plugin otherwise.
 */
#include <agentrt/plugin.h>
#include <stdlib.h>
#include "include/agentrt_bench.h"

static const agentrt_host *host;

__attribute__((visibility("default"))) int64_t agentrt_bench_direct_noop(int64_t x) { return x; }

static long count_of(agentrt_str input) {
    char buf[24];
    size_t n = input.len < sizeof buf - 1 ? input.len : sizeof buf - 1, i;
    for (i = 0; i < n; i++) buf[i] = input.ptr[i];
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

static agentrt_status noop_run(void *inst, agentrt_call *call, agentrt_str input) {
    (void)inst;
    (void)input;
    return host->set_result(call, (agentrt_str){"0", 1});
}

/* Calls bench.json_noop input times (input: a JSON number). */
static agentrt_status json_tools_run(void *inst, agentrt_call *call, agentrt_str input) {
    agentrt_tool_result r = {sizeof r, 0, {NULL, 0}};
    long n = count_of(input), i;
    (void)inst;
    for (i = 0; i < n; i++)
        if (host->call_tool(call, (agentrt_str){"json_noop", 9}, (agentrt_str){"{}", 2}, &r) != AGENTRT_OK) return AGENTRT_ERR_AGENT_ERROR;
    return host->set_result(call, (agentrt_str){"0", 1});
}

/* Calls bench.typed_noop input times. */
static agentrt_status typed_tools_run(void *inst, agentrt_call *call, agentrt_str input) {
    agentrt_tool_result r = {sizeof r, 0, {NULL, 0}};
    long n = count_of(input), i;
    (void)inst;
    for (i = 0; i < n; i++)
        if (host->call_tool(call, (agentrt_str){"typed_noop", 10}, (agentrt_str){"{\"x\":7}", 7}, &r) != AGENTRT_OK) return AGENTRT_ERR_AGENT_ERROR;
    return host->set_result(call, (agentrt_str){"0", 1});
}

/* Emits input custom events. */
static agentrt_status emit_run(void *inst, agentrt_call *call, agentrt_str input) {
    long n = count_of(input), i;
    (void)inst;
    for (i = 0; i < n; i++)
        if (host->emit(call, (agentrt_str){"tick", 4}, (agentrt_str){"1", 1}) != AGENTRT_OK) return AGENTRT_ERR_AGENT_ERROR;
    return host->set_result(call, (agentrt_str){"0", 1});
}

/* Per-session state: a small allocation per user session. */
static agentrt_status session_open(void *state, agentrt_str user, agentrt_str session, void **out) {
    (void)state;
    (void)user;
    (void)session;
    *out = malloc(16);
    return *out ? AGENTRT_OK : AGENTRT_ERR_INTERNAL;
}

static void session_close(void *state, void *instance) {
    (void)state;
    free(instance);
}

static agentrt_status json_noop(void *state, agentrt_call *call, agentrt_str args) {
    (void)state;
    (void)args;
    return host->set_result(call, (agentrt_str){"0", 1});
}

#define AGENT(name, fn, open, close) AGENT_FLAGS(name, fn, open, close, AGENTRT_AGENT_THREAD_SAFE)
#define AGENT_FLAGS(name, fn, open, close, flags) \
    {sizeof(agentrt_agent), flags, AGENTRT_STR(name), AGENTRT_STR("benchmark"), AGENTRT_STR(""), 0, 0, fn, open, close}

static const agentrt_agent agents[] = {
    AGENT("noop", noop_run, NULL, NULL),
    /* The same no-op, declared prompt: its calls run on the calling thread (no hand-off). */
    AGENT_FLAGS("prompt", noop_run, NULL, NULL, AGENTRT_AGENT_THREAD_SAFE | AGENTRT_AGENT_RETURNS_PROMPTLY),
    AGENT("json_tools", json_tools_run, NULL, NULL),
    AGENT("typed_tools", typed_tools_run, NULL, NULL),
    AGENT("emit", emit_run, NULL, NULL),
    AGENT("session", noop_run, session_open, session_close),
};

static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("json_noop"), AGENTRT_STR("returns 0"), AGENTRT_STR(""),
     json_noop, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("typed_noop"), AGENTRT_STR("returns x"), AGENTRT_STR(""),
     NULL, AGENTRT_STR("int64_t typed_noop(int64_t x)"), (agentrt_native_fn)agentrt_bench_direct_noop, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("bench"), AGENTRT_STR("1.0.0"), AGENTRT_STR("No-op agents for agentrt bench."),
    agents, sizeof agents / sizeof agents[0], 2, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
