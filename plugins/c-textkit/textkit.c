/*
 * textkit — JSON tools and a planning agent, in C.
 *   word_count {"text": string} -> {"words": n}
 *   upper      {"text": string} -> {"text": STRING}
 *   sum        int64_t sum(int64_t a, int64_t b)        (a typed native tool)
 *   planner    agent: thinks, calls word_count, upper and sum through the runtime's dispatcher,
 *              and answers from their results.
 */
#include <agentrt/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const agentrt_host *host;

/* Inputs are read with the host's JSON accessors (plugin ABI 1.1): JSON Pointer in, value out,
 * borrowed from the input (decoded into call-owned memory when the string has escapes). */
static agentrt_str text_of(agentrt_call *call, agentrt_str json) {
    agentrt_str text = {NULL, 0};
    if (host->json_get_string(call, json, agentrt_cstr("/text"), &text) != AGENTRT_OK) text.ptr = NULL;
    return text;
}

static long long count_words(agentrt_str s) {
    long long words = 0;
    int in_word = 0;
    size_t i;
    for (i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') in_word = 0;
        else if (!in_word) { in_word = 1; words++; }
    }
    return words;
}

static agentrt_status word_count(void *state, agentrt_call *call, agentrt_str args) {
    char out[64];
    agentrt_str text = text_of(call, args);
    (void)state;
    snprintf(out, sizeof out, "{\"words\":%lld}", count_words(text));
    return host->set_result(call, agentrt_cstr(out));
}

/* Upper-cases ASCII letters and writes the text back as a JSON string (escaping what must be). */
static agentrt_status upper(void *state, agentrt_call *call, agentrt_str args) {
    agentrt_str text = text_of(call, args);
    size_t i, n = 0;
    char *out = malloc(text.len * 6 + 16);
    agentrt_status st;
    (void)state;
    if (!out) { host->set_error(call, agentrt_cstr("out of memory")); return AGENTRT_ERR_AGENT_ERROR; }
    n += (size_t)sprintf(out, "{\"text\":\"");
    for (i = 0; i < text.len; i++) {
        unsigned char c = (unsigned char)text.ptr[i];
        if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)sprintf(out + n, "\\u%04x", c);
        else out[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : (char)c;
    }
    out[n++] = '"'; out[n++] = '}';
    st = host->set_result(call, (agentrt_str){out, n});   /* copied by the host at once */
    free(out);
    return st;
}

static int64_t sum(int64_t a, int64_t b) { return a + b; }

static agentrt_status planner_run(void *inst, agentrt_call *call, agentrt_str input) {
    agentrt_tool_result r1 = {sizeof(agentrt_tool_result), 0, {NULL, 0}};
    agentrt_tool_result r2 = {sizeof(agentrt_tool_result), 0, {NULL, 0}};
    agentrt_tool_result r3 = {sizeof(agentrt_tool_result), 0, {NULL, 0}};
    agentrt_str text = text_of(call, input);
    char args[96], *out;
    int64_t words = 0;
    agentrt_status st;
    size_t cap;
    (void)inst;
    if (!text.ptr) {
        host->set_error(call, agentrt_cstr("input must be {\"text\": \"...\"}"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    host->emit(call, agentrt_cstr("agent_thinking"),
               agentrt_cstr("{\"text\":\"plan: count the words, shout the text, add the counts\",\"kind\":\"reasoning\"}"));
    /* Our own input is valid JSON, so it is valid arguments for tools taking {"text": ...}. */
    st = host->call_tool(call, agentrt_cstr("word_count"), input, &r1);
    if (st != AGENTRT_OK || r1.is_error) goto tool_failed;
    if (host->json_get_int64(r1.content, agentrt_cstr("/words"), &words) != AGENTRT_OK) goto tool_failed;
    st = host->call_tool(call, agentrt_cstr("textkit.upper"), input, &r2);
    if (st != AGENTRT_OK || r2.is_error) goto tool_failed;
    snprintf(args, sizeof args, "{\"a\":%lld,\"b\":%lld}", (long long)words, (long long)text.len);
    st = host->call_tool(call, agentrt_cstr("sum"), agentrt_cstr(args), &r3);
    if (st != AGENTRT_OK || r3.is_error) goto tool_failed;
    host->heartbeat(call, agentrt_cstr("all tools answered"));
    cap = r2.content.len + r3.content.len + 64;
    out = malloc(cap);
    if (!out) return AGENTRT_ERR_INTERNAL;
    snprintf(out, cap, "{\"words\":%lld,\"shout\":%.*s,\"words_plus_bytes\":%.*s}", (long long)words,
             (int)r2.content.len, r2.content.ptr, (int)r3.content.len, r3.content.ptr);
    st = host->set_result(call, agentrt_cstr(out));
    free(out);
    return st;
tool_failed:
    host->set_error(call, agentrt_cstr("a tool failed; see the tool_completed events"));
    return AGENTRT_ERR_AGENT_ERROR;
}

static const agentrt_agent agents[] = {
    {sizeof(agentrt_agent), AGENTRT_AGENT_THREAD_SAFE, AGENTRT_STR("planner"),
     AGENTRT_STR("Plans with tools: counts words, upper-cases, adds."),
     AGENTRT_STR("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}"),
     0, 0, planner_run, NULL, NULL},
};

#define TEXT_SCHEMA "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"}},\"required\":[\"text\"]}"
static const agentrt_tool tools[] = {
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("word_count"), AGENTRT_STR("Counts words in text."),
     AGENTRT_STR(TEXT_SCHEMA), word_count, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_JSON, AGENTRT_STR("upper"), AGENTRT_STR("Upper-cases ASCII letters."),
     AGENTRT_STR(TEXT_SCHEMA), upper, AGENTRT_STR(""), NULL, 0, 0},
    {sizeof(agentrt_tool), AGENTRT_TOOL_NATIVE, AGENTRT_STR("sum"), AGENTRT_STR("Adds two integers."),
     AGENTRT_STR(""), NULL, AGENTRT_STR("int64_t sum(int64_t a, int64_t b)"), (agentrt_native_fn)sum, 0, 0},
};

static const agentrt_plugin plugin = {
    sizeof(agentrt_plugin), 0, AGENTRT_STR("textkit"), AGENTRT_STR("1.0.0"),
    AGENTRT_STR("Text tools and an agent that plans with them."),
    agents, 1, 3, tools, NULL, NULL,
};

static const agentrt_plugin *entry(const agentrt_host *h) {
    host = h;
    return &plugin;
}

AGENTRT_DEFINE_PLUGIN(entry);