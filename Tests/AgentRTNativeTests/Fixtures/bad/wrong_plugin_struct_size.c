/* Bad plugin: agentrt_plugin.struct_size is 8 bytes short of sizeof(agentrt_plugin).
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin) - 8, 0, AGENTRT_STR("wrong_plugin_struct_size"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);