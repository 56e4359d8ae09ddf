/* Bad plugin: its only agent has a NULL name ({NULL, 0}).
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

/* NULL name pointer, length 0: a name that was never set. */
static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, {NULL, 0}, AGENTRT_STR("nameless"), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("null_agent_name"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);