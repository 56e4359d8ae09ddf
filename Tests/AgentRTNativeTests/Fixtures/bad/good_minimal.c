/* A valid plugin for the loader's positive cases: plugin "minimal" 0.1.0 with one agent, "echo",
 * that returns its input unchanged. It counts how often agentrt_plugin_entry ran, readable with
 * dlsym(handle, "minimal_entry_count"), so tests can prove the loader called it exactly once.
 * (It lives next to the bad fixtures so that one folder holds the whole loader corpus.) */
#include <agentrt/plugin.h>

static const agentrt_host *host;
static int entry_calls;

static agentrt_status echo_run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance;
    return host->set_result(call, input);
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE | AGENTRT_AGENT_RETURNS_PROMPTLY, AGENTRT_STR("echo"),
     AGENTRT_STR("Returns its input unchanged."), AGENTRT_STR("{\"type\":\"object\"}"), 2500, 0, echo_run, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("minimal"), AGENTRT_STR("0.1.0"),
    AGENTRT_STR("The smallest valid plugin."),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    /* The loader promises entry runs once, never concurrently: a plain increment is enough, and
     * a racy loader shows up as a count above 1. */
    entry_calls++;
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
AGENTRT_EXPORT int minimal_entry_count(void);
int minimal_entry_count(void) { return entry_calls; }
