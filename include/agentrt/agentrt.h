/*
 * agentrt/agentrt.h — embed the agentrt runtime in a native host (C, C++, Python ctypes, ...).
 *
 * Link with libAgentRT.so:
 *   cc host.c -I include -L .build/release -lAgentRT -Wl,-rpath,$PWD/.build/release -o host
 * or, after generating agentrt.pc (see README "Embedding"):
 *   cc host.c $(pkg-config --cflags --libs agentrt) -o host
 *
 * Conventions
 * -----------
 * - Every function returns an agentrt_status (see agentrt/plugin.h; agentrt_status_name() or
 *   agentrt_status_string() names it). Misuse — a NULL pointer, a freed or forged runtime, an
 *   unknown id — returns a status (AGENTRT_ERR_INVALID_ARGUMENT, AGENTRT_ERR_INVALID_HANDLE,
 *   AGENTRT_ERR_STALE_HANDLE, AGENTRT_ERR_NOT_FOUND), never a crash.
 * - Strings passed IN are NUL-terminated UTF-8, borrowed for the duration of the call.
 * - Every string returned through a `char **out` parameter is allocated by the library and must be
 *   freed with agentrt_free() (and only with it). On failure, out strings are set to NULL unless
 *   documented otherwise (out_error always receives a message when non-NULL).
 * - Threads: every function may be called from any host thread, concurrently. Callbacks run on
 *   runtime threads (never the caller's), must not block for long, and may call back into the API.
 */
#ifndef AGENTRT_AGENTRT_H
#define AGENTRT_AGENTRT_H

#include <stddef.h>
#include <stdint.h>
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An embedded runtime. An opaque token checked on every use (freed → AGENTRT_ERR_STALE_HANDLE). */
typedef struct agentrt_runtime agentrt_runtime;

/* Runtime configuration. Zero in any member means "the default" (shown in brackets). */
typedef struct agentrt_config {
    uint32_t struct_size;              /* sizeof(agentrt_config)                                  */
    uint32_t per_user_limit;           /* calls in flight per user [4]                            */
    uint32_t global_limit;             /* calls in flight in total [1024]                         */
    uint32_t admission_wait_ms;        /* wait for admission before `overloaded` [0: none]        */
    uint32_t default_timeout_ms;       /* deadline of a run [30000]                               */
    uint32_t grace_ms;                 /* cooperative cancel → abandonment [1000]                 */
    uint32_t heartbeat_timeout_ms;     /* default heartbeat timeout [0: off]                      */
    uint32_t breaker_window;           /* calls in the breaker's window [20]                      */
    uint32_t breaker_minimum_calls;    /* calls before the breaker may trip [10]                  */
    uint32_t breaker_failure_percent;  /* failure rate that opens it, 1-100 [50]                  */
    uint32_t breaker_wait_ms;          /* time OPEN before a probe [30000]                        */
    uint32_t quarantine_threshold;     /* abandoned calls of an agent (all users) before refusal [32] */
    uint32_t replay_capacity;          /* events kept per user for resume [1024]                  */
    uint32_t tool_timeout_ms;          /* default tool timeout [30000]                            */
    /* Appended in 0.2 (a host built against 0.1's smaller struct still works: members past its
     * struct_size take their defaults). */
    uint32_t log_level;                /* lowest level logged + 1: 1 trace … 5 error, 6 off [0: warn] */
    /* Appended in 0.3. */
    uint32_t isolation;                /* where plugins run unless loaded with options:
                                          AGENTRT_ISOLATION_IN_PROCESS [default] or _PROCESS   */
    uint32_t workers_per_plugin;       /* worker processes per isolated plugin [2]                */
    uint32_t caller_thread;            /* 1: agentrt_run runs in-process agents on the calling
                                          thread (no hand-off; a call that ignores its deadline
                                          holds that thread until it returns) [0: a worker]      */
} agentrt_config;

/* Where a plugin's code runs (docs/ISOLATION.md). */
#define AGENTRT_ISOLATION_IN_PROCESS 0u /* on the runtime's threads: fastest; the plugin is trusted */
#define AGENTRT_ISOLATION_PROCESS 1u    /* in supervised worker processes (agentrt-worker): a crash
                                           ends only its call (AGENTRT_ERR_CRASHED), a hung call is
                                           killed at deadline + grace                            */

/* Options of one plugin load (agentrt_load_plugin_with). Zero/NULL members mean the defaults. */
typedef struct agentrt_load_options {
    uint32_t struct_size;              /* sizeof(agentrt_load_options)                            */
    uint32_t isolation;                /* AGENTRT_ISOLATION_* [the runtime's agentrt_config.isolation] */
    uint32_t workers;                  /* worker processes (process isolation) [workers_per_plugin] */
    uint32_t memory_limit_mb;          /* address-space limit per worker, MiB [0: none]          */
    uint32_t cpu_limit_ms;             /* CPU time one isolated call may use [0: none]           */
    uint32_t reserved;                 /* 0                                                       */
    const char *config_json;           /* handed to the plugin's on_init [NULL: "{}"]            */
} agentrt_load_options;

/* Options of one run. Zero/NULL members mean the defaults. */
typedef struct agentrt_run_options {
    uint32_t struct_size;              /* sizeof(agentrt_run_options)                             */
    uint32_t timeout_ms;               /* [the agent's default, else the runtime's]               */
    uint32_t heartbeat_timeout_ms;     /* [the runtime's default]                                 */
    uint32_t flags;                    /* AGENTRT_RUN_* [0] (was `reserved`, always 0)            */
    const char *session_id;            /* conversation id ["default-session"]                     */
    const char *metadata_json;         /* flat JSON object of string values, or NULL              */
} agentrt_run_options;

/* agentrt_run_options.flags */
#define AGENTRT_RUN_ON_CALLER_THREAD 0x1u /* run the agent on the calling thread (no hand-off) */
#define AGENTRT_RUN_HAND_OFF 0x2u         /* run it on a worker even if the runtime's default is
                                             caller_thread or the agent sets
                                             AGENTRT_AGENT_RETURNS_PROMPTLY                      */
/* Neither flag: on the calling thread if the agent sets AGENTRT_AGENT_RETURNS_PROMPTLY or the
 * runtime's caller_thread is 1, else on a worker. */

/* The library's version, e.g. "0.1.0". Static storage: do not free. */
const char *agentrt_version(void);

/* The stable name of a status (same as agentrt_status_name). Static storage: do not free. */
const char *agentrt_status_string(agentrt_status status);

/* Frees a string returned by this library. NULL is ignored. */
void agentrt_free(void *p);

/* Creates a runtime. `config` may be NULL. *out receives the handle. */
agentrt_status agentrt_runtime_new(const agentrt_config *config, agentrt_runtime **out);

/* Frees a runtime: cancels its running calls, stops its subscriptions (waiting for callbacks in
 * progress unless called from one), and invalidates the handle. Plugins stay mapped. */
agentrt_status agentrt_runtime_free(agentrt_runtime *rt);

/* Loads a plugin file and installs its agents and tools. `config_json` (may be NULL) is handed
 * to the plugin's on_init. On success *out_plugin_name (if non-NULL) gets the plugin's name; on
 * refusal the status is AGENTRT_ERR_LOAD_FAILED and *out_error the loader's message, which
 * names the file and the problem. */
agentrt_status agentrt_load_plugin(agentrt_runtime *rt, const char *path, const char *config_json,
                                   char **out_plugin_name, char **out_error);

/* Like agentrt_load_plugin, with options: in particular `isolation` = AGENTRT_ISOLATION_PROCESS
 * runs the plugin in supervised worker processes (the agentrt-worker executable, found beside
 * the program, beside libAgentRT.so, or at $AGENTRT_WORKER). `opts` may be NULL (the
 * runtime's defaults). Errors as for agentrt_load_plugin; an unknown isolation value or a
 * struct_size smaller than the first release's is AGENTRT_ERR_INVALID_ARGUMENT. */
agentrt_status agentrt_load_plugin_with(agentrt_runtime *rt, const char *path, const agentrt_load_options *opts,
                                        char **out_plugin_name, char **out_error);

/* Runs `plugin`.`agent` for `user_id` and waits for the outcome (deadline + grace at most).
 * On AGENTRT_OK, *out_result gets the result JSON; otherwise the status is the error code
 * (AGENTRT_ERR_TIMEOUT, AGENTRT_ERR_OVERLOADED, ...) and *out_error its message.
 * *out_run_id (if non-NULL) gets the run id in both cases. Blocks the calling thread. */
agentrt_status agentrt_run(agentrt_runtime *rt, const char *plugin, const char *agent, const char *user_id,
                           const char *input_json, const agentrt_run_options *options,
                           char **out_result, char **out_error, char **out_run_id);

/* Completion of an asynchronous run. `result_or_error` is the result JSON (status OK) or the
 * error message; both strings are borrowed for the duration of the callback. Called exactly
 * once, on a runtime thread (or on the caller's thread before agentrt_run_async returns when the
 * call is refused at once). */
typedef void (*agentrt_run_callback)(void *user_data, agentrt_status status, const char *run_id,
                                     const char *result_or_error);

/* Starts a run and returns at once; *out_run_id (if non-NULL) gets its id. */
agentrt_status agentrt_run_async(agentrt_runtime *rt, const char *plugin, const char *agent, const char *user_id,
                                 const char *input_json, const agentrt_run_options *options,
                                 agentrt_run_callback callback, void *user_data, char **out_run_id);

/* Cancels a running run (cooperatively; abandoned after the grace period). NOT_FOUND if it is
 * not running. */
agentrt_status agentrt_cancel(agentrt_runtime *rt, const char *run_id);

/* An event of a user's stream, as one JSON object (the envelope of EVENTS.md), borrowed for the
 * duration of the callback. Called in seq order, one call at a time per subscription, on one of
 * the runtime's shared event-delivery threads (at most 16 per process with the pool's watcher;
 * never the thread that emitted the event, and not always the same thread for a subscription).
 * A callback that blocks holds one delivery thread; others keep serving other subscriptions. */
typedef void (*agentrt_event_callback)(void *user_data, const char *event_json, size_t length);

/* Subscribes to `user_id`'s events. after_seq < 0: only events from now on; >= 0: replay every
 * retained event with seq > after_seq first (a `stream_gap` event marks what was lost).
 * *out_subscription receives an id for agentrt_unsubscribe. */
agentrt_status agentrt_subscribe(agentrt_runtime *rt, const char *user_id, int64_t after_seq,
                                 agentrt_event_callback callback, void *user_data, uint64_t *out_subscription);

/* Stops a subscription; when it returns, its callback is not running and will not run again
 * (unless called from inside that callback, where it returns at once). */
agentrt_status agentrt_unsubscribe(agentrt_runtime *rt, uint64_t subscription);

/* A log line: the runtime's own warnings and plugins' host->log lines, one line each with
 * every control character escaped (\n, \u{1B} ...), NUL-terminated, `length` bytes, borrowed for
 * the duration of the callback. Called on the thread that logged (any runtime thread); must
 * not block for long. `level`: 0 trace, 1 debug, 2 info, 3 warn, 4 error. */
typedef void (*agentrt_log_callback)(void *user_data, int32_t level, const char *line, size_t length);

/* Routes log lines at `min_level` (0-4; 5 = none) and above to `callback`; NULL silences them.
 * By default the library writes NOTHING to the host's stderr: a host that wants logs asks here.
 * Plugin log lines written without a call (during on_init) go to the most recently set callback
 * of any runtime in the process. Lines below the runtime's own level (WARN) are not produced. */
agentrt_status agentrt_set_log_callback(agentrt_runtime *rt, int32_t min_level, agentrt_log_callback callback,
                                        void *user_data);

/* The host table, for host tools that want the call's identity, events or result services
 * (the same table plugins receive). Static storage. */
const agentrt_host *agentrt_host_table(void);

/* Registers a host tool `host.<name>` that is a plain C function described by `prototype`
 * (e.g. "int64_t add(int64_t a, int64_t b)"), called through libffi. If `user_data` is non-NULL
 * the function receives it as an extra FIRST parameter `void *` that the prototype does not
 * mention. On an unsupported prototype the status is AGENTRT_ERR_INVALID_ARGUMENT and *out_error
 * names the offending token. */
agentrt_status agentrt_register_native_tool(agentrt_runtime *rt, const char *name, const char *description,
                                            const char *prototype, agentrt_native_fn function, void *user_data,
                                            char **out_error);

/* Registers a host tool `host.<name>` taking and returning JSON: `function` is called with
 * `user_data` as its first argument and reports through agentrt_host_table()->set_result /
 * set_error on the call handle it receives (exactly like a plugin JSON tool). `input_schema`
 * (JSON Schema, may be NULL) validates arguments before the function runs. */
agentrt_status agentrt_register_json_tool(agentrt_runtime *rt, const char *name, const char *description,
                                          const char *input_schema, agentrt_tool_fn function, void *user_data,
                                          char **out_error);

/* {"plugins":[...],"agents":[...],"tools":[...]} — what is loaded. */
agentrt_status agentrt_list_json(agentrt_runtime *rt, char **out_json);

/* Stats per agent and per user (calls, outcomes by code, in flight, zombies, latency, breaker). */
agentrt_status agentrt_stats_json(agentrt_runtime *rt, char **out_json);

/* Active users, sessions, in-flight runs, and whether anything is shared between users. */
agentrt_status agentrt_isolation_json(agentrt_runtime *rt, char **out_json);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AGENTRT_AGENTRT_H */
