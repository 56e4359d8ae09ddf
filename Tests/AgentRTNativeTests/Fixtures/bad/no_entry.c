/* Bad plugin: exports a valid agentrt_plugin_magic but no agentrt_plugin_entry.
 * Expected refusal: missing_entry. */
#include <agentrt/plugin.h>

AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = AGENTRT_MAGIC_INIT;
