/* A plugin built for ABI 1.0 (its magic says minor 0): it must keep loading and running on a
 * 1.1 runtime. It reads only 1.0 members of the host table. */
#include <agentrt/plugin.h>

AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = {sizeof(agentrt_magic), AGENTRT_MAGIC_TAG, 1, 0, sizeof(void*), 0};
static const agentrt_host *host;

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance;
    return host->set_result(call, input);
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("echo"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_abi10"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""), agents, 1, 0, NULL, NULL, NULL,
};
AGENTRT_EXPORT const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *h);
const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *h) { host = h; return &plugin; }
