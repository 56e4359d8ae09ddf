/* A plugin that tells where the dynamic linker loaded it from: its on_init refuses to load with
 * "loaded from <path>", the file name dladdr reports for its own code (the loader's identity
 * link). PluginLinkDirectoryTests read it from `agentrt load`'s error message. */
#define _GNU_SOURCE
#include <agentrt/plugin.h>
#include <dlfcn.h>
#include <stdio.h>

static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    return AGENTRT_OK;
}

static agentrt_status on_init(const agentrt_host *host, agentrt_str config, void **out_state,
                              char *error, size_t error_cap) {
    Dl_info info;
    (void)host; (void)config;
    *out_state = NULL;
    if (dladdr((void *)&on_init, &info) != 0 && info.dli_fname != NULL)
        snprintf(error, error_cap, "loaded from %s", info.dli_fname);
    else
        snprintf(error, error_cap, "%s", "dladdr found no file name");
    return AGENTRT_ERR_AGENT_ERROR;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), 0, AGENTRT_STR("noop"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("whereami"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, on_init, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *host) {
    (void)host;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
