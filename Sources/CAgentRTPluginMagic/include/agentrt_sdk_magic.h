#ifndef AGENTRT_SDK_MAGIC_H
#define AGENTRT_SDK_MAGIC_H
#include <agentrt/plugin.h>
/* Defined in magic.c; referenced by the SDK so the linker always keeps it. */
extern const agentrt_magic agentrt_plugin_magic;
#endif
