/*
 * basics — a small C plugin: three agents and two typed native tools.
 *
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden -I include plugins/c-basics/basics.c -o libbasics.so
 *
 * Depends on libc only. Agents are thread-safe: they keep no state of their own.
 */
#include <agentrt/plugin.h>
#include <stdio.h>
#include <string.h>

static const agentrt_host *host;

/* echo: returns its input unchanged. */
static agentrt_status echo_run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance;
    return host->set_result(call, input);
}

/* greet: greets the calling user by id, after a thinking note. */
static agentrt_status greet_run(void *instance, agentrt_call *call, agentrt_str input) {
    agentrt_str user;
    char out[512];
    (void)instance;
    (void)input;
    if (host->user_id(call, &user) != AGENTRT_OK) return AGENTRT_ERR_INTERNAL;
    host->emit(call, agentrt_cstr("agent_thinking"),
               agentrt_cstr("{\"text\":\"looking up who is calling\",\"kind\":\"reasoning\"}"));
    /* user ids never contain control characters or quotes that need escaping beyond '"' and '\\';
       refuse those rather than build invalid JSON. */
    if (memchr(user.ptr, '"', user.len) || memchr(user.ptr, '\\', user.len) || user.len > 400) {
        host->set_error(call, agentrt_cstr("user id needs JSON escaping; not supported by this example"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    snprintf(out, sizeof out, "{\"greeting\":\"hello, %.*s\"}", (int)user.len, user.ptr);
    return host->set_result(call, agentrt_cstr(out));
}

/* delegate: hands its input to the host's tool `host.multiply` (registered by an embedding
   host through agentrt_register_native_tool) and answers with the product. */
static agentrt_status delegate_run(void *instance, agentrt_call *call, agentrt_str input) {
    agentrt_tool_result r = {sizeof(agentrt_tool_result), 0, {NULL, 0}};
    char out[128];
    agentrt_status st;
    (void)instance;
    st = host->call_tool(call, agentrt_cstr("host.multiply"), input, &r);
    if (st != AGENTRT_OK || r.is_error) {
        snprintf(out, sizeof out, "host.multiply failed: %s", agentrt_status_name(st));
        host->set_error(call, agentrt_cstr(out));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    snprintf(out, sizeof out, "{\"product\":%.*s}", (int)r.content.len, r.content.ptr);
    return host->set_result(call, agentrt_cstr(out));
}

/* Typed native tools: plain C functions, called by the runtime through libffi. */
static int64_t add(int64_t a, int64_t b) { return a + b; }
static double scale(double x, double factor) { return x * factor; }

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("echo"),
     AGENTRT_STR("Returns its input unchanged."), AGENTRT_STR(""), 0, 0, echo_run, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("greet"),
     AGENTRT_STR("Greets the calling user."), AGENTRT_STR("{\"type\":\"object\"}"), 5000, 0, greet_run, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("delegate"),
     AGENTRT_STR("Calls the embedding host's tool host.multiply with its input {a, b}."),
     AGENTRT_STR(""), 0, 0, delegate_run, NULL, NULL},
};

static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("add"), AGENTRT_STR("Adds two 64-bit integers."),
     AGENTRT_STR(""), NULL, AGENTRT_STR("int64_t add(int64_t a, int64_t b)"), (agentrt_native_fn)add, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("scale"), AGENTRT_STR("Multiplies x by factor."),
     AGENTRT_STR(""), NULL, AGENTRT_STR("double scale(double x, double factor)"), (agentrt_native_fn)scale, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("basics"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Echo and greeting agents, and typed arithmetic tools."),
    agents, 3, 2, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);