/*
 * exec_results — results the runtime must refuse (or accept) without harm.
 *
 *   result  input.mode: 1 invalid JSON, 2 a 100 MB (valid JSON) string, 3 invalid UTF-8,
 *           4 no set_result at all, 5 set_result twice, 6 a valid result.
 *           Before returning it emits "set_status" {"first":<status>,"second":<status>} with
 *           what set_result returned (second is -1 unless mode 5).
 *           Always returns AGENTRT_OK.
 */
#define _POSIX_C_SOURCE 200809L
#include "exec_common.h"

static const agentrt_host *host;

#define HUGE_BYTES ((size_t)100 * 1024 * 1024)

static agentrt_status result_run(void *inst, agentrt_call *call, agentrt_str input) {
    long long mode = exec_json_int(input, "mode", 6);
    int32_t first = -1, second = -1;
    char note[96];
    (void)inst;
    switch (mode) {
    case 1:
        first = host->set_result(call, agentrt_cstr("{\"not\": json"));
        break;
    case 2: {
        char *big = (char *)malloc(HUGE_BYTES);
        agentrt_str v;
        if (big == NULL) {
            host->set_error(call, agentrt_cstr("malloc of 100 MB failed"));
            return AGENTRT_ERR_AGENT_ERROR;
        }
        memset(big, 'a', HUGE_BYTES);
        big[0] = '"';
        big[HUGE_BYTES - 1] = '"';
        v.ptr = big;
        v.len = HUGE_BYTES;
        first = host->set_result(call, v);
        free(big);
        break;
    }
    case 3: {
        static const char bad[] = {'"', 'o', 'k', (char)0xFF, (char)0xFE, (char)0xC3, '"'};
        agentrt_str v;
        v.ptr = bad;
        v.len = sizeof bad;
        first = host->set_result(call, v);
        break;
    }
    case 4:
        break;
    case 5:
        first = host->set_result(call, agentrt_cstr("{\"n\":1}"));
        second = host->set_result(call, agentrt_cstr("{\"n\":2}"));
        break;
    default:
        first = host->set_result(call, agentrt_cstr("{\"valid\":true}"));
        break;
    }
    snprintf(note, sizeof note, "{\"first\":%d,\"second\":%d}", (int)first, (int)second);
    host->emit(call, agentrt_cstr("set_status"), agentrt_cstr(note));
    return AGENTRT_OK;
}

static const agentrt_agent agents[] = {
    EXEC_AGENT("result", result_run),
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("exec_results"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Execution-test fixture: results."), agents, 1, 0, NULL, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);
