/* A complete agentrt plugin from scratch. Build it with one line (from the repository root):
 *
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden -I include examples/hello-plugin/hello.c -o libhello.so
 *
 * then:  agentrt load ./libhello.so   and   agentrt run ./libhello.so --agent hello --user you
 */
#include <agentrt/plugin.h>
#include <stdio.h>

static const agentrt_host *host;

static agentrt_status hello(void *instance, agentrt_call *call, agentrt_str input) {
    agentrt_str user;
    char out[300];
    (void)instance;
    (void)input;
    host->user_id(call, &user);
    host->heartbeat(call, agentrt_cstr("saying hello"));
    snprintf(out, sizeof out, "{\"message\":\"hello from C\",\"user_bytes\":%zu}", user.len);
    return host->set_result(call, agentrt_cstr(out));
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("hello"), AGENTRT_STR("Says hello."),
     AGENTRT_STR(""), 0, 0, hello, NULL, NULL},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("hello"), AGENTRT_STR("0.1.0"), AGENTRT_STR("The smallest plugin."),
    agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);