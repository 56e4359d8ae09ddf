/*
 * iso_flaky — loads once, then crashes in on_init every time it is started again (a marker
 * file, named by the config {"marker":"<path>"}, remembers the first start). Its agent `die`
 * ends the worker, so the runtime must restart it — and then give up with a clear state.
 */
#define _DEFAULT_SOURCE
#include <agentrt/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static agentrt_status init(const agentrt_host *h, agentrt_str config, void **state, char *err, size_t cap) {
    char path[512];
    const char *k = strstr(config.ptr, "\"marker\":\"");
    size_t n = 0;
    FILE *f;
    (void)h; (void)state; (void)err; (void)cap;
    if (k == NULL) return AGENTRT_ERR_INVALID_ARGUMENT;
    k += 10;
    while (k[n] && k[n] != '"' && n < sizeof path - 1) { path[n] = k[n]; n++; }
    path[n] = 0;
    if (access(path, F_OK) == 0) abort();   /* started before: crash on load */
    f = fopen(path, "w");
    if (f) fclose(f);
    return AGENTRT_OK;
}

static agentrt_status die_run(void *i, agentrt_call *c, agentrt_str in) { (void)i; (void)c; (void)in; _exit(1); }

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("die"), AGENTRT_STR(""), AGENTRT_STR(""), 0, 0,
     die_run, NULL, NULL},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("iso_flaky"), AGENTRT_STR("1.0.0"), AGENTRT_STR("crash-on-restart fixture"),
    agents, 1, 0, NULL, init, NULL,
};
static const agentrt_plugin *entry(const agentrt_host *h) { (void)h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
