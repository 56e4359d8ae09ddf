/* Bad plugin: valid magic, but agentrt_plugin_entry returns NULL (the plugin refuses to load).
 * Expected refusal: entry_returned_null. */
#include <agentrt/plugin.h>

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return NULL;
}

AGENTRT_DEFINE_PLUGIN(entry);