/*
 * exec_tools — tools called from C through the runtime's dispatcher, and an echo agent.
 *
 *   echo       returns its input unchanged.
 *   use_tools  calls a JSON tool, three typed tools (int64_t, double, const char *), an unknown
 *              tool, a typed tool with bad arguments, and a JSON tool that itself calls a tool;
 *              reports {"<step>":{"s":<status>,"e":<is_error>,"c":<content or null>}, ...}.
 *   echo_args  (JSON tool) returns {"got":<args>}.
 *   outer      (JSON tool) calls add(a, b) through call_tool and returns {"inner_status":s,"inner":<c>}.
 *   add        int64_t add(int64_t a, int64_t b)       — counts its invocations
 *   mul        double mul(double x, double y)
 *   classify   const char *classify(const char *s)     — "empty" / "short" / "long"
 */
#define _POSIX_C_SOURCE 200809L
#include "exec_common.h"

static const agentrt_host *host;
static int add_calls;

AGENTRT_EXPORT int32_t exec_tools_add_calls(void);
AGENTRT_EXPORT int32_t exec_tools_add_calls(void) { return EXEC_LOAD(&add_calls); }

static int64_t add(int64_t a, int64_t b) {
    EXEC_ADD(&add_calls, 1);
    return a + b;
}
static double mul(double x, double y) { return x * y; }
static const char *classify(const char *s) {
    size_t n = s ? strlen(s) : 0;
    return n == 0 ? "empty" : (n < 8 ? "short" : "long");
}

static agentrt_status echo_run(void *inst, agentrt_call *call, agentrt_str input) {
    (void)inst;
    return host->set_result(call, input);
}

static void step(exec_buf *b, const char *name, agentrt_call *call, const char *tool, const char *args) {
    agentrt_tool_result r;
    agentrt_status s;
    memset(&r, 0, sizeof r);
    r.struct_size = (uint32_t)sizeof r;
    s = host->call_tool(call, agentrt_cstr(tool), agentrt_cstr(args), &r);
    exec_put(b, "%s\"%s\":{\"s\":%d", b->len > 1 ? "," : "", name, (int)s);
    if (s == AGENTRT_OK)
        exec_put(b, ",\"e\":%d,\"c\":%.*s}", (int)r.is_error, (int)r.content.len, r.content.ptr);
    else
        exec_put(b, ",\"e\":null,\"c\":null}");
}

static agentrt_status use_tools_run(void *inst, agentrt_call *call, agentrt_str input) {
    exec_buf b;
    int32_t before, after;
    (void)inst;
    (void)input;
    b.len = 0;
    exec_put(&b, "{");
    step(&b, "json", call, "exec_tools.echo_args", "{\"x\":1,\"y\":\"two\"}");
    step(&b, "add", call, "add", "{\"a\":2,\"b\":40}");
    step(&b, "mul", call, "exec_tools.mul", "{\"x\":1.5,\"y\":4}");
    step(&b, "classify", call, "classify", "{\"s\":\"hello\"}");
    step(&b, "unknown", call, "exec_tools.no_such_tool", "{}");
    before = EXEC_LOAD(&add_calls);
    step(&b, "bad_args", call, "add", "{\"a\":\"not a number\",\"b\":1}");
    after = EXEC_LOAD(&add_calls);
    step(&b, "reentrant", call, "outer", "{\"a\":20,\"b\":22}");
    exec_put(&b, ",\"add_calls_during_bad_args\":%d}", (int)(after - before));
    return host->set_result(call, exec_view(&b));
}

static agentrt_status echo_args_tool(void *state, agentrt_call *call, agentrt_str args) {
    exec_buf b;
    (void)state;
    b.len = 0;
    exec_put(&b, "{\"got\":%.*s}", (int)args.len, args.ptr);
    return host->set_result(call, exec_view(&b));
}

static agentrt_status outer_tool(void *state, agentrt_call *call, agentrt_str args) {
    char inner_args[128];
    agentrt_tool_result r;
    agentrt_status s;
    exec_buf b;
    (void)state;
    memset(&r, 0, sizeof r);
    r.struct_size = (uint32_t)sizeof r;
    snprintf(inner_args, sizeof inner_args, "{\"a\":%lld,\"b\":%lld}", exec_json_int(args, "a", 0),
             exec_json_int(args, "b", 0));
    s = host->call_tool(call, agentrt_cstr("add"), agentrt_cstr(inner_args), &r);
    b.len = 0;
    if (s == AGENTRT_OK)
        exec_put(&b, "{\"inner_status\":%d,\"inner\":%.*s}", (int)s, (int)r.content.len, r.content.ptr);
    else
        exec_put(&b, "{\"inner_status\":%d,\"inner\":null}", (int)s);
    return host->set_result(call, exec_view(&b));
}

static const agentrt_agent agents[] = {
    EXEC_AGENT("echo", echo_run),
    EXEC_AGENT("use_tools", use_tools_run),
};

static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("echo_args"), AGENTRT_STR("Returns {\"got\": args}."),
     AGENTRT_STR("{\"type\":\"object\"}"), echo_args_tool, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("outer"), AGENTRT_STR("Calls add through the runtime."),
     AGENTRT_STR(""), outer_tool, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("add"), AGENTRT_STR("Adds."), AGENTRT_STR(""), NULL,
     AGENTRT_STR("int64_t add(int64_t a, int64_t b)"), (agentrt_native_fn)add, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("mul"), AGENTRT_STR("Multiplies."), AGENTRT_STR(""), NULL,
     AGENTRT_STR("double mul(double x, double y)"), (agentrt_native_fn)mul, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("classify"), AGENTRT_STR("Classifies a string."),
     AGENTRT_STR(""), NULL, AGENTRT_STR("const char *classify(const char *s)"), (agentrt_native_fn)classify, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_tools"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Execution-test fixture: tools."), agents, 2, 5, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
