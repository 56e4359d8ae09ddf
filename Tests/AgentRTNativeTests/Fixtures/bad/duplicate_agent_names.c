/* Bad plugin: two agents are both named "echo".
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR("first"), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR("second"), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("duplicate_agent_names"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 2, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);