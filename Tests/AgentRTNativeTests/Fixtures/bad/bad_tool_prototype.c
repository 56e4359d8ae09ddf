/* Bad plugin: the native tool "bar" declares the prototype "struct foo bar(int a)"
 * (struct types are not supported by the typed-tool bridge).
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static int bar(int a) { return a; }

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("bar"), AGENTRT_STR("returns a struct"),
     AGENTRT_STR(""), NULL, AGENTRT_STR("struct foo bar(int a)"), (agentrt_native_fn)bar, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("bad_tool_prototype"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 1, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);