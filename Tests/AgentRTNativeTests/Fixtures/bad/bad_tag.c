/* Bad plugin: its magic carries the tag "XXXX" instead of "AGRT", otherwise valid.
 * Expected refusal: bad_magic. The entry must never be called. */
#include <agentrt/plugin.h>

AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = {sizeof(agentrt_magic), 0x58585858u, AGENTRT_ABI_MAJOR, AGENTRT_ABI_MINOR, sizeof(void*), 0};

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("bad_tag"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

AGENTRT_EXPORT const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host);
const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}
