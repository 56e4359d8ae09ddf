/* Bad plugin: built for 4-byte pointers (magic written by hand), otherwise valid.
 * Expected refusal: pointer_size_mismatch. The entry must never be called. */
#include <agentrt/plugin.h>

AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = {sizeof(agentrt_magic), AGENTRT_MAGIC_TAG, AGENTRT_ABI_MAJOR, AGENTRT_ABI_MINOR, 4, 0};

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("echo"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("wrong_pointer_size"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};

AGENTRT_EXPORT const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host);
const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}
