/* Bad plugin: the agent "odd" sets a flag bit this ABI does not define (0x4).
 * Expected refusal: invalid_descriptor naming the flags. */
#include <agentrt/plugin.h>

static agentrt_status odd_run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance;
    (void)call;
    (void)input;
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE | AGENTRT_AGENT_RETURNS_PROMPTLY | 0x4u, AGENTRT_STR("odd"),
     AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, odd_run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("unknown_agent_flags"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
