/* ABI 1.1 JSON accessors, used the way a plugin author would: agent "read" reads its input
 * {"name": string, "n": int, "x": number, "ok": bool, "items": [..]} and answers what it read,
 * with each accessor's status for the error cases. */
#include <agentrt/plugin.h>
#include <stdio.h>
#include <string.h>

static const agentrt_host *host;

static agentrt_status read_input(void *instance, agentrt_call *call, agentrt_str input) {
    agentrt_str name = {0}, raw = {0}, missing = {0}, esc = {0};
    int64_t n = 0, big = 0;
    double x = 0;
    int32_t ok = 0;
    char out[1024];
    agentrt_status s_name, s_n, s_x, s_ok, s_raw, s_missing, s_mismatch, s_big, s_esc, s_bad_ptr, s_bad_json;
    (void)instance;
    if (!AGENTRT_HAS_MEMBER(host, agentrt_host, json_get_bool)) return host->set_result(call, agentrt_cstr("\"old host\""));
    s_name = host->json_get_string(call, input, agentrt_cstr("/name"), &name);
    s_n = host->json_get_int64(input, agentrt_cstr("/n"), &n);
    s_x = host->json_get_double(input, agentrt_cstr("/x"), &x);
    s_ok = host->json_get_bool(input, agentrt_cstr("/ok"), &ok);
    s_raw = host->json_get_raw(input, agentrt_cstr("/items/1"), &raw);
    s_missing = host->json_get_raw(input, agentrt_cstr("/items/9"), &missing);
    s_mismatch = host->json_get_int64(input, agentrt_cstr("/name"), &big);
    s_big = host->json_get_int64(input, agentrt_cstr("/huge"), &big);
    s_esc = host->json_get_string(NULL, input, agentrt_cstr("/a~1b"), &esc);
    s_bad_ptr = host->json_get_raw(input, agentrt_cstr("no-slash"), &raw);
    s_bad_json = host->json_get_raw(agentrt_cstr("{\"a\":1,\"a\":2}"), agentrt_cstr("/a"), &missing);
    snprintf(out, sizeof out,
             "{\"name\":\"%.*s\",\"name_len\":%zu,\"n\":%lld,\"x\":%g,\"ok\":%d,\"raw\":%.*s,"
             "\"statuses\":[\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\",\"%s\"]}",
             (int)name.len, name.ptr, name.len, (long long)n, x, ok, (int)raw.len, raw.ptr,
             agentrt_status_name(s_name), agentrt_status_name(s_n), agentrt_status_name(s_x),
             agentrt_status_name(s_ok), agentrt_status_name(s_raw), agentrt_status_name(s_missing),
             agentrt_status_name(s_mismatch), agentrt_status_name(s_big), agentrt_status_name(s_esc),
             agentrt_status_name(s_bad_ptr), agentrt_status_name(s_bad_json));
    return host->set_result(call, agentrt_cstr(out));
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("read"), AGENTRT_STR("reads its input"),
     AGENTRT_STR(""), 0, 0, read_input, NULL, NULL},
};
static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_json"), AGENTRT_STR("1.0.0"), AGENTRT_STR(""),
    agents, 1, 0, NULL, NULL, NULL,
};
static const agentrt_plugin *entry(const agentrt_host *h) { host = h; return &plugin; }
AGENTRT_DEFINE_PLUGIN(entry);
