/* Bad plugin: agent_count is 3 but the array holds only 2 agents. The array sits inside a struct
 * whose next member is a zeroed agentrt_agent, so reading a 3rd element is defined memory and
 * finds struct_size 0.
 * Expected refusal: invalid_descriptor. */
#include <agentrt/plugin.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

/* Two real agents immediately followed by a zeroed one (same type, so no padding between). */
static const struct {
    agentrt_agent agents[2];
    agentrt_agent zero;
} table = {
    {
        {sizeof(agentrt_agent), 0, AGENTRT_STR("one"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
        {sizeof(agentrt_agent), 0, AGENTRT_STR("two"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
    },
    {0, 0, {NULL, 0}, {NULL, 0}, {NULL, 0}, 0, 0, NULL, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("count_mismatch"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    table.agents, 3, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);