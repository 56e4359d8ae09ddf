/* Bad plugin: agent_count is 2 but the agents pointer is NULL.
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("null_agents_array"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    NULL, 2, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);