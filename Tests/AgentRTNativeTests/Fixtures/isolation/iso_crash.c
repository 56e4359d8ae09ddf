/*
 * iso_crash — agents that end their process in every way a native plugin can, for the process
 * isolation tests. Built like any third-party plugin:
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden -I include iso_crash.c -o libiso_crash.so
 *
 *   ok        {"pid":<worker pid>}; emits a custom "where" event first
 *   segv      writes through NULL               abort_   abort()
 *   exit0     exit(0)                            exit3    _exit(3)
 *   thread_exit  pthread_exit(NULL) on the serving thread
 *   hang      sleeps forever, ignoring cancellation
 *   polite    sleeps until is_cancelled, then returns
 *   hog       allocates 16 MiB blocks (touching them) until malloc fails, then aborts
 *   spin      burns CPU forever, ignoring cancellation
 *   counter   per-session counter: {"n":<calls in this session>,"pid":<pid>}
 *   tools     calls its own JSON tool and typed tool: {"json":<content>,"add":<content>}
 *   hang_open an agent whose session_open never returns
 *   echo      (JSON tool) {"got":<args>}       add   int64_t add(int64_t a, int64_t b)
 */
#define _DEFAULT_SOURCE
#include <agentrt/plugin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const agentrt_host *host;

static agentrt_status reply_pid(agentrt_call *call, const char *extra) {
    char buf[128];
    snprintf(buf, sizeof buf, "{\"pid\":%d%s}", (int)getpid(), extra);
    return host->set_result(call, agentrt_cstr(buf));
}

static agentrt_status ok_run(void *inst, agentrt_call *call, agentrt_str input) {
    (void)inst; (void)input;
    host->emit(call, agentrt_cstr("where"), agentrt_cstr("{\"isolated\":true}"));
    return reply_pid(call, "");
}
static agentrt_status segv_run(void *i, agentrt_call *c, agentrt_str in) {
    (void)i; (void)c; (void)in;
    *(volatile int *)0 = 1;
    return AGENTRT_OK;
}
static agentrt_status abort_run(void *i, agentrt_call *c, agentrt_str in) { (void)i; (void)c; (void)in; abort(); }
static agentrt_status exit0_run(void *i, agentrt_call *c, agentrt_str in) { (void)i; (void)c; (void)in; exit(0); }
static agentrt_status exit3_run(void *i, agentrt_call *c, agentrt_str in) { (void)i; (void)c; (void)in; _exit(3); }
static agentrt_status thread_exit_run(void *i, agentrt_call *c, agentrt_str in) {
    (void)i; (void)c; (void)in;
    pthread_exit(NULL);
}
static agentrt_status hang_run(void *i, agentrt_call *c, agentrt_str in) {
    (void)i; (void)c; (void)in;
    for (;;) usleep(100000);
    return AGENTRT_OK;
}
static agentrt_status polite_run(void *i, agentrt_call *c, agentrt_str in) {
    (void)i; (void)in;
    while (host->is_cancelled(c) == AGENTRT_OK) usleep(1000);
    return host->set_result(c, agentrt_cstr("{\"stopped\":true}"));
}
static agentrt_status hog_run(void *i, agentrt_call *c, agentrt_str in) {
    (void)i; (void)c; (void)in;
    for (;;) {
        char *p = malloc(16u << 20);
        if (p == NULL) abort();
        memset(p, 1, 16u << 20);
    }
}
static agentrt_status spin_run(void *i, agentrt_call *c, agentrt_str in) {
    volatile unsigned long n = 0;
    (void)i; (void)c; (void)in;
    for (;;) n++;
    return AGENTRT_OK;
}

static agentrt_status counter_open(void *state, agentrt_str user, agentrt_str session, void **out) {
    (void)state; (void)user; (void)session;
    *out = calloc(1, sizeof(long));
    return *out ? AGENTRT_OK : AGENTRT_ERR_INTERNAL;
}
static void counter_close(void *state, void *instance) { (void)state; free(instance); }
static agentrt_status counter_run(void *inst, agentrt_call *call, agentrt_str in) {
    char extra[64];
    long n = ++*(long *)inst;
    (void)in;
    snprintf(extra, sizeof extra, ",\"n\":%ld", n);
    return reply_pid(call, extra);
}

static agentrt_status hang_open(void *state, agentrt_str user, agentrt_str session, void **out) {
    (void)state; (void)user; (void)session; (void)out;
    for (;;) usleep(100000);
    return AGENTRT_OK;
}

static agentrt_status tools_run(void *inst, agentrt_call *call, agentrt_str in) {
    agentrt_tool_result a, b;
    agentrt_status s1, s2;
    char buf[512];
    (void)inst; (void)in;
    memset(&a, 0, sizeof a); a.struct_size = sizeof a;
    memset(&b, 0, sizeof b); b.struct_size = sizeof b;
    s1 = host->call_tool(call, agentrt_cstr("iso_crash.echo"), agentrt_cstr("{\"x\":1}"), &a);
    s2 = host->call_tool(call, agentrt_cstr("add"), agentrt_cstr("{\"a\":40,\"b\":2}"), &b);
    if (s1 != AGENTRT_OK || s2 != AGENTRT_OK) {
        snprintf(buf, sizeof buf, "tool statuses %d %d", (int)s1, (int)s2);
        host->set_error(call, agentrt_cstr(buf));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    snprintf(buf, sizeof buf, "{\"json\":%.*s,\"add\":%.*s}", (int)a.content.len, a.content.ptr,
             (int)b.content.len, b.content.ptr);
    return host->set_result(call, agentrt_cstr(buf));
}

static agentrt_status echo_tool(void *state, agentrt_call *call, agentrt_str args) {
    char buf[256];
    (void)state;
    snprintf(buf, sizeof buf, "{\"got\":%.*s,\"pid\":%d}", (int)args.len, args.ptr, (int)getpid());
    return host->set_result(call, agentrt_cstr(buf));
}
static int64_t add(int64_t a, int64_t b) { return a + b; }

#define AGENT(n, fn) {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR(n), AGENTRT_STR(n), AGENTRT_STR(""), 0, 0, fn, NULL, NULL}
static const agentrt_agent agents[] = {
    AGENT("ok", ok_run), AGENT("segv", segv_run), AGENT("abort_", abort_run), AGENT("exit0", exit0_run),
    AGENT("exit3", exit3_run), AGENT("thread_exit", thread_exit_run), AGENT("hang", hang_run),
    AGENT("polite", polite_run), AGENT("hog", hog_run), AGENT("spin", spin_run), AGENT("tools", tools_run),
    {sizeof(agentrt_agent), 0, AGENTRT_STR("counter"), AGENTRT_STR("per-session counter"), AGENTRT_STR(""), 0, 0,
     counter_run, counter_open, counter_close},
    {sizeof(agentrt_agent), 0, AGENTRT_STR("hang_open"), AGENTRT_STR("session_open never returns"), AGENTRT_STR(""), 0, 0,
     counter_run, hang_open, counter_close},
};
static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("echo"), AGENTRT_STR("Echoes."),
     AGENTRT_STR("{\"type\":\"object\"}"), echo_tool, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("add"), AGENTRT_STR("Adds."), AGENTRT_STR(""), NULL,
     AGENTRT_STR("int64_t add(int64_t a, int64_t b)"), (agentrt_native_fn)add, 0, 0},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("iso_crash"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Process-isolation fixture: crashing agents."), agents, 13, 2, tools, NULL, NULL,
};
static const agentrt_plugin *entry(const agentrt_host *h) { host = h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
