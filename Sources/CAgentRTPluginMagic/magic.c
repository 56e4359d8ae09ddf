/* The ABI magic every Swift plugin built with AgentRTSDK exports. Swift cannot export a data
 * symbol under a C name, so this one C definition is linked into each plugin. */
#include <agentrt/plugin.h>

AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = AGENTRT_MAGIC_INIT;
