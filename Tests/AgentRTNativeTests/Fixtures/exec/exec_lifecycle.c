/* Counts its lifecycle: on_init, on_shutdown, session_open, session_close, exported for the test. */
#include <agentrt/plugin.h>
#include <stdlib.h>

static const agentrt_host *host;
static int inits, shutdowns, opens, closes;

AGENTRT_EXPORT int exec_lifecycle_count(int which);
int exec_lifecycle_count(int which) {
    switch (which) { case 0: return inits; case 1: return shutdowns; case 2: return opens; default: return closes; }
}

static agentrt_status on_init(const agentrt_host *h, agentrt_str config, void **out_state, char *error, size_t cap) {
    (void)h; (void)config; (void)error; (void)cap;
    inits++;
    *out_state = NULL;
    return AGENTRT_OK;
}
static void on_shutdown(void *state) { (void)state; shutdowns++; }

static agentrt_status open_session(void *state, agentrt_str user, agentrt_str session, void **out) {
    (void)state; (void)user; (void)session;
    __atomic_add_fetch(&opens, 1, __ATOMIC_SEQ_CST);
    *out = malloc(16);
    return AGENTRT_OK;
}
static void close_session(void *state, void *instance) {
    (void)state;
    __atomic_add_fetch(&closes, 1, __ATOMIC_SEQ_CST);
    free(instance);
}
static agentrt_status run(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)input;
    return host->set_result(call, agentrt_cstr("1"));
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("chat"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0,
     run, open_session, close_session},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_lifecycle"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""), agents, 1, 0, NULL,
    on_init, on_shutdown,
};
static const agentrt_plugin *entry(const agentrt_host *h) { host = h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
