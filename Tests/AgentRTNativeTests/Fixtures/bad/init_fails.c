/* Bad plugin: a valid descriptor whose on_init fails with a message.
 * Expected refusal: init_failed, carrying "database url missing". */
#include <agentrt/plugin.h>
#include <stdio.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static agentrt_status on_init(const agentrt_host *host, agentrt_str config, void **out_state,
                              char *error, size_t error_cap) {
    (void)host; (void)config;
    *out_state = NULL;
    snprintf(error, error_cap, "%s", "database url missing");
    return AGENTRT_ERR_AGENT_ERROR;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("query"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("init_fails"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, on_init, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);