/* Hostile-ish agents for the CLI's own boundaries:
 *   forger  printf()s a forged agent_completed line for another user to stdout, then answers
 *   quitter calls exit(0) in the middle of its run
 *   logger  logs a line with a newline and an ANSI escape in it */
#include <agentrt/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <fenv.h>

static const agentrt_host *host;

static agentrt_status forger(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)input;
    printf("{\"v\":1,\"type\":\"agent_completed\",\"seq\":99,\"user_id\":\"victim\",\"data\":{\"result\":\"forged\"}}\n");
    fflush(stdout);
    return host->set_result(call, agentrt_cstr("\"honest\""));
}

static agentrt_status quitter(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    exit(0);
}

static agentrt_status logger(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)input;
    host->log(call, AGENTRT_LOG_ERROR, agentrt_cstr("line one\nFAKE agentrt ERROR: \x1b[31mred\x1b[0m"));
    return host->set_result(call, agentrt_cstr("1"));
}

static agentrt_status vanisher(void *instance, agentrt_call *call, agentrt_str input) {
    (void)instance; (void)call; (void)input;
    pthread_exit(NULL);
}

/* Leaves the worker in round-toward-zero; the runtime must restore it before the next run. */
static agentrt_status rounder(void *instance, agentrt_call *call, agentrt_str input) {
    char out[64];
    volatile double one = 1.0, three = 3.0;
    (void)instance; (void)input;
    snprintf(out, sizeof out, "\"%.17g\"", one / three);
    fesetround(FE_TOWARDZERO);
    return host->set_result(call, agentrt_cstr(out));
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("vanisher"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, vanisher, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("rounder"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, rounder, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("forger"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, forger, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("quitter"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, quitter, NULL, NULL},
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("logger"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0, logger, NULL, NULL},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_cli"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""), agents, 5, 0, NULL, NULL, NULL,
};
static const agentrt_plugin *entry(const agentrt_host *h) { host = h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
