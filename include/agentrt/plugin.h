/*
 * agentrt/plugin.h — the agentrt plugin ABI, version 1.1 (1.1 appended the JSON accessors to
 * agentrt_host and the status AGENTRT_ERR_TYPE_MISMATCH; plugins built for 1.0 load unchanged).
 *
 * A plugin is a shared library that exports two symbols:
 *
 *   agentrt_plugin_magic   const data (agentrt_magic) the runtime reads with dlsym()
 *                          BEFORE it calls any plugin function;
 *   agentrt_plugin_entry   a function returning the plugin's descriptor.
 *
 * AGENTRT_DEFINE_PLUGIN(entry_fn); defines both. Build with the system compiler alone:
 *
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden -I include my_agent.c -o libmy_agent.so
 *
 * The plugin never links against the runtime: every host service reaches it through the
 * agentrt_host table handed to agentrt_plugin_entry(), so the same .so runs under the CLI,
 * `agentrt serve` and any native host embedding libagentrt.
 *
 * Conventions used by every declaration below
 * -------------------------------------------
 * - Strings cross as agentrt_str {ptr, len}: UTF-8, NOT NUL-terminated, len in bytes.
 *   A view the host gives the plugin is BORROWED: valid until the plugin function that
 *   received it returns (for views obtained through a call handle: until the run/tool
 *   function of that call returns). Copy it to keep it.
 *   A view the plugin gives the host (result, error, event, log) is COPIED by the host before
 *   the host function returns; the plugin may free or reuse its buffer immediately after.
 *   No memory is ever allocated on one side and freed on the other.
 * - Structs start with `struct_size` (set it to sizeof(the struct)); members are only ever
 *   appended. A reader checks AGENTRT_HAS_MEMBER() before touching a member that a given
 *   minor version added. Arrays of structs are walked with a stride of their first element's
 *   struct_size, and every element must carry the same struct_size.
 * - Every host function returns an agentrt_status; no host function ever aborts the process
 *   on bad input. agentrt_status_name() names each value.
 * - Compatibility: the runtime loads a plugin whose ABI major equals its own and whose
 *   minor is lower than or equal to its own. Everything else is refused at load time.
 *
 * Threads
 * -------
 * agentrt_plugin_entry, on_init and on_shutdown are called once each, on one thread, never
 * concurrently with anything else of the same plugin. Agent and tool functions run on the
 * runtime's native worker threads, or on the thread that asked for the call when the host
 * chose caller's-thread execution or the agent sets AGENTRT_AGENT_RETURNS_PROMPTLY (below); an
 * agent without AGENTRT_AGENT_THREAD_SAFE never runs two calls at once on the same instance. Host table
 * functions may be called from any thread, including threads the plugin created, as long as
 * the call handle passed is still live (see agentrt_call).
 */
#ifndef AGENTRT_PLUGIN_H
#define AGENTRT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ versions */

#define AGENTRT_ABI_MAJOR 1
#define AGENTRT_ABI_MINOR 1
/* "AGRT" little-endian: the tag that marks agentrt_plugin_magic. */
#define AGENTRT_MAGIC_TAG 0x54524741u

#if defined(_WIN32)
#define AGENTRT_EXPORT __declspec(dllexport)
#else
#define AGENTRT_EXPORT __attribute__((visibility("default")))
#endif

/* True when struct *s (whose first member is struct_size) is large enough to hold `member`. */
#define AGENTRT_HAS_MEMBER(s, type, member) \
    ((s) != NULL && (size_t)(s)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* ------------------------------------------------------------------ status codes */

/*
 * Every host function returns one of these. Values are stable forever; new values are only
 * appended. 1–11 mirror the runtime's call error codes (GUARDS.md); the rest describe misuse
 * of the host table.
 */
typedef int32_t agentrt_status;
enum {
    AGENTRT_OK = 0,
    AGENTRT_ERR_INVALID_CONTEXT = 1,  /* a user/session/run id was rejected                */
    AGENTRT_ERR_OVERLOADED = 2,       /* admission refused: too many calls in flight        */
    AGENTRT_ERR_CIRCUIT_OPEN = 3,     /* the circuit breaker refuses calls for now          */
    AGENTRT_ERR_QUARANTINED = 4,      /* too many abandoned calls of this agent still run   */
    AGENTRT_ERR_TIMEOUT = 5,          /* the deadline passed                                */
    AGENTRT_ERR_NO_HEARTBEAT = 6,     /* the agent stopped heartbeating and was declared dead */
    AGENTRT_ERR_CANCELLED = 7,        /* the call was cancelled (is_cancelled, heartbeat)   */
    AGENTRT_ERR_AGENT_ERROR = 8,      /* the agent (or tool) reported a failure             */
    AGENTRT_ERR_INVALID_OUTPUT = 9,   /* result missing, not JSON, not UTF-8 or too large   */
    AGENTRT_ERR_CRASHED = 10,         /* the agent's process died (process isolation)       */
    AGENTRT_ERR_NOT_FOUND = 11,       /* unknown agent, tool, metadata key or plugin        */
    AGENTRT_ERR_INTERNAL = 12,        /* a bug in the runtime; the message says more        */
    AGENTRT_ERR_INVALID_ARGUMENT = 13,/* NULL pointer, bad length, bad UTF-8, bad level...  */
    AGENTRT_ERR_INVALID_HANDLE = 14,  /* the call handle was never issued by this runtime   */
    AGENTRT_ERR_STALE_HANDLE = 15,    /* the call handle's call already finished            */
    AGENTRT_ERR_INVALID_JSON = 16,    /* a JSON argument does not parse                     */
    AGENTRT_ERR_RESERVED_TYPE = 17,   /* emit() with an event type the runtime reserves     */
    AGENTRT_ERR_BAD_ARGUMENTS = 18,   /* tool arguments do not match the tool's schema      */
    AGENTRT_ERR_UNSUPPORTED = 19,     /* the host does not offer this service               */
    AGENTRT_ERR_TOO_LARGE = 20,       /* a value exceeds a documented size limit            */
    AGENTRT_ERR_ALREADY_SET = 21,     /* set_result/set_error called twice for one call     */
    AGENTRT_ERR_LOAD_FAILED = 22,     /* (embedding API) a plugin was refused at load       */
    AGENTRT_ERR_TYPE_MISMATCH = 23,   /* (ABI 1.1) a JSON value is not of the asked type    */
    AGENTRT_STATUS_COUNT_ = 24
};

/* The stable snake_case name of a status ("ok", "timeout", "stale_handle", ...). Never NULL. */
static inline const char *agentrt_status_name(agentrt_status s) {
    static const char *const names[] = {
        "ok", "invalid_context", "overloaded", "circuit_open", "quarantined", "timeout",
        "no_heartbeat", "cancelled", "agent_error", "invalid_output", "crashed", "not_found",
        "internal", "invalid_argument", "invalid_handle", "stale_handle", "invalid_json",
        "reserved_type", "bad_arguments", "unsupported", "too_large", "already_set",
        "load_failed", "type_mismatch"};
    if (s < 0 || s >= AGENTRT_STATUS_COUNT_) return "unknown_status";
    return names[s];
}

/* ------------------------------------------------------------------ strings */

/* A UTF-8 string view: `len` bytes at `ptr`, no NUL terminator required. {NULL, 0} is empty. */
typedef struct agentrt_str {
    const char *ptr;
    size_t len;
} agentrt_str;

/* A view of a string literal, usable in static initialisers: AGENTRT_STR("echo"). */
#define AGENTRT_STR(lit) { (lit), sizeof(lit) - 1 }

/* A view of a NUL-terminated string (or {NULL,0} for NULL). */
static inline agentrt_str agentrt_cstr(const char *s) {
    agentrt_str v;
    size_t n = 0;
    if (s != NULL) while (s[n] != '\0') n++;
    v.ptr = s;
    v.len = n;
    return v;
}

/* ------------------------------------------------------------------ magic */

/*
 * The first thing the loader reads, with dlsym(), before any plugin code runs. It refuses a
 * plugin whose tag, struct_size, pointer size or ABI version does not match; the message names
 * both versions. (ELF constructors in the plugin still run at dlopen(); avoid them.)
 */
typedef struct agentrt_magic {
    uint32_t struct_size;   /* sizeof(agentrt_magic)                    */
    uint32_t tag;           /* AGENTRT_MAGIC_TAG                        */
    uint16_t abi_major;     /* AGENTRT_ABI_MAJOR the plugin was built for */
    uint16_t abi_minor;     /* AGENTRT_ABI_MINOR the plugin was built for */
    uint16_t pointer_size;  /* sizeof(void *) of the plugin's build      */
    uint16_t reserved;      /* 0                                        */
} agentrt_magic;

#define AGENTRT_MAGIC_INIT \
    { (uint32_t)sizeof(agentrt_magic), AGENTRT_MAGIC_TAG, AGENTRT_ABI_MAJOR, AGENTRT_ABI_MINOR, \
      (uint16_t)sizeof(void *), 0 }

/* ------------------------------------------------------------------ call handles */

/*
 * An opaque handle for one running agent or tool call. It carries the call's user, session,
 * run id, deadline, cancellation, event stream and tool access. It is an encoded token, never a
 * pointer to dereference: the host checks every handle against a table with generation counts.
 *
 * Lifetime: valid from the moment the run/tool function receives it until the call finishes
 * (the function returns, or the runtime abandons the call at its deadline + grace). Afterwards
 * every host function given it returns AGENTRT_ERR_STALE_HANDLE; a forged or garbage handle
 * yields AGENTRT_ERR_INVALID_HANDLE. Neither is undefined behaviour.
 * Threads: any thread may use a live handle (e.g. helper threads the agent started).
 */
typedef struct agentrt_call agentrt_call;

/* Log levels for agentrt_host.log. */
enum {
    AGENTRT_LOG_TRACE = 0,
    AGENTRT_LOG_DEBUG = 1,
    AGENTRT_LOG_INFO = 2,
    AGENTRT_LOG_WARN = 3,
    AGENTRT_LOG_ERROR = 4
};

/*
 * The outcome of agentrt_host.call_tool, filled by the host. Set struct_size before the call.
 * `content` is the tool's result (is_error == 0) or the tool's own error (is_error == 1), as
 * JSON text; it is borrowed and valid until the calling agent's run function returns.
 */
typedef struct agentrt_tool_result {
    uint32_t struct_size;   /* set by the caller: sizeof(agentrt_tool_result) */
    int32_t is_error;       /* 1 when the tool itself failed (MCP isError)    */
    agentrt_str content;    /* JSON text                                      */
} agentrt_tool_result;

/*
 * The host table: every service the runtime offers a plugin. Handed to agentrt_plugin_entry
 * and on_init; the pointer stays valid until on_shutdown returns. All functions are
 * thread-safe. A member added in a later minor version may be absent (check
 * AGENTRT_HAS_MEMBER) or NULL; never call a NULL slot.
 */
typedef struct agentrt_host {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Identity of the call. *out is borrowed: valid until the call finishes. */
    agentrt_status (*user_id)(agentrt_call *call, agentrt_str *out);
    agentrt_status (*session_id)(agentrt_call *call, agentrt_str *out);
    agentrt_status (*run_id)(agentrt_call *call, agentrt_str *out);
    /* A metadata value by key; AGENTRT_ERR_NOT_FOUND when absent. */
    agentrt_status (*metadata)(agentrt_call *call, agentrt_str key, agentrt_str *out);

    /* AGENTRT_OK while the call may go on; AGENTRT_ERR_CANCELLED once it was cancelled
     * (deadline reached, caller cancelled, runtime shutting down). Cheap: poll it in loops. */
    agentrt_status (*is_cancelled)(agentrt_call *call);
    /* Milliseconds left before the deadline (0 once passed; INT64_MAX without a deadline). */
    agentrt_status (*remaining_ms)(agentrt_call *call, int64_t *out_ms);
    /* Proves the agent is alive (resets the heartbeat timeout) and publishes `details`
     * (free text, may be empty) as an agent_thinking event of kind "status". Returns
     * AGENTRT_ERR_CANCELLED when the call was cancelled: stop then. */
    agentrt_status (*heartbeat)(agentrt_call *call, agentrt_str details);
    /* Publishes a `custom` event with data {"name": type, "value": <data_json>} on the caller's
     * stream, or, for type "agent_thinking", a thinking note whose data_json is
     * {"text": "...", "kind": "status"|"reasoning"}. Reserved types → AGENTRT_ERR_RESERVED_TYPE;
     * data that is not JSON → AGENTRT_ERR_INVALID_JSON. Never blocks on slow subscribers. */
    agentrt_status (*emit)(agentrt_call *call, agentrt_str type, agentrt_str data_json);
    /* Calls tool `name` ("plugin.tool", or "tool" for one of this plugin's own) with JSON
     * arguments, through the runtime's dispatcher: own child context, timeout, breaker and
     * tool_executing/tool_completed events. On AGENTRT_OK, *out holds the tool's result or
     * its own error (out->is_error). Runtime failures (not found, bad arguments, timeout,
     * circuit open, cancelled) are returned as a status. Blocks until the tool finishes. */
    agentrt_status (*call_tool)(agentrt_call *call, agentrt_str name, agentrt_str args_json,
                                agentrt_tool_result *out);
    /* Sets the call's result (JSON). Copied at once. Once per call (AGENTRT_ERR_ALREADY_SET). */
    agentrt_status (*set_result)(agentrt_call *call, agentrt_str result_json);
    /* Sets a human-readable error message (UTF-8 text, not JSON) for a failing call. */
    agentrt_status (*set_error)(agentrt_call *call, agentrt_str message);
    /* Logs a line. `call` may be NULL (e.g. during on_init). */
    agentrt_status (*log)(agentrt_call *call, int32_t level, agentrt_str message);

    /* ---- ABI 1.1: JSON accessors (check AGENTRT_HAS_MEMBER(host, agentrt_host, json_get_raw)).
     * Read a value out of any JSON text the plugin holds (its input, a tool's result) by
     * RFC 6901 JSON Pointer: "" is the whole document, "/text", "/items/0/name" ("~1" is '/',
     * "~0" is '~'). The whole document is validated first (AGENTRT_ERR_INVALID_JSON, also for
     * duplicate keys); a pointer that names nothing → AGENTRT_ERR_NOT_FOUND; a malformed pointer
     * → AGENTRT_ERR_INVALID_ARGUMENT; a value of another type → AGENTRT_ERR_TYPE_MISMATCH.
     * Returned views BORROW from `json` (valid as long as the plugin's `json` buffer is). */
    /* The value's JSON text as it appears in `json` (objects, arrays, strings with quotes …). */
    agentrt_status (*json_get_raw)(agentrt_str json, agentrt_str pointer, agentrt_str *out);
    /* A string value, unescaped. Without escapes it points into `json`; with escapes it is
     * decoded into memory owned by `call` (valid until that call's function returns); with
     * escapes and `call` NULL → AGENTRT_ERR_UNSUPPORTED (use json_get_raw). */
    agentrt_status (*json_get_string)(agentrt_call *call, agentrt_str json, agentrt_str pointer, agentrt_str *out);
    /* An integer (no fraction, no exponent unless integral) that fits int64 (else TOO_LARGE). */
    agentrt_status (*json_get_int64)(agentrt_str json, agentrt_str pointer, int64_t *out);
    /* Any JSON number as a double. */
    agentrt_status (*json_get_double)(agentrt_str json, agentrt_str pointer, double *out);
    /* true / false as 1 / 0. */
    agentrt_status (*json_get_bool)(agentrt_str json, agentrt_str pointer, int32_t *out);
} agentrt_host;

/* ------------------------------------------------------------------ agents */

/* The agent may run several calls at once on one instance. Without it the runtime serialises
 * calls per instance (per user session when session hooks exist, else per agent). */
#define AGENTRT_AGENT_THREAD_SAFE 0x1u

/* The agent returns promptly and never blocks: no waiting on I/O, sleeps, other threads or
 * locks others may hold — its session hooks and the tools it calls included (they run on the
 * same thread). The runtime may then run its calls on the thread that asked for them
 * (a C host's thread, a Swift cooperative thread serving `agentrt serve`) instead of handing
 * them to a worker: no hand-off, the fastest guarded call. Every guard still applies; what
 * the flag promises is that a call will not keep that thread: one that ignores its deadline
 * still gets its outcome at deadline + grace, but holds the thread until it returns. Ignored
 * under process isolation (isolated calls always run on the caller's thread, a kill bounds
 * them). See GUARDS.md, "Caller's-thread execution". */
#define AGENTRT_AGENT_RETURNS_PROMPTLY 0x2u

/*
 * Runs one agent call. `instance` is what session_open returned for this user session (or the
 * plugin state from on_init when the agent has no session hooks). `input` is the JSON input,
 * borrowed until return. Report the result with host->set_result and return AGENTRT_OK, or
 * call host->set_error and return AGENTRT_ERR_AGENT_ERROR (any non-OK status is a failure).
 * Runs on a native worker thread. Returning AGENTRT_OK without set_result is invalid_output.
 */
typedef agentrt_status (*agentrt_agent_run_fn)(void *instance, agentrt_call *call, agentrt_str input);

/* Creates per-user state for one (user, session). Called once per session before its first
 * call; `out_instance` receives the instance. Non-OK refuses the call (agent_error). */
typedef agentrt_status (*agentrt_session_open_fn)(void *plugin_state, agentrt_str user_id,
                                                   agentrt_str session_id, void **out_instance);
/* Releases an instance. Called exactly once per successful open, after its last call returned. */
typedef void (*agentrt_session_close_fn)(void *plugin_state, void *instance);

typedef struct agentrt_agent {
    uint32_t struct_size;               /* sizeof(agentrt_agent)                          */
    uint32_t flags;                     /* AGENTRT_AGENT_THREAD_SAFE | AGENTRT_AGENT_RETURNS_PROMPTLY */
    agentrt_str name;                   /* [a-z0-9_-] (no "."), 1..64, unique in plugin*/
    agentrt_str description;            /* free text                                      */
    agentrt_str input_schema;           /* JSON Schema of the input, or empty             */
    uint32_t default_timeout_ms;        /* 0: the runtime's default                       */
    uint32_t reserved;                  /* 0                                              */
    agentrt_agent_run_fn run;           /* required                                       */
    agentrt_session_open_fn session_open;   /* optional, paired with session_close        */
    agentrt_session_close_fn session_close; /* optional                                   */
} agentrt_agent;

/* ------------------------------------------------------------------ tools */

enum {
    AGENTRT_TOOL_JSON = 1,   /* JSON arguments in, JSON result out                         */
    AGENTRT_TOOL_NATIVE = 2  /* a plain C function described by a C prototype (libffi)     */
};

/*
 * A JSON tool. `call` is the tool call's own handle (a child of the calling agent's call:
 * same user, own run id, inherited deadline). Report with host->set_result and return
 * AGENTRT_OK; a tool's own failure is host->set_error + a non-OK status, which the caller
 * receives as a result with is_error = 1.
 */
typedef agentrt_status (*agentrt_tool_fn)(void *plugin_state, agentrt_call *call, agentrt_str args_json);

/*
 * A tool. For AGENTRT_TOOL_JSON set `json_fn` (and optionally `input_schema`). For
 * AGENTRT_TOOL_NATIVE set `prototype` to the function's C prototype, e.g.
 * "int64_t add(int64_t a, int64_t b)", and `native_fn` to its address cast to
 * agentrt_native_fn. Supported types: void, bool, int8_t..int64_t, uint8_t..uint64_t, int,
 * long, size_t, float, double, const char * (UTF-8 in; a returned const char * is copied at
 * once and never freed by the host). The JSON Schema is derived from the prototype.
 */
typedef void (*agentrt_native_fn)(void);

typedef struct agentrt_tool {
    uint32_t struct_size;           /* sizeof(agentrt_tool)                               */
    uint32_t kind;                  /* AGENTRT_TOOL_JSON or AGENTRT_TOOL_NATIVE           */
    agentrt_str name;               /* [A-Za-z0-9_-] (no "."), 1..64, unique in plugin*/
    agentrt_str description;
    agentrt_str input_schema;       /* JSON tools: JSON Schema (type object) or empty     */
    agentrt_tool_fn json_fn;        /* JSON tools                                         */
    agentrt_str prototype;          /* native tools                                       */
    agentrt_native_fn native_fn;    /* native tools                                       */
    uint32_t default_timeout_ms;    /* 0: the runtime's default                           */
    uint32_t reserved;              /* 0                                                  */
} agentrt_tool;

/* ------------------------------------------------------------------ the plugin */

/* Called once after the descriptor validated. `config` is JSON ("{}" when none). On failure
 * write a NUL-terminated message of at most error_cap bytes into `error` and return non-OK.
 * `*out_state` is passed to session hooks, tools and (without session hooks) agents. */
typedef agentrt_status (*agentrt_init_fn)(const agentrt_host *host, agentrt_str config,
                                          void **out_state, char *error, size_t error_cap);
/* Called once when the runtime shuts down and no call of the plugin is running. */
typedef void (*agentrt_shutdown_fn)(void *state);

typedef struct agentrt_plugin {
    uint32_t struct_size;           /* sizeof(agentrt_plugin)                             */
    uint32_t reserved;              /* 0                                                  */
    agentrt_str name;               /* [a-z0-9_-] (no "."), 1..64; not host/agentrt   */
    agentrt_str version;            /* free text, e.g. "1.2.0"                            */
    agentrt_str description;
    const agentrt_agent *agents;    /* agent_count elements (stride agents[0].struct_size) */
    uint32_t agent_count;
    uint32_t tool_count;
    const agentrt_tool *tools;      /* tool_count elements (stride tools[0].struct_size)  */
    agentrt_init_fn on_init;        /* optional                                           */
    agentrt_shutdown_fn on_shutdown;/* optional                                           */
} agentrt_plugin;

/*
 * The entry point. Called once per loaded file, after the magic was checked. Return a
 * descriptor that stays valid (usually static const data) until on_shutdown returns, or NULL
 * to refuse loading. `host` stays valid until then too; keep it for later use.
 */
typedef const agentrt_plugin *(*agentrt_plugin_entry_fn)(const agentrt_host *host);

#define AGENTRT_MAGIC_SYMBOL "agentrt_plugin_magic"
#define AGENTRT_ENTRY_SYMBOL "agentrt_plugin_entry"

/* Defines agentrt_plugin_magic and agentrt_plugin_entry (forwarding to entry_fn). Use it at file
 * scope followed by a semicolon: AGENTRT_DEFINE_PLUGIN(my_entry); */
#ifdef __cplusplus
#define AGENTRT_EXTERN_C extern "C"
#define AGENTRT_EXTERN_DECL extern "C"
#else
#define AGENTRT_EXTERN_C
#define AGENTRT_EXTERN_DECL extern
#endif
#define AGENTRT_DEFINE_PLUGIN(entry_fn)                                                          \
    AGENTRT_EXTERN_DECL AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic;                  \
    AGENTRT_EXTERN_C AGENTRT_EXPORT const agentrt_magic agentrt_plugin_magic = AGENTRT_MAGIC_INIT; \
    AGENTRT_EXTERN_C AGENTRT_EXPORT const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host); \
    AGENTRT_EXTERN_C const agentrt_plugin *agentrt_plugin_entry(const agentrt_host *host) { return entry_fn(host); } \
    AGENTRT_EXTERN_DECL const agentrt_magic agentrt_plugin_magic

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AGENTRT_PLUGIN_H */
