/*
 * misuse — checks that every misuse of the embedding API (include/agentrt/agentrt.h) returns the
 * documented status and never crashes, and that the documented services behave (async
 * completions, cancellation, replay, host tools).
 *
 *   misuse <libbasics.so> <libguards.so> <section>
 *
 * Sections (one per test case): info handles handle_messages args null_names async cancel
 * replay json_tool native_tool free_releases. Each check prints one line; the first failure prints
 * "FAIL <check>: <details>" and exits 1; a hang exits 3 naming the check (capi_common.h).
 * The last line of a passing section is "OK <section>: <n> checks".
 */
#include "capi_common.h"

#include <dirent.h>

static const char *basics_path, *guards_path;

/* A runtime with the given plugins loaded (NULL to skip one); fails the check on error. */
static agentrt_runtime *new_runtime(const agentrt_config *config, int basics, int guards) {
    agentrt_runtime *rt = NULL;
    char *name = NULL, *error = NULL;
    agentrt_status st = agentrt_runtime_new(config, &rt);
    CHECK("setup: agentrt_runtime_new", st == AGENTRT_OK && rt != NULL, "status %s", agentrt_status_string(st));
    if (basics) {
        st = agentrt_load_plugin(rt, basics_path, NULL, &name, &error);
        CHECK("setup: load basics", st == AGENTRT_OK && name && strcmp(name, "basics") == 0,
              "status %s, name %s, error %s", agentrt_status_string(st), capi_s(name), capi_s(error));
        agentrt_free(name);
        agentrt_free(error);
        name = error = NULL;
    }
    if (guards) {
        st = agentrt_load_plugin(rt, guards_path, NULL, &name, &error);
        CHECK("setup: load guards", st == AGENTRT_OK && name && strcmp(name, "guards") == 0,
              "status %s, name %s, error %s", agentrt_status_string(st), capi_s(name), capi_s(error));
        agentrt_free(name);
        agentrt_free(error);
    }
    return rt;
}

/* ================================================================== info */

static void section_info(void) {
    const char *v = agentrt_version();
    const agentrt_host *h = agentrt_host_table();
    agentrt_runtime *rt = (agentrt_runtime *)&rt;
    agentrt_config config;
    agentrt_status s;
    agentrt_str view = {NULL, 0};
    char label[96];

    CHECK("agentrt_version is non-empty", v != NULL && v[0] != '\0', "got %s", capi_s(v));
    for (s = -3; s < AGENTRT_STATUS_COUNT_ + 3; s++) {
        const char *a = agentrt_status_string(s), *b = agentrt_status_name(s);
        snprintf(label, sizeof label, "agentrt_status_string(%d) == agentrt_status_name", (int)s);
        CHECK(label, a != NULL && strcmp(a, b) == 0, "agentrt_status_string gave %s, agentrt_status_name %s", capi_s(a), b);
    }
    CHECK("agentrt_status_string(INT32_MIN) == agentrt_status_name",
          strcmp(agentrt_status_string(INT32_MIN), agentrt_status_name(INT32_MIN)) == 0, "got %s",
          agentrt_status_string(INT32_MIN));
    CHECK("agentrt_status_string(INT32_MAX) == agentrt_status_name",
          strcmp(agentrt_status_string(INT32_MAX), agentrt_status_name(INT32_MAX)) == 0, "got %s",
          agentrt_status_string(INT32_MAX));
    agentrt_free(NULL);
    CHECK("agentrt_free(NULL) is a no-op", 1, "unreachable");

    CHECK_STATUS("agentrt_runtime_new(config, NULL out) -> invalid_argument", agentrt_runtime_new(NULL, NULL),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    memset(&config, 0, sizeof config);
    config.struct_size = 4;
    CHECK_STATUS("agentrt_runtime_new with a too small struct_size -> invalid_argument",
                 agentrt_runtime_new(&config, &rt), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK("agentrt_runtime_new failure sets *out to NULL", rt == NULL, "*out is %p", (void *)rt);
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.breaker_failure_percent = 101;
    CHECK_STATUS("agentrt_runtime_new with breaker_failure_percent 101 -> invalid_argument",
                 agentrt_runtime_new(&config, &rt), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_runtime_new(NULL config) -> ok", agentrt_runtime_new(NULL, &rt), AGENTRT_OK, NULL);
    CHECK("agentrt_runtime_new gives a handle", rt != NULL, "handle is NULL");
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);

    CHECK("agentrt_host_table is non-NULL", h != NULL, "NULL");
    CHECK("host table struct_size and ABI", h->struct_size >= sizeof(agentrt_host) && h->abi_major == AGENTRT_ABI_MAJOR,
          "struct_size %u (expected >= %zu), abi_major %u", h->struct_size, sizeof(agentrt_host), h->abi_major);
    CHECK("every host table slot is set",
          h->user_id && h->session_id && h->run_id && h->metadata && h->is_cancelled && h->remaining_ms &&
              h->heartbeat && h->emit && h->call_tool && h->set_result && h->set_error && h->log,
          "a slot is NULL");
    CHECK("agentrt_host_table is stable", agentrt_host_table() == h, "two different tables");
    CHECK_STATUS("host->user_id(NULL call) -> invalid_argument", h->user_id(NULL, &view), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("host->user_id(forged call 0x1234) -> invalid_handle", h->user_id((agentrt_call *)0x1234, &view),
                 AGENTRT_ERR_INVALID_HANDLE, NULL);
    CHECK_STATUS("host->set_result(forged call) -> invalid_handle",
                 h->set_result((agentrt_call *)(uintptr_t)0xdeadbeefcafef00dull, agentrt_cstr("1")),
                 AGENTRT_ERR_INVALID_HANDLE, NULL);
}

/* ================================================================== handles */

static atomic_int stray_callbacks;

static void count_stray(void *ud, agentrt_status st, const char *run_id, const char *text) {
    (void)ud; (void)st; (void)run_id; (void)text;
    atomic_fetch_add(&stray_callbacks, 1);
}

static void stray_event(void *ud, const char *json, size_t len) {
    (void)ud; (void)json; (void)len;
    atomic_fetch_add(&stray_callbacks, 1);
}

static int64_t dummy_tool(int64_t a) { return a; }

static agentrt_status dummy_json_tool(void *ud, agentrt_call *call, agentrt_str args) {
    (void)ud;
    return agentrt_host_table()->set_result(call, args);
}

static char sentinel[1];

/* Calls every entry point with `rt` and checks each returns `want`, resets its out strings and
 * never calls a callback. */
static void check_every_entry_point(agentrt_runtime *rt, agentrt_status want, const char *what) {
    char label[200], *result = sentinel, *error = NULL, *run_id = sentinel, *name = sentinel, *json = sentinel;
    uint64_t sub = 777;
    agentrt_status st;

#define ENTRY(fn, call)                                                                              \
    do {                                                                                             \
        snprintf(label, sizeof label, "%s: %s -> %s", what, fn, agentrt_status_string(want));        \
        capi_begin(label);                                                                           \
        st = (call);                                                                                 \
        CHECK_STATUS(label, st, want, error);                                                        \
        agentrt_free(error);                                                                         \
        error = NULL;                                                                                \
    } while (0)

    ENTRY("agentrt_run", agentrt_run(rt, "basics", "echo", "handle-user", "{}", NULL, &result, &error, &run_id));
    snprintf(label, sizeof label, "%s: agentrt_run resets *out_result and *out_run_id to NULL", what);
    CHECK(label, result == NULL && run_id == NULL, "out_result %p, out_run_id %p", (void *)result, (void *)run_id);
    run_id = sentinel;
    ENTRY("agentrt_run_async", agentrt_run_async(rt, "basics", "echo", "handle-user", "{}", NULL, count_stray, NULL, &run_id));
    snprintf(label, sizeof label, "%s: agentrt_run_async resets *out_run_id to NULL", what);
    CHECK(label, run_id == NULL, "out_run_id %p", (void *)run_id);
    ENTRY("agentrt_cancel", agentrt_cancel(rt, "run_x"));
    ENTRY("agentrt_subscribe", agentrt_subscribe(rt, "handle-user", 0, stray_event, NULL, &sub));
    ENTRY("agentrt_unsubscribe", agentrt_unsubscribe(rt, 1));
    ENTRY("agentrt_load_plugin", agentrt_load_plugin(rt, basics_path, NULL, &name, &error));
    snprintf(label, sizeof label, "%s: agentrt_load_plugin resets *out_plugin_name to NULL", what);
    CHECK(label, name == NULL, "out_plugin_name %p", (void *)name);
    ENTRY("agentrt_register_native_tool",
          agentrt_register_native_tool(rt, "ident", "d", "int64_t ident(int64_t a)", (agentrt_native_fn)dummy_tool, NULL, &error));
    ENTRY("agentrt_register_json_tool",
          agentrt_register_json_tool(rt, "jident", "d", NULL, dummy_json_tool, NULL, &error));
    ENTRY("agentrt_list_json", agentrt_list_json(rt, &json));
    snprintf(label, sizeof label, "%s: agentrt_list_json resets *out_json to NULL", what);
    CHECK(label, json == NULL, "out_json %p", (void *)json);
    json = sentinel;
    ENTRY("agentrt_stats_json", agentrt_stats_json(rt, &json));
    snprintf(label, sizeof label, "%s: agentrt_stats_json resets *out_json to NULL", what);
    CHECK(label, json == NULL, "out_json %p", (void *)json);
    json = sentinel;
    ENTRY("agentrt_isolation_json", agentrt_isolation_json(rt, &json));
    snprintf(label, sizeof label, "%s: agentrt_isolation_json resets *out_json to NULL", what);
    CHECK(label, json == NULL, "out_json %p", (void *)json);
    ENTRY("agentrt_runtime_free", agentrt_runtime_free(rt));
    ENTRY("agentrt_runtime_free (again)", agentrt_runtime_free(rt));
#undef ENTRY
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void section_handles(void) {
    agentrt_runtime *rt, *a, *b, *c;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    long stack_value[4] = {0};
    char label[96], *result = NULL, *error = NULL;
    int i;

    atomic_init(&stray_callbacks, 0);
    check_every_entry_point(NULL, AGENTRT_ERR_INVALID_ARGUMENT, "NULL runtime");
    check_every_entry_point((agentrt_runtime *)(uintptr_t)0x1234, AGENTRT_ERR_INVALID_HANDLE, "forged runtime 0x1234");
    check_every_entry_point((agentrt_runtime *)(void *)stack_value, AGENTRT_ERR_INVALID_HANDLE,
                            "a pointer to host memory as runtime");
    for (i = 0; i < 8; i++) {
        uint64_t v = xorshift(&seed);
        snprintf(label, sizeof label, "random runtime 0x%016llx", (unsigned long long)v);
        check_every_entry_point((agentrt_runtime *)(uintptr_t)v, AGENTRT_ERR_INVALID_HANDLE, label);
    }

    /* Freed runtimes: stale for every entry point; other runtimes stay usable. */
    a = new_runtime(NULL, 1, 0);
    rt = new_runtime(NULL, 1, 0);
    b = new_runtime(NULL, 1, 0);
    CHECK_STATUS("a live runtime runs basics.echo", agentrt_run(rt, "basics", "echo", "handle-user", "{\"x\":1}", NULL,
                                                             &result, &error, NULL), AGENTRT_OK, error);
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;
    CHECK_STATUS("agentrt_runtime_free(live runtime) -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
    check_every_entry_point(rt, AGENTRT_ERR_STALE_HANDLE, "freed runtime");
    CHECK_STATUS("agentrt_runtime_free a third time -> stale_handle", agentrt_runtime_free(rt), AGENTRT_ERR_STALE_HANDLE, NULL);
    c = new_runtime(NULL, 1, 0);
    CHECK("a new runtime never reuses a freed handle", c != rt, "new handle %p equals the freed one", (void *)c);
    CHECK_STATUS("the runtime created before the freed one still works",
                 agentrt_run(a, "basics", "echo", "handle-user", "{}", NULL, &result, &error, NULL), AGENTRT_OK, error);
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;
    CHECK_STATUS("the runtime created after the freed one still works",
                 agentrt_run(b, "basics", "echo", "handle-user", "{}", NULL, &result, &error, NULL), AGENTRT_OK, error);
    agentrt_free(result);
    agentrt_free(error);
    CHECK_STATUS("free runtime a", agentrt_runtime_free(a), AGENTRT_OK, NULL);
    CHECK_STATUS("free runtime b", agentrt_runtime_free(b), AGENTRT_OK, NULL);
    CHECK_STATUS("free runtime c", agentrt_runtime_free(c), AGENTRT_OK, NULL);
    CHECK_STATUS("runtime a is stale afterwards", agentrt_stats_json(a, &result), AGENTRT_ERR_STALE_HANDLE, NULL);
    capi_sleep_ms(200);
    CHECK("no callback ran for a refused handle", atomic_load(&stray_callbacks) == 0, "%d callbacks ran",
          atomic_load(&stray_callbacks));
}

/* ================================================================== handle_messages */

/* "out_error always receives a message when non-NULL": also when the handle is refused. */
static void messages_for(agentrt_runtime *rt, const char *what) {
    char label[200], *error = NULL, *name = NULL;
    agentrt_status st;

    st = agentrt_run(rt, "basics", "echo", "msg-user", "{}", NULL, NULL, &error, NULL);
    snprintf(label, sizeof label, "%s: agentrt_run fills *out_error", what);
    CHECK(label, st != AGENTRT_OK && error != NULL && error[0] != '\0', "status %s, out_error %s",
          agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    error = NULL;
    st = agentrt_load_plugin(rt, basics_path, NULL, &name, &error);
    snprintf(label, sizeof label, "%s: agentrt_load_plugin fills *out_error", what);
    CHECK(label, st != AGENTRT_OK && error != NULL && error[0] != '\0', "status %s, out_error %s",
          agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_native_tool(rt, "ident", "d", "int64_t ident(int64_t a)", (agentrt_native_fn)dummy_tool,
                                      NULL, &error);
    snprintf(label, sizeof label, "%s: agentrt_register_native_tool fills *out_error", what);
    CHECK(label, st != AGENTRT_OK && error != NULL && error[0] != '\0', "status %s, out_error %s",
          agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_json_tool(rt, "jident", "d", NULL, dummy_json_tool, NULL, &error);
    snprintf(label, sizeof label, "%s: agentrt_register_json_tool fills *out_error", what);
    CHECK(label, st != AGENTRT_OK && error != NULL && error[0] != '\0', "status %s, out_error %s",
          agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
}

static void section_handle_messages(void) {
    agentrt_runtime *rt;
    messages_for(NULL, "NULL runtime");
    messages_for((agentrt_runtime *)(uintptr_t)0x1234, "forged runtime");
    rt = new_runtime(NULL, 0, 0);
    agentrt_runtime_free(rt);
    messages_for(rt, "freed runtime");
}

/* ================================================================== args */

static void expect_run(agentrt_runtime *rt, const char *label, const char *plugin, const char *agent, const char *user,
                       const char *input, const agentrt_run_options *options, agentrt_status want, const char *word) {
    char *result = sentinel, *error = NULL;
    agentrt_status st = agentrt_run(rt, plugin, agent, user, input, options, &result, &error, NULL);
    capi_begin(label);
    CHECK_STATUS(label, st, want, error);
    if (want != AGENTRT_OK) {
        char l2[256];
        snprintf(l2, sizeof l2, "%s: message and no result", label);
        CHECK(l2, error != NULL && error[0] != '\0' && result == NULL && (word == NULL || strstr(error, word) != NULL),
              "out_error %s (expected a message naming \"%s\"), out_result %p", capi_s(error), capi_s(word), (void *)result);
    }
    if (result != sentinel) agentrt_free(result);
    agentrt_free(error);
}

static void section_args(void) {
    agentrt_runtime *rt = new_runtime(NULL, 1, 0);
    capi_completion done;
    agentrt_run_options options;
    char *result = NULL, *error = NULL, *name = NULL, *run_id = sentinel, *json = NULL, label[400];
    char long_user[301], bad_path[256], junk_path[256];
    uint64_t sub = 0, sub2 = 0;
    agentrt_status st;
    FILE *junk;
    static const char *const placeholders[] = {"none", "null", "nil", "undefined", "default", "  NONE ", "0", "-"};
    static const char *const bad_inputs[] = {"{not json", "", "{\"a\":}", "[1,2", "\xff\xfe"};
    static const char *const precise_inputs[][2] = {
        {"{not json", "invalid JSON at byte 1: expected a string key"},
        {"{\"a\":1,\"a\":2}", "byte 7: duplicate key \"a\""},
        {"[\"\\ud800\"]", "byte 2: lone surrogate \\uD800"},
        {"[\"ok\xff\"]", "byte 4: invalid UTF-8"},
        {"\xff\xfe", "byte 0"},
    };
    char deep_input[301];
    size_t i;

    /* NULL out pointers where the contract requires them. */
    CHECK_STATUS("agentrt_subscribe(NULL out_subscription) -> invalid_argument",
                 agentrt_subscribe(rt, "args-user", -1, stray_event, NULL, NULL), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_subscribe(NULL callback) -> invalid_argument",
                 agentrt_subscribe(rt, "args-user", -1, NULL, NULL, &sub), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_subscribe(NULL user_id) -> invalid_argument",
                 agentrt_subscribe(rt, NULL, -1, stray_event, NULL, &sub), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_list_json(NULL out) -> invalid_argument", agentrt_list_json(rt, NULL),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_stats_json(NULL out) -> invalid_argument", agentrt_stats_json(rt, NULL),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_isolation_json(NULL out) -> invalid_argument", agentrt_isolation_json(rt, NULL),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS("agentrt_run_async(NULL callback) -> invalid_argument",
                 agentrt_run_async(rt, "basics", "echo", "args-user", "{}", NULL, NULL, NULL, &run_id),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    CHECK("agentrt_run_async(NULL callback) resets *out_run_id", run_id == NULL, "out_run_id %p", (void *)run_id);
    CHECK_STATUS("agentrt_cancel(NULL run_id) -> invalid_argument", agentrt_cancel(rt, NULL), AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    st = agentrt_load_plugin(rt, NULL, NULL, &name, &error);
    CHECK_STATUS("agentrt_load_plugin(NULL path) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    CHECK("agentrt_load_plugin(NULL path) explains", error != NULL && name == NULL, "out_error %s", capi_s(error));
    agentrt_free(error);
    error = NULL;
    st = agentrt_load_plugin(rt, basics_path, "{not json", &name, &error);
    CHECK_STATUS("agentrt_load_plugin(invalid config_json) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    CHECK("agentrt_load_plugin(invalid config_json) explains", error != NULL && name == NULL, "out_error %s", capi_s(error));
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_native_tool(rt, "t1", "d", NULL, (agentrt_native_fn)dummy_tool, NULL, &error);
    CHECK_STATUS("agentrt_register_native_tool(NULL prototype) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    CHECK("... with a message", error != NULL, "no out_error");
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_native_tool(rt, "t1", "d", "int64_t t1(int64_t a)", NULL, NULL, &error);
    CHECK_STATUS("agentrt_register_native_tool(NULL function) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_native_tool(rt, NULL, "d", "int64_t t1(int64_t a)", (agentrt_native_fn)dummy_tool, NULL, &error);
    CHECK_STATUS("agentrt_register_native_tool(NULL name) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_json_tool(rt, "j1", "d", NULL, NULL, NULL, &error);
    CHECK_STATUS("agentrt_register_json_tool(NULL function) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_json_tool(rt, NULL, "d", NULL, dummy_json_tool, NULL, &error);
    CHECK_STATUS("agentrt_register_json_tool(NULL name) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_register_json_tool(rt, "j2", "d", "{oops", dummy_json_tool, NULL, &error);
    CHECK_STATUS("agentrt_register_json_tool(invalid schema JSON) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    CHECK("... with a message", error != NULL && error[0] != '\0', "no out_error");
    agentrt_free(error);
    error = NULL;

    /* Optional outputs may be NULL. */
    CHECK_STATUS("agentrt_run with every out pointer NULL -> ok (no crash)",
                 agentrt_run(rt, "basics", "echo", "args-user", "{}", NULL, NULL, NULL, NULL), AGENTRT_OK, NULL);
    CHECK_STATUS("agentrt_run refused with every out pointer NULL -> not_found (no crash)",
                 agentrt_run(rt, "basics", "nope", "args-user", "{}", NULL, NULL, NULL, NULL), AGENTRT_ERR_NOT_FOUND, NULL);
    st = agentrt_run(rt, "basics", "echo", "args-user", NULL, NULL, &result, &error, NULL);
    CHECK("agentrt_run(NULL input) runs with {}", st == AGENTRT_OK && result && strcmp(result, "{}") == 0 && error == NULL,
          "status %s, result %s, error %s", agentrt_status_string(st), capi_s(result), capi_s(error));
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;

    /* Unknown agents and plugins. */
    expect_run(rt, "unknown agent -> not_found", "basics", "nope", "args-user", "{}", NULL, AGENTRT_ERR_NOT_FOUND, "basics.nope");
    expect_run(rt, "unknown plugin -> not_found", "no_such_plugin", "echo", "args-user", "{}", NULL, AGENTRT_ERR_NOT_FOUND,
               "no_such_plugin");

    /* Rejected user ids. */
    for (i = 0; i < sizeof placeholders / sizeof *placeholders; i++) {
        snprintf(label, sizeof label, "placeholder user id \"%s\" -> invalid_context", placeholders[i]);
        expect_run(rt, label, "basics", "echo", placeholders[i], "{}", NULL, AGENTRT_ERR_INVALID_CONTEXT, "user_id");
    }
    expect_run(rt, "empty user id -> invalid_context", "basics", "echo", "", "{}", NULL, AGENTRT_ERR_INVALID_CONTEXT, "user_id");
    expect_run(rt, "whitespace user id -> invalid_context", "basics", "echo", "  \t ", "{}", NULL, AGENTRT_ERR_INVALID_CONTEXT,
               "user_id");
    expect_run(rt, "user id with a control character -> invalid_context", "basics", "echo", "a\nb", "{}", NULL,
               AGENTRT_ERR_INVALID_CONTEXT, "user_id");
    memset(long_user, 'u', 300);
    long_user[300] = '\0';
    expect_run(rt, "300-byte user id -> invalid_context", "basics", "echo", long_user, "{}", NULL, AGENTRT_ERR_INVALID_CONTEXT,
               "user_id");
    CHECK_STATUS("agentrt_subscribe(empty user id) -> invalid_context",
                 agentrt_subscribe(rt, "", -1, stray_event, NULL, &sub), AGENTRT_ERR_INVALID_CONTEXT, NULL);
    CHECK_STATUS("agentrt_subscribe(placeholder user id) -> invalid_context",
                 agentrt_subscribe(rt, "none", -1, stray_event, NULL, &sub), AGENTRT_ERR_INVALID_CONTEXT, NULL);
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.session_id = "none";
    expect_run(rt, "placeholder session id -> invalid_context", "basics", "echo", "args-user", "{}", &options,
               AGENTRT_ERR_INVALID_CONTEXT, "session_id");

    /* Invalid input and options. */
    for (i = 0; i < sizeof bad_inputs / sizeof *bad_inputs; i++) {
        snprintf(label, sizeof label, "invalid input JSON #%zu -> invalid_argument", i + 1);
        expect_run(rt, label, "basics", "echo", "args-user", bad_inputs[i], NULL, AGENTRT_ERR_INVALID_ARGUMENT, "JSON");
    }
    /* The message is the parser's own: what is wrong and at which byte. */
    for (i = 0; i < sizeof precise_inputs / sizeof *precise_inputs; i++) {
        snprintf(label, sizeof label, "invalid input JSON #%zu -> the parser's message \"%s\"", i + 1, precise_inputs[i][1]);
        expect_run(rt, label, "basics", "echo", "args-user", precise_inputs[i][0], NULL, AGENTRT_ERR_INVALID_ARGUMENT,
                   precise_inputs[i][1]);
    }
    memset(deep_input, '[', 300);
    deep_input[300] = '\0';
    expect_run(rt, "input_json nested 300 deep -> names the depth limit", "basics", "echo", "args-user", deep_input, NULL,
               AGENTRT_ERR_INVALID_ARGUMENT, "nesting depth exceeds the limit of 256");
    memset(&options, 0, sizeof options);
    expect_run(rt, "run options with struct_size 0 -> invalid_argument", "basics", "echo", "args-user", "{}", &options,
               AGENTRT_ERR_INVALID_ARGUMENT, "struct_size");
    options.struct_size = sizeof options;
    options.metadata_json = "[1]";
    expect_run(rt, "metadata_json not an object -> invalid_argument", "basics", "echo", "args-user", "{}", &options,
               AGENTRT_ERR_INVALID_ARGUMENT, "metadata_json");
    options.metadata_json = "{\"k\":1}";
    expect_run(rt, "metadata_json with a non-string value -> invalid_argument", "basics", "echo", "args-user", "{}", &options,
               AGENTRT_ERR_INVALID_ARGUMENT, "metadata_json");
    options.metadata_json = "{\"k\":\"v\"}";
    options.session_id = "args-session";
    expect_run(rt, "valid run options -> ok", "basics", "echo", "args-user", "{}", &options, AGENTRT_OK, NULL);

    /* Asynchronous misuse: refused before the call exists, no callback. */
    capi_completion_init(&done);
    CHECK_STATUS("agentrt_run_async(invalid input JSON) -> invalid_argument",
                 agentrt_run_async(rt, "basics", "echo", "args-user", "{oops", NULL, capi_on_done, &done, NULL),
                 AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    capi_sleep_ms(100);
    CHECK("... and its callback never runs", atomic_load(&done.calls) == 0, "callback ran %d times", atomic_load(&done.calls));
    /* Refused at once: the callback runs on the caller's thread before agentrt_run_async returns. */
    capi_completion_init(&done);
    st = agentrt_run_async(rt, "basics", "nope", "args-user", "{}", NULL, capi_on_done, &done, NULL);
    CHECK("agentrt_run_async(unknown agent) reports not_found through its callback before returning",
          st == AGENTRT_OK && atomic_load(&done.calls) == 1 && done.status == AGENTRT_ERR_NOT_FOUND &&
              pthread_equal(done.thread, pthread_self()) && strstr(done.text, "basics.nope") != NULL,
          "returned %s, callback ran %d times, status %s, on the caller's thread: %d, message %s", agentrt_status_string(st),
          atomic_load(&done.calls), agentrt_status_string(done.status), (int)pthread_equal(done.thread, pthread_self()),
          done.text);
    capi_completion_init(&done);
    st = agentrt_run_async(rt, "basics", "echo", "none", "{}", NULL, capi_on_done, &done, NULL);
    CHECK("agentrt_run_async(placeholder user) reports invalid_context exactly once",
          (st == AGENTRT_ERR_INVALID_CONTEXT && atomic_load(&done.calls) == 0) ||
              (st == AGENTRT_OK && capi_wait_completion(&done, 5000) && done.status == AGENTRT_ERR_INVALID_CONTEXT),
          "returned %s, callback ran %d times with %s", agentrt_status_string(st), atomic_load(&done.calls),
          agentrt_status_string(done.status));
    capi_sleep_ms(100);
    CHECK("... and never twice", atomic_load(&done.calls) <= 1, "callback ran %d times", atomic_load(&done.calls));

    /* Unknown ids. */
    CHECK_STATUS("agentrt_cancel(unknown run id) -> not_found", agentrt_cancel(rt, "run_does_not_exist"), AGENTRT_ERR_NOT_FOUND,
                 NULL);
    CHECK_STATUS("agentrt_cancel(\"\") -> not_found", agentrt_cancel(rt, ""), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("agentrt_unsubscribe(0) -> not_found", agentrt_unsubscribe(rt, 0), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("agentrt_unsubscribe(12345) -> not_found", agentrt_unsubscribe(rt, 12345), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("agentrt_unsubscribe(UINT64_MAX) -> not_found", agentrt_unsubscribe(rt, UINT64_MAX), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("agentrt_subscribe -> ok", agentrt_subscribe(rt, "args-user", -1, stray_event, NULL, &sub), AGENTRT_OK, NULL);
    CHECK_STATUS("a second agentrt_subscribe -> ok", agentrt_subscribe(rt, "args-user", -1, stray_event, NULL, &sub2), AGENTRT_OK,
                 NULL);
    CHECK("subscription ids differ", sub != sub2, "both %llu", (unsigned long long)sub);
    CHECK_STATUS("agentrt_unsubscribe -> ok", agentrt_unsubscribe(rt, sub), AGENTRT_OK, NULL);
    CHECK_STATUS("agentrt_unsubscribe twice -> not_found", agentrt_unsubscribe(rt, sub), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("the other subscription is still there", agentrt_unsubscribe(rt, sub2), AGENTRT_OK, NULL);

    /* Plugins that cannot load. */
    snprintf(bad_path, sizeof bad_path, "/nonexistent-agentrt-dir/libmissing_%ld.so", (long)getpid());
    st = agentrt_load_plugin(rt, bad_path, NULL, &name, &error);
    CHECK_STATUS("agentrt_load_plugin(missing file) -> load_failed", st, AGENTRT_ERR_LOAD_FAILED, error);
    CHECK("... the message names the file and no name is returned", error != NULL && strstr(error, bad_path) != NULL && name == NULL,
          "out_error %s, out_plugin_name %s", capi_s(error), capi_s(name));
    agentrt_free(error);
    error = NULL;
    snprintf(junk_path, sizeof junk_path, "/tmp/agentrt-misuse-%ld-junk.so", (long)getpid());
    junk = fopen(junk_path, "w");
    CHECK("setup: write a file that is not a library", junk != NULL, "cannot create %s", junk_path);
    fputs("this is not a shared library\n", junk);
    fclose(junk);
    st = agentrt_load_plugin(rt, junk_path, NULL, &name, &error);
    unlink(junk_path);
    CHECK_STATUS("agentrt_load_plugin(not a library) -> load_failed", st, AGENTRT_ERR_LOAD_FAILED, error);
    CHECK("... the message names the file", error != NULL && strstr(error, strrchr(junk_path, '/') + 1) != NULL && name == NULL,
          "out_error %s", capi_s(error));
    agentrt_free(error);
    error = NULL;

    /* Unsupported native prototypes name the offending token. */
    {
        static const char *const protos[][2] = {
            {"struct x f(int a)", "struct x"},
            {"int f(int a, ...)", "..."},
            {"char * f(char * s)", "char *"},
            {"int f(int (*cb)(int))", "(*cb)"},
        };
        for (i = 0; i < sizeof protos / sizeof *protos; i++) {
            st = agentrt_register_native_tool(rt, "f", "d", protos[i][0], (agentrt_native_fn)dummy_tool, NULL, &error);
            snprintf(label, sizeof label, "agentrt_register_native_tool(\"%s\") -> invalid_argument naming \"%s\"",
                     protos[i][0], protos[i][1]);
            CHECK(label, st == AGENTRT_ERR_INVALID_ARGUMENT && error != NULL && strstr(error, protos[i][1]) != NULL,
                  "status %s, out_error %s", agentrt_status_string(st), capi_s(error));
            agentrt_free(error);
            error = NULL;
        }
    }
    st = agentrt_register_native_tool(rt, "ident", "Identity.", "int64_t ident(int64_t a)", (agentrt_native_fn)dummy_tool,
                                      NULL, &error);
    CHECK_STATUS("agentrt_register_native_tool(valid) -> ok", st, AGENTRT_OK, error);
    CHECK("... and leaves *out_error NULL", error == NULL, "out_error %s", capi_s(error));
    st = agentrt_register_native_tool(rt, "ident", "Identity.", "int64_t ident(int64_t a)", (agentrt_native_fn)dummy_tool,
                                      NULL, &error);
    CHECK("registering host.ident twice is refused with a message", st != AGENTRT_OK && error != NULL,
          "status %s, out_error %s", agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    error = NULL;
    CHECK_STATUS("agentrt_list_json -> ok", agentrt_list_json(rt, &json), AGENTRT_OK, NULL);
    CHECK("agentrt_list_json shows the plugin, its agents and host.ident",
          json && strstr(json, "\"basics\"") && strstr(json, "\"echo\"") && strstr(json, "\"host.ident\"") &&
              strstr(json, "int64_t ident(int64_t a)"),
          "got %s", capi_s(json));
    agentrt_free(json);
    json = NULL;
    CHECK_STATUS("agentrt_stats_json -> ok", agentrt_stats_json(rt, &json), AGENTRT_OK, NULL);
    CHECK("agentrt_stats_json counts basics.echo", json && strstr(json, "basics.echo"), "got %s", capi_s(json));
    agentrt_free(json);
    json = NULL;
    CHECK_STATUS("agentrt_isolation_json -> ok", agentrt_isolation_json(rt, &json), AGENTRT_OK, NULL);
    CHECK("agentrt_isolation_json reports isolation", json && strstr(json, "\"cross_user_events_refused\":0") && strstr(json, "\"violations\":[]"), "got %s", capi_s(json));
    agentrt_free(json);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
}

/* ================================================================== null_names */

/* The convention: a NULL pointer argument is AGENTRT_ERR_INVALID_ARGUMENT (not "unknown agent"). */
static void section_null_names(void) {
    agentrt_runtime *rt = new_runtime(NULL, 1, 0);
    capi_completion done;
    char *error = NULL;
    agentrt_status st;

    st = agentrt_run(rt, NULL, "echo", "names-user", "{}", NULL, NULL, &error, NULL);
    CHECK_STATUS("agentrt_run(NULL plugin) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_run(rt, "basics", NULL, "names-user", "{}", NULL, NULL, &error, NULL);
    CHECK_STATUS("agentrt_run(NULL agent) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, error);
    agentrt_free(error);
    error = NULL;
    st = agentrt_run(rt, "basics", "echo", NULL, "{}", NULL, NULL, &error, NULL);
    CHECK("agentrt_run(NULL user_id) -> invalid_argument (or invalid_context)",
          st == AGENTRT_ERR_INVALID_ARGUMENT || st == AGENTRT_ERR_INVALID_CONTEXT, "got %s; message %s",
          agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    capi_completion_init(&done);
    st = agentrt_run_async(rt, NULL, "echo", "names-user", "{}", NULL, capi_on_done, &done, NULL);
    CHECK_STATUS("agentrt_run_async(NULL plugin) -> invalid_argument", st, AGENTRT_ERR_INVALID_ARGUMENT, NULL);
    agentrt_runtime_free(rt);
}

/* ================================================================== async */

static void section_async(void) {
    agentrt_config config;
    agentrt_runtime *rt, *rt2;
    agentrt_run_options options;
    capi_completion done, many[16];
    char *run_id = NULL, label[160], input[64];
    const char *in = "{\"msg\":\"hello async\",\"n\":[1,2,3]}";
    agentrt_status st;
    int i;

    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.grace_ms = 300;
    rt = new_runtime(&config, 1, 1);

    capi_completion_init(&done);
    st = agentrt_run_async(rt, "basics", "echo", "async-user", in, NULL, capi_on_done, &done, &run_id);
    CHECK_STATUS("agentrt_run_async(basics.echo) -> ok", st, AGENTRT_OK, NULL);
    CHECK("... gives a run id", run_id != NULL && run_id[0] != '\0', "out_run_id %s", capi_s(run_id));
    CHECK("... its callback arrives", capi_wait_completion(&done, 10000), "no callback within 10 s");
    CHECK("... with status ok and the result", done.status == AGENTRT_OK && strcmp(done.text, in) == 0,
          "status %s, text %s", agentrt_status_string(done.status), done.text);
    CHECK("... and the same run id", strcmp(done.run_id, run_id) == 0, "callback run id %s, out_run_id %s", done.run_id, run_id);
    CHECK("... on a runtime thread", !pthread_equal(done.thread, pthread_self()), "ran on the caller's thread");
    capi_sleep_ms(300);
    CHECK("... exactly once", atomic_load(&done.calls) == 1, "callback ran %d times", atomic_load(&done.calls));
    agentrt_free(run_id);
    run_id = NULL;

    /* Several at once, from several users: each callback exactly once with its own result. */
    for (i = 0; i < 16; i++) {
        char user[32];
        capi_completion_init(&many[i]);
        snprintf(user, sizeof user, "async-user-%d", i % 4);
        snprintf(input, sizeof input, "{\"i\":%d}", i);
        st = agentrt_run_async(rt, "basics", "echo", user, input, NULL, capi_on_done, &many[i], NULL);
        snprintf(label, sizeof label, "concurrent agentrt_run_async #%d -> ok", i);
        CHECK_STATUS(label, st, AGENTRT_OK, NULL);
    }
    for (i = 0; i < 16; i++) {
        snprintf(input, sizeof input, "{\"i\":%d}", i);
        snprintf(label, sizeof label, "concurrent run #%d completes once with its own result", i);
        CHECK(label, capi_wait_completion(&many[i], 10000) && many[i].status == AGENTRT_OK && strcmp(many[i].text, input) == 0,
              "calls %d, status %s, text %s", atomic_load(&many[i].calls), agentrt_status_string(many[i].status), many[i].text);
    }
    capi_sleep_ms(200);
    for (i = 0; i < 16; i++) {
        snprintf(label, sizeof label, "concurrent run #%d: callback exactly once", i);
        CHECK(label, atomic_load(&many[i].calls) == 1, "callback ran %d times", atomic_load(&many[i].calls));
    }

    /* A callback may call back into the API. */
    capi_completion_init(&done);
    done.rt = rt;
    done.reenter = 1;
    st = agentrt_run_async(rt, "basics", "echo", "async-user", "{}", NULL, capi_on_done, &done, NULL);
    CHECK("a completion callback may call agentrt_stats_json",
          st == AGENTRT_OK && capi_wait_completion(&done, 10000) && done.reentry == AGENTRT_OK,
          "returned %s, calls %d, stats_json inside the callback: %s", agentrt_status_string(st), atomic_load(&done.calls),
          agentrt_status_string(done.reentry));

    /* A deadline ends the run with timeout, once. */
    memset(&options, 0, sizeof options);
    options.struct_size = sizeof options;
    options.timeout_ms = 200;
    capi_completion_init(&done);
    st = agentrt_run_async(rt, "guards", "cooperative", "async-user", "{\"ms\":60000}", &options, capi_on_done, &done, NULL);
    CHECK_STATUS("agentrt_run_async(guards.cooperative, timeout 200 ms) -> ok", st, AGENTRT_OK, NULL);
    CHECK("... completes with timeout", capi_wait_completion(&done, 10000) && done.status == AGENTRT_ERR_TIMEOUT,
          "calls %d, status %s, text %s", atomic_load(&done.calls), agentrt_status_string(done.status), done.text);
    capi_sleep_ms(200);
    CHECK("... exactly once", atomic_load(&done.calls) == 1, "callback ran %d times", atomic_load(&done.calls));

    /* Freeing the runtime cancels its running calls: the callback still arrives, once. */
    rt2 = new_runtime(&config, 0, 1);
    capi_completion_init(&done);
    st = agentrt_run_async(rt2, "guards", "cooperative", "async-free-user", "{\"ms\":60000}", NULL, capi_on_done, &done, NULL);
    CHECK_STATUS("agentrt_run_async(guards.cooperative 60 s) on a second runtime -> ok", st, AGENTRT_OK, NULL);
    capi_sleep_ms(50);
    CHECK_STATUS("agentrt_runtime_free while a run is in flight -> ok", agentrt_runtime_free(rt2), AGENTRT_OK, NULL);
    CHECK("... the run's callback arrives with cancelled",
          capi_wait_completion(&done, 10000) && done.status == AGENTRT_ERR_CANCELLED,
          "calls %d, status %s, text %s", atomic_load(&done.calls), agentrt_status_string(done.status), done.text);
    /* (Its 60 s of work would have outlasted the 10 s wait above: it stopped because it was cancelled.) */
    capi_sleep_ms(300);
    CHECK("... exactly once", atomic_load(&done.calls) == 1, "callback ran %d times", atomic_load(&done.calls));

    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
}

/* ================================================================== cancel */

typedef struct {
    agentrt_runtime *rt;
    const char *input;
    agentrt_status status;
    char *result, *error, *run_id;
} blocking_run;

static void *run_blocking(void *p) {
    blocking_run *b = p;
    b->status = agentrt_run(b->rt, "guards", "cooperative", "cancel-blocking-user", b->input, NULL, &b->result, &b->error,
                            &b->run_id);
    return NULL;
}

static void section_cancel(void) {
    agentrt_config config;
    agentrt_runtime *rt;
    capi_completion done;
    capi_events events;
    blocking_run b;
    pthread_t thread;
    char *run_id = NULL, started_run[96] = "";
    agentrt_status st = AGENTRT_OK;
    uint64_t sub = 0;
    int i;

    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.grace_ms = 300;
    rt = new_runtime(&config, 0, 1);

    /* agentrt_cancel on a running cooperative agent, by the id agentrt_run_async gave. */
    capi_completion_init(&done);
    st = agentrt_run_async(rt, "guards", "cooperative", "cancel-user", "{\"ms\":60000}", NULL, capi_on_done, &done, &run_id);
    CHECK("agentrt_run_async(guards.cooperative {\"ms\":60000}) -> ok with a run id", st == AGENTRT_OK && run_id != NULL,
          "status %s, run id %s", agentrt_status_string(st), capi_s(run_id));
    capi_sleep_ms(50);
    CHECK_STATUS("agentrt_cancel(its run id) -> ok", agentrt_cancel(rt, run_id), AGENTRT_OK, NULL);
    CHECK("... the callback reports cancelled", capi_wait_completion(&done, 10000) && done.status == AGENTRT_ERR_CANCELLED,
          "calls %d, status %s, text %s", atomic_load(&done.calls), agentrt_status_string(done.status), done.text);
    /* (It arrived within the 10 s wait, long before the 60 s of work would have ended.) */
    CHECK("... for that run", strcmp(done.run_id, run_id) == 0, "callback run id %s, expected %s", done.run_id, run_id);
    for (i = 0; i < 200; i++) {
        st = agentrt_cancel(rt, run_id);
        if (st == AGENTRT_ERR_NOT_FOUND) break;
        capi_sleep_ms(10);
    }
    CHECK_STATUS("agentrt_cancel of the finished run -> not_found", st, AGENTRT_ERR_NOT_FOUND, NULL);
    capi_sleep_ms(200);
    CHECK("... callback exactly once", atomic_load(&done.calls) == 1, "callback ran %d times", atomic_load(&done.calls));
    agentrt_free(run_id);
    run_id = NULL;

    /* A stubborn agent ignores cancellation: abandoned after the grace period, still one callback. */
    capi_completion_init(&done);
    st = agentrt_run_async(rt, "guards", "stubborn", "cancel-user", "{\"ms\":1500}", NULL, capi_on_done, &done, &run_id);
    CHECK("agentrt_run_async(guards.stubborn {\"ms\":1500}) -> ok", st == AGENTRT_OK && run_id != NULL, "status %s",
          agentrt_status_string(st));
    capi_sleep_ms(50);
    CHECK_STATUS("agentrt_cancel(stubborn run) -> ok", agentrt_cancel(rt, run_id), AGENTRT_OK, NULL);
    CHECK("... the callback reports cancelled (abandoned after the grace period)",
          capi_wait_completion(&done, 10000) && done.status == AGENTRT_ERR_CANCELLED,
          "calls %d, status %s, text %s", atomic_load(&done.calls), agentrt_status_string(done.status), done.text);
    capi_sleep_ms(1800); /* the agent itself returns now */
    CHECK("... exactly once, also after the abandoned agent returned", atomic_load(&done.calls) == 1,
          "callback ran %d times", atomic_load(&done.calls));
    agentrt_free(run_id);
    run_id = NULL;

    /* A blocking agentrt_run cancelled from another thread (run id taken from its agent_started event). */
    capi_events_init(&events, "cancel-blocking-user");
    CHECK_STATUS("agentrt_subscribe(cancel-blocking-user) -> ok",
                 agentrt_subscribe(rt, "cancel-blocking-user", -1, capi_on_event, &events, &sub), AGENTRT_OK, NULL);
    memset(&b, 0, sizeof b);
    b.rt = rt;
    b.input = "{\"ms\":60000}";
    pthread_create(&thread, NULL, run_blocking, &b);
    CHECK("the blocking run's agent_started event arrives", capi_wait_events(&events, 1, 10000), "no event within 10 s");
    pthread_mutex_lock(&events.m.lock);
    snprintf(started_run, sizeof started_run, "%s", events.run_id[0]);
    pthread_mutex_unlock(&events.m.lock);
    CHECK_STATUS("agentrt_cancel(blocking run) from another thread -> ok", agentrt_cancel(rt, started_run), AGENTRT_OK, NULL);
    pthread_join(thread, NULL);
    CHECK("... agentrt_run returns cancelled with a message and its run id",
          b.status == AGENTRT_ERR_CANCELLED && b.error != NULL && b.result == NULL && b.run_id &&
              strcmp(b.run_id, started_run) == 0,
          "status %s, error %s, result %s, run id %s (expected %s)", agentrt_status_string(b.status), capi_s(b.error),
          capi_s(b.result), capi_s(b.run_id), started_run);
    agentrt_free(b.error);
    agentrt_free(b.result);
    agentrt_free(b.run_id);
    CHECK("... and an agent_cancelled event follows", capi_wait_events(&events, 2, 10000), "only %d events",
          capi_event_count(&events));
    CHECK_STATUS("agentrt_unsubscribe -> ok", agentrt_unsubscribe(rt, sub), AGENTRT_OK, NULL);
    CHECK("the events were the user's own", events.foreign == 0, "%d foreign events", events.foreign);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
}

/* ================================================================== replay */

static void run_echo(agentrt_runtime *rt, const char *user, int n) {
    int i;
    for (i = 0; i < n; i++) {
        char *error = NULL;
        agentrt_status st = agentrt_run(rt, "basics", "echo", user, "{\"replay\":true}", NULL, NULL, &error, NULL);
        CHECK_STATUS("setup: basics.echo", st, AGENTRT_OK, error);
        agentrt_free(error);
    }
}

static void section_replay(void) {
    agentrt_config config;
    agentrt_runtime *rt, *small, *rt3;
    capi_events e, e2, live, gap, inside, freer;
    uint64_t sub = 0, sub2 = 0, sub3 = 0, sub4 = 0;
    int n, i, ordered = 1;

    rt = new_runtime(NULL, 1, 0);
    run_echo(rt, "replay-user", 2); /* seq 1..4: agent_started, agent_completed, twice */

    /* after_seq -1: only new events (nothing retained is replayed). */
    capi_events_init(&live, "replay-user");
    CHECK_STATUS("agentrt_subscribe(after_seq -1) -> ok", agentrt_subscribe(rt, "replay-user", -1, capi_on_event, &live, &sub3),
                 AGENTRT_OK, NULL);

    /* after_seq 0: every retained event from seq 1, before anything new happens. */
    capi_events_init(&e, "replay-user");
    CHECK_STATUS("agentrt_subscribe(after_seq 0) -> ok", agentrt_subscribe(rt, "replay-user", 0, capi_on_event, &e, &sub),
                 AGENTRT_OK, NULL);
    if (!capi_wait_events(&e, 4, 10000)) {
        int before = capi_event_count(&e);
        /* Diagnose: does the replay only arrive once a new event wakes the subscription? */
        run_echo(rt, "replay-user", 1);
        capi_wait_events(&e, 6, 10000);
        capi_fail("agentrt_subscribe(after_seq 0) replays the 4 retained events without a new event",
                  "%d events within 10 s; after one more run (2 new events) it had %d", before, capi_event_count(&e));
    }
    capi_pass("agentrt_subscribe(after_seq 0) replays the 4 retained events without a new event");
    pthread_mutex_lock(&e.m.lock);
    for (i = 0; i < 4; i++) ordered &= e.seq[i] == i + 1;
    pthread_mutex_unlock(&e.m.lock);
    CHECK("... in seq order from seq 1", ordered, "seqs %lld %lld %lld %lld", e.seq[0], e.seq[1], e.seq[2], e.seq[3]);
    CHECK("... agent_started then agent_completed",
          strcmp(e.type[0], "agent_started") == 0 && strcmp(e.type[1], "agent_completed") == 0, "types %s %s", e.type[0],
          e.type[1]);

    capi_events_init(&e2, "replay-user");
    CHECK_STATUS("agentrt_subscribe(after_seq 2) -> ok", agentrt_subscribe(rt, "replay-user", 2, capi_on_event, &e2, &sub2),
                 AGENTRT_OK, NULL);
    CHECK("... replays from seq 3", capi_wait_events(&e2, 2, 10000) && e2.seq[0] == 3 && e2.seq[1] == 4,
          "%d events, first seqs %lld %lld", capi_event_count(&e2), e2.seq[0], e2.seq[1]);

    capi_sleep_ms(100);
    CHECK("after_seq -1 replays nothing", capi_event_count(&live) == 0, "%d events", capi_event_count(&live));
    run_echo(rt, "replay-user", 1);
    CHECK("... and delivers new events (seq 5, 6)", capi_wait_events(&live, 2, 10000) && live.seq[0] == 5 && live.seq[1] == 6,
          "%d events, seqs %lld %lld", capi_event_count(&live), live.seq[0], live.seq[1]);
    CHECK("every subscription sees the new events", capi_wait_events(&e, 6, 10000) && capi_wait_events(&e2, 4, 10000),
          "after_seq 0: %d events, after_seq 2: %d events", capi_event_count(&e), capi_event_count(&e2));

    /* After agentrt_unsubscribe returns, the callback never runs again. */
    CHECK_STATUS("agentrt_unsubscribe(after_seq 0 subscription) -> ok", agentrt_unsubscribe(rt, sub), AGENTRT_OK, NULL);
    atomic_store(&e.closed, 1);
    CHECK_STATUS("agentrt_unsubscribe(after_seq 2 subscription) -> ok", agentrt_unsubscribe(rt, sub2), AGENTRT_OK, NULL);
    atomic_store(&e2.closed, 1);
    n = capi_event_count(&e);
    run_echo(rt, "replay-user", 2);
    CHECK("the live subscription still receives", capi_wait_events(&live, 6, 10000), "%d events", capi_event_count(&live));
    CHECK("no callback after agentrt_unsubscribe returned", e.late == 0 && e2.late == 0 && capi_event_count(&e) == n,
          "late callbacks: %d and %d", e.late, e2.late);
    CHECK("no foreign events", e.foreign == 0 && e2.foreign == 0 && live.foreign == 0, "foreign: %d %d %d", e.foreign,
          e2.foreign, live.foreign);

    /* Unsubscribing from inside the callback returns at once. */
    capi_events_init(&inside, "replay-user");
    inside.rt = rt;
    inside.unsubscribe_inside = 1;
    CHECK_STATUS("agentrt_subscribe(for unsubscribe-inside) -> ok",
                 agentrt_subscribe(rt, "replay-user", -1, capi_on_event, &inside, &inside.sub), AGENTRT_OK, NULL);
    atomic_store(&inside.sub_ready, 1);
    run_echo(rt, "replay-user", 1);
    capi_begin("agentrt_unsubscribe from inside its own callback returns ok");
    for (i = 0; i < 500 && !atomic_load(&inside.inside_done); i++) capi_sleep_ms(10);
    CHECK_STATUS("agentrt_unsubscribe from inside its own callback returns ok", atomic_load(&inside.inside_done) ? inside.inside_status : -1,
                 AGENTRT_OK, NULL);
    CHECK_STATUS("... and the subscription is gone", agentrt_unsubscribe(rt, inside.sub), AGENTRT_ERR_NOT_FOUND, NULL);
    CHECK_STATUS("agentrt_unsubscribe(live) -> ok", agentrt_unsubscribe(rt, sub3), AGENTRT_OK, NULL);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);

    /* A subscriber resuming further back than the replay buffer gets stream_gap first. */
    memset(&config, 0, sizeof config);
    config.struct_size = sizeof config;
    config.replay_capacity = 3;
    small = new_runtime(&config, 1, 0);
    run_echo(small, "gap-user", 3); /* seq 1..6, seq 4..6 retained */
    capi_events_init(&gap, "gap-user");
    CHECK_STATUS("agentrt_subscribe(after_seq 0) past the replay buffer -> ok",
                 agentrt_subscribe(small, "gap-user", 0, capi_on_event, &gap, &sub4), AGENTRT_OK, NULL);
    CHECK("... gets stream_gap, then seq 4, 5, 6",
          capi_wait_events(&gap, 4, 10000) && strcmp(gap.type[0], "stream_gap") == 0 && gap.seq[1] == 4 && gap.seq[2] == 5 &&
              gap.seq[3] == 6,
          "%d events; first %s (seq %lld), then seqs %lld %lld %lld", capi_event_count(&gap), gap.type[0], gap.seq[0],
          gap.seq[1], gap.seq[2], gap.seq[3]);
    CHECK_STATUS("agentrt_unsubscribe -> ok", agentrt_unsubscribe(small, sub4), AGENTRT_OK, NULL);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(small), AGENTRT_OK, NULL);

    /* Freeing the runtime from inside one of its callbacks does not deadlock. */
    rt3 = new_runtime(NULL, 1, 0);
    capi_events_init(&freer, "free-user");
    freer.rt = rt3;
    freer.free_inside = 1;
    CHECK_STATUS("agentrt_subscribe(for free-inside) -> ok",
                 agentrt_subscribe(rt3, "free-user", -1, capi_on_event, &freer, &freer.sub), AGENTRT_OK, NULL);
    atomic_store(&freer.sub_ready, 1);
    {
        /* The callback frees the runtime at agent_started: the run itself may end cancelled. */
        agentrt_status st = agentrt_run(rt3, "basics", "echo", "free-user", "{}", NULL, NULL, NULL, NULL);
        CHECK("a run whose runtime is freed by its own event callback ends ok or cancelled",
              st == AGENTRT_OK || st == AGENTRT_ERR_CANCELLED, "got %s", agentrt_status_string(st));
    }
    capi_begin("agentrt_runtime_free from inside a subscription callback returns ok");
    for (i = 0; i < 500 && !atomic_load(&freer.inside_done); i++) capi_sleep_ms(10);
    CHECK_STATUS("agentrt_runtime_free from inside a subscription callback returns ok",
                 atomic_load(&freer.inside_done) ? freer.inside_status : -1, AGENTRT_OK, NULL);
    CHECK_STATUS("... and the runtime is stale afterwards", agentrt_unsubscribe(rt3, freer.sub), AGENTRT_ERR_STALE_HANDLE, NULL);
}

/* ================================================================== json_tool */

typedef struct {
    long magic;
    atomic_int calls;
    char user[64];
    char args[256];
    agentrt_call *last_call;
    agentrt_status second_set;
    agentrt_status handle_status;
} json_tool_state;

/* Finds "key": <integer> in JSON text of a view; 1 when found. */
static int view_int(agentrt_str json, const char *key, long long *out) {
    char buf[512], pattern[32];
    const char *p;
    size_t n = json.len < sizeof buf - 1 ? json.len : sizeof buf - 1;
    memcpy(buf, json.ptr, n);
    buf[n] = '\0';
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    p = strstr(buf, pattern);
    if (!p) return 0;
    p += strlen(pattern);
    while (*p == ' ' || *p == ':') p++;
    if (*p != '-' && (*p < '0' || *p > '9')) return 0;
    *out = strtoll(p, NULL, 10);
    return 1;
}

/* host.multiply as a JSON tool: {"a":..,"b":..} -> a*b, or a tool error when a is 0. */
static agentrt_status json_multiply(void *user_data, agentrt_call *call, agentrt_str args) {
    json_tool_state *s = user_data;
    const agentrt_host *host = agentrt_host_table();
    agentrt_str user = {NULL, 0};
    long long a = 0, b = 0;
    char out[64];
    agentrt_status st;
    if (s == NULL || s->magic != 0x5eed) return AGENTRT_ERR_INTERNAL;
    atomic_fetch_add(&s->calls, 1);
    s->last_call = call;
    s->handle_status = host->user_id(call, &user);
    snprintf(s->user, sizeof s->user, "%.*s", (int)user.len, user.ptr ? user.ptr : "");
    snprintf(s->args, sizeof s->args, "%.*s", (int)args.len, args.ptr ? args.ptr : "");
    if (!view_int(args, "a", &a) || !view_int(args, "b", &b)) {
        host->set_error(call, agentrt_cstr("arguments a and b must be integers"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    if (a == 0) {
        host->set_error(call, agentrt_cstr("refusing a = 0 on purpose"));
        return AGENTRT_ERR_AGENT_ERROR;
    }
    snprintf(out, sizeof out, "%lld", a * b);
    st = host->set_result(call, agentrt_cstr(out));
    s->second_set = host->set_result(call, agentrt_cstr("0"));
    return st;
}

static void section_json_tool(void) {
    agentrt_runtime *rt = new_runtime(NULL, 1, 0);
    json_tool_state state;
    char *result = NULL, *error = NULL;
    agentrt_str view;
    agentrt_status st;
    const char *schema = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":{\"type\":\"integer\"}},"
                         "\"required\":[\"a\",\"b\"]}";

    memset(&state, 0, sizeof state);
    state.magic = 0x5eed;
    atomic_init(&state.calls, 0);
    state.second_set = -1;
    st = agentrt_register_json_tool(rt, "multiply", "Multiplies a and b (a JSON host tool).", schema, json_multiply, &state,
                                    &error);
    CHECK_STATUS("agentrt_register_json_tool(host.multiply) -> ok", st, AGENTRT_OK, error);
    CHECK("... and leaves *out_error NULL", error == NULL, "out_error %s", capi_s(error));
    st = agentrt_register_json_tool(rt, "multiply", "again", NULL, json_multiply, &state, &error);
    CHECK("registering host.multiply twice is refused with a message", st != AGENTRT_OK && error != NULL,
          "status %s, out_error %s", agentrt_status_string(st), capi_s(error));
    agentrt_free(error);
    error = NULL;

    st = agentrt_run(rt, "basics", "delegate", "json-tool-user", "{\"a\":6,\"b\":7}", NULL, &result, &error, NULL);
    CHECK_STATUS("basics.delegate through the JSON host tool -> ok", st, AGENTRT_OK, error);
    CHECK("... result uses the JSON tool's answer", result && strcmp(result, "{\"product\":42}") == 0, "result %s",
          capi_s(result));
    CHECK("... the tool ran once with its user data", atomic_load(&state.calls) == 1, "%d calls", atomic_load(&state.calls));
    CHECK("... and received the arguments", strstr(state.args, "\"a\"") && strstr(state.args, "6") && strstr(state.args, "7"),
          "args %s", state.args);
    CHECK("... host->user_id on its call handle gives the calling user",
          state.handle_status == AGENTRT_OK && strcmp(state.user, "json-tool-user") == 0, "status %s, user %s",
          agentrt_status_string(state.handle_status), state.user);
    CHECK_STATUS("... a second set_result -> already_set", state.second_set, AGENTRT_ERR_ALREADY_SET, NULL);
    CHECK_STATUS("... the tool's call handle is stale once the tool returned", agentrt_host_table()->user_id(state.last_call, &view),
                 AGENTRT_ERR_STALE_HANDLE, NULL);
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;

    st = agentrt_run(rt, "basics", "delegate", "json-tool-user-2", "{\"a\":-3,\"b\":5}", NULL, &result, &error, NULL);
    CHECK("another user gets its own answer and identity",
          st == AGENTRT_OK && result && strcmp(result, "{\"product\":-15}") == 0 && strcmp(state.user, "json-tool-user-2") == 0,
          "status %s, result %s, error %s, tool saw user %s", agentrt_status_string(st), capi_s(result), capi_s(error), state.user);
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;

    st = agentrt_run(rt, "basics", "delegate", "json-tool-user", "{\"a\":\"six\",\"b\":7}", NULL, &result, &error, NULL);
    CHECK("arguments that fail the tool's schema never reach it; the agent reports bad_arguments",
          st == AGENTRT_ERR_AGENT_ERROR && error && strstr(error, "bad_arguments") && atomic_load(&state.calls) == 2,
          "status %s, error %s, tool calls %d", agentrt_status_string(st), capi_s(error), atomic_load(&state.calls));
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;

    st = agentrt_run(rt, "basics", "delegate", "json-tool-user", "{\"a\":0,\"b\":7}", NULL, &result, &error, NULL);
    CHECK("a tool error (set_error + non-OK) reaches the agent as is_error",
          st == AGENTRT_ERR_AGENT_ERROR && error && strstr(error, "host.multiply failed") && atomic_load(&state.calls) == 3,
          "status %s, error %s, tool calls %d", agentrt_status_string(st), capi_s(error), atomic_load(&state.calls));
    agentrt_free(result);
    agentrt_free(error);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);
}

/* ================================================================== native_tool */

typedef struct {
    long magic;
    atomic_int calls;
    int64_t a, b;
    void *seen;
} native_state;

static int64_t native_multiply(void *user_data, int64_t a, int64_t b) {
    native_state *s = user_data;
    s->seen = user_data;
    if (s->magic != 0x5eed) return -1;
    s->a = a;
    s->b = b;
    atomic_fetch_add(&s->calls, 1);
    return a * b;
}

static int64_t plain_multiply(int64_t a, int64_t b) { return a * b; }

static void section_native_tool(void) {
    agentrt_runtime *rt = new_runtime(NULL, 1, 0), *rt2;
    native_state state;
    char *result = NULL, *error = NULL;
    agentrt_status st;

    memset(&state, 0, sizeof state);
    state.magic = 0x5eed;
    atomic_init(&state.calls, 0);
    st = agentrt_register_native_tool(rt, "multiply", "Multiplies (bound to a struct).", "int64_t multiply(int64_t a, int64_t b)",
                                      (agentrt_native_fn)native_multiply, &state, &error);
    CHECK_STATUS("agentrt_register_native_tool(host.multiply bound to a struct) -> ok", st, AGENTRT_OK, error);
    st = agentrt_run(rt, "basics", "delegate", "native-user", "{\"a\":-3,\"b\":5}", NULL, &result, &error, NULL);
    CHECK_STATUS("basics.delegate through the native host tool -> ok", st, AGENTRT_OK, error);
    CHECK("... the product", result && strcmp(result, "{\"product\":-15}") == 0, "result %s", capi_s(result));
    CHECK("... the tool received its struct pointer as the first argument", state.seen == &state,
          "received %p, bound %p", state.seen, (void *)&state);
    CHECK("... and the values a = -3, b = 5, once", state.a == -3 && state.b == 5 && atomic_load(&state.calls) == 1,
          "a %lld, b %lld, calls %d", (long long)state.a, (long long)state.b, atomic_load(&state.calls));
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;
    st = agentrt_run(rt, "basics", "delegate", "native-user", "{\"a\":4294967296,\"b\":3}", NULL, &result, &error, NULL);
    CHECK("64-bit values cross intact", st == AGENTRT_OK && result && strcmp(result, "{\"product\":12884901888}") == 0 &&
                                            state.a == 4294967296LL && state.b == 3,
          "status %s, result %s, error %s, a %lld", agentrt_status_string(st), capi_s(result), capi_s(error), (long long)state.a);
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;
    st = agentrt_run(rt, "basics", "delegate", "native-user", "{\"a\":1.5,\"b\":2}", NULL, &result, &error, NULL);
    CHECK("a non-integer argument never reaches the native tool", st == AGENTRT_ERR_AGENT_ERROR && atomic_load(&state.calls) == 2,
          "status %s, result %s, calls %d", agentrt_status_string(st), capi_s(result), atomic_load(&state.calls));
    agentrt_free(result);
    agentrt_free(error);
    result = error = NULL;
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt), AGENTRT_OK, NULL);

    rt2 = new_runtime(NULL, 1, 0);
    st = agentrt_register_native_tool(rt2, "multiply", "Multiplies (no user data).", "int64_t multiply(int64_t a, int64_t b)",
                                      (agentrt_native_fn)plain_multiply, NULL, &error);
    CHECK_STATUS("agentrt_register_native_tool(host.multiply without user data) -> ok", st, AGENTRT_OK, error);
    st = agentrt_run(rt2, "basics", "delegate", "native-user", "{\"a\":7,\"b\":8}", NULL, &result, &error, NULL);
    CHECK("... basics.delegate gets the product", st == AGENTRT_OK && result && strcmp(result, "{\"product\":56}") == 0,
          "status %s, result %s, error %s", agentrt_status_string(st), capi_s(result), capi_s(error));
    agentrt_free(result);
    agentrt_free(error);
    CHECK_STATUS("agentrt_runtime_free -> ok", agentrt_runtime_free(rt2), AGENTRT_OK, NULL);
}

/* ================================================================== free_releases */

/* Threads of this process (Linux: /proc/self/task). */
static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Waits up to 10 s for the thread count to fall to `limit`; returns the last count. */
static int settle_threads(int limit) {
    int i, n = thread_count();
    for (i = 0; i < 1000 && n > limit; i++) {
        capi_sleep_ms(10);
        n = thread_count();
    }
    return n;
}

/* "Frees a runtime": what it started (workers, watchdog, delivery threads) goes with it. */
static void section_free_releases(void) {
    agentrt_runtime *rt;
    uint64_t sub;
    int baseline, n, i;

    /* Warm up process-wide state (plugin mapping, handle table) once. */
    rt = new_runtime(NULL, 1, 0);
    CHECK_STATUS("warm-up run", agentrt_run(rt, "basics", "echo", "free-user", "{}", NULL, NULL, NULL, NULL), AGENTRT_OK, NULL);
    agentrt_runtime_free(rt);
    capi_sleep_ms(200);
    baseline = thread_count();
    CHECK("/proc/self/task is readable", baseline > 0, "thread count %d", baseline);

    for (i = 0; i < 10; i++) {
        rt = new_runtime(NULL, 1, 0);
        agentrt_runtime_free(rt);
    }
    n = settle_threads(baseline + 2);
    CHECK("10 runtimes created, loaded and freed leave no threads behind", n <= baseline + 2,
          "%d threads, %d before", n, baseline);

    for (i = 0; i < 10; i++) {
        rt = new_runtime(NULL, 1, 0);
        agentrt_subscribe(rt, "free-user", -1, stray_event, NULL, &sub);
        agentrt_runtime_free(rt);
    }
    n = settle_threads(baseline + 2);
    CHECK("10 runtimes freed with a live subscription leave no threads behind", n <= baseline + 2,
          "%d threads, %d before", n, baseline);

    for (i = 0; i < 10; i++) {
        rt = new_runtime(NULL, 1, 0);
        CHECK_STATUS("setup: one basics.echo run", agentrt_run(rt, "basics", "echo", "free-user", "{}", NULL, NULL, NULL, NULL),
                     AGENTRT_OK, NULL);
        agentrt_runtime_free(rt);
    }
    n = settle_threads(baseline + 2);
    CHECK("10 runtimes that each ran one call leave no threads behind once freed", n <= baseline + 2,
          "%d threads after agentrt_runtime_free, %d before: each freed runtime kept %.1f threads", n, baseline,
          (n - baseline) / 10.0);
}

/* ================================================================== main */

static const struct { const char *name; void (*run)(void); } sections[] = {
    {"info", section_info},
    {"handles", section_handles},
    {"handle_messages", section_handle_messages},
    {"args", section_args},
    {"null_names", section_null_names},
    {"async", section_async},
    {"cancel", section_cancel},
    {"replay", section_replay},
    {"json_tool", section_json_tool},
    {"native_tool", section_native_tool},
    {"free_releases", section_free_releases},
};

int main(int argc, char **argv) {
    size_t i;
    if (argc != 4) {
        fprintf(stderr, "usage: %s <libbasics.so> <libguards.so> <section>\n", argv[0]);
        return 2;
    }
    basics_path = argv[1];
    guards_path = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    capi_watchdog(90);
    for (i = 0; i < sizeof sections / sizeof *sections; i++) {
        if (strcmp(sections[i].name, argv[3]) == 0) {
            sections[i].run();
            printf("OK %s: %d checks\n", argv[3], atomic_load(&capi_checks));
            return 0;
        }
    }
    fprintf(stderr, "unknown section %s\n", argv[3]);
    return 2;
}
