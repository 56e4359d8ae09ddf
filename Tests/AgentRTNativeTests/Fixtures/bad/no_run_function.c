/* Bad plugin: the agent "idle" has no run function (run == NULL).
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("idle"), AGENTRT_STR("does nothing"), AGENTRT_STR(""), 0, 0, NULL, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("no_run_function"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);