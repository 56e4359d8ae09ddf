#!/usr/bin/env python3
"""Embeds agentrt in Python through ctypes (standard library only).

Loads the example plugin, registers a host tool the agent calls, runs agents for several users from
several threads at once, prints each user's events from its own subscription, and checks that no
user saw another user's events.

    python3 examples/python-host/host.py [path/to/libAgentRT.so] [path/to/libbasics.so]
"""
import ctypes as C
import json
import os
import sys
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "debug", "libAgentRT.so")
PLUGIN = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "plugins", "build", "libbasics.so")
USERS, RUNS = 4, 5

rt_lib = C.CDLL(LIB)
status_t = C.c_int32
charpp = C.POINTER(C.c_void_p)  # char ** out-parameters; freed with agentrt_free

EVENT_CB = C.CFUNCTYPE(None, C.c_void_p, C.c_char_p, C.c_size_t)
# host.multiply with bound user data: int64_t multiply(void *user_data, int64_t a, int64_t b)
MULTIPLY = C.CFUNCTYPE(C.c_int64, C.c_void_p, C.c_int64, C.c_int64)

def sig(name, res, *args):
    f = getattr(rt_lib, name)
    f.restype, f.argtypes = res, list(args)
    return f

version = sig("agentrt_version", C.c_char_p)
status_string = sig("agentrt_status_string", C.c_char_p, status_t)
free = sig("agentrt_free", None, C.c_void_p)
runtime_new = sig("agentrt_runtime_new", status_t, C.c_void_p, C.POINTER(C.c_void_p))
runtime_free = sig("agentrt_runtime_free", status_t, C.c_void_p)
load_plugin = sig("agentrt_load_plugin", status_t, C.c_void_p, C.c_char_p, C.c_char_p, charpp, charpp)
run = sig("agentrt_run", status_t, C.c_void_p, C.c_char_p, C.c_char_p, C.c_char_p, C.c_char_p, C.c_void_p,
          charpp, charpp, charpp)
subscribe = sig("agentrt_subscribe", status_t, C.c_void_p, C.c_char_p, C.c_int64, EVENT_CB, C.c_void_p,
                C.POINTER(C.c_uint64))
unsubscribe = sig("agentrt_unsubscribe", status_t, C.c_void_p, C.c_uint64)
register_native = sig("agentrt_register_native_tool", status_t, C.c_void_p, C.c_char_p, C.c_char_p, C.c_char_p,
                      C.c_void_p, C.c_void_p, charpp)
isolation_json = sig("agentrt_isolation_json", status_t, C.c_void_p, charpp)


def take(p):
    """Copies a library-owned string and frees it."""
    if not p.value:
        return None
    s = C.string_at(p.value).decode()
    free(p.value)
    return s


def main():
    print("agentrt", version().decode(), "via ctypes")
    rt = C.c_void_p()
    assert runtime_new(None, C.byref(rt)) == 0
    name, err = C.c_void_p(), C.c_void_p()
    st = load_plugin(rt, PLUGIN.encode(), None, C.byref(name), C.byref(err))
    if st != 0:
        sys.exit(f"cannot load {PLUGIN}: {take(err)}")
    print("loaded plugin", take(name))

    calls = []
    magic = C.c_long(0x5EED)

    def multiply(user_data, a, b):
        ok = C.cast(user_data, C.POINTER(C.c_long)).contents.value == 0x5EED
        calls.append(ok)
        return a * b if ok else -1

    multiply_fn = MULTIPLY(multiply)  # keep a reference for the runtime's lifetime
    st = register_native(rt, b"multiply", b"Multiplies two integers (a Python host tool).",
                         b"int64_t multiply(int64_t a, int64_t b)", C.cast(multiply_fn, C.c_void_p),
                         C.cast(C.byref(magic), C.c_void_p), C.byref(err))
    assert st == 0, take(err)

    logs = {f"py-user-{i + 1}": [] for i in range(USERS)}
    lock = threading.Lock()
    callbacks, subs = [], {}
    for user in logs:
        def on_event(_ud, data, length, user=user):
            event = json.loads(C.string_at(data, length))
            with lock:
                logs[user].append(event)
        cb = EVENT_CB(on_event)
        callbacks.append(cb)
        sid = C.c_uint64()
        assert subscribe(rt, user.encode(), -1, cb, None, C.byref(sid)) == 0
        subs[user] = sid.value

    failures = []

    def worker(index, user):
        for i in range(RUNS):
            res, err, rid = C.c_void_p(), C.c_void_p(), C.c_void_p()
            st = run(rt, b"basics", b"delegate", user.encode(), json.dumps({"a": index + 1, "b": i + 1}).encode(),
                     None, C.byref(res), C.byref(err), C.byref(rid))
            result, error, _ = take(res), take(err), take(rid)
            if st != 0:
                failures.append(f"{user}: {status_string(st).decode()}: {error}")
            elif json.loads(result) != {"product": (index + 1) * (i + 1)}:
                failures.append(f"{user}: wrong result {result}")

    threads = [threading.Thread(target=worker, args=(i, u)) for i, u in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.time() + 5
    while time.time() < deadline:
        with lock:
            if all(sum(e["type"] == "agent_completed" for e in log) == RUNS for log in logs.values()):
                break
        time.sleep(0.01)
    for user, sid in subs.items():
        unsubscribe(rt, sid)
    for user, log in logs.items():
        foreign = [e for e in log if e["user_id"] != user]
        done = sum(e["type"] == "agent_completed" for e in log)
        seqs = [e["seq"] for e in log]
        print(f"{user}: {len(log)} events ({', '.join(e['type'] for e in log[:4])}, ...), "
              f"{done} completed, {len(foreign)} foreign")
        if foreign or done != RUNS or seqs != sorted(seqs):
            failures.append(f"{user}: events wrong")
    print(f"host.multiply called {len(calls)} times, user data right every time: {all(calls)}")
    if len(calls) != USERS * RUNS or not all(calls):
        failures.append("host tool calls wrong")
    out = C.c_void_p()
    isolation_json(rt, C.byref(out))
    report = json.loads(take(out))
    clean = report["cross_user_events_refused"] == 0 and not report["violations"]
    print("isolation:", f'{report["events_checked"]} events checked, none crossed users' if clean else report)
    runtime_free(rt)
    if failures:
        print("FAILED:", *failures, sep="\n  ")
        sys.exit(1)
    print("OK: every user saw only their own events")


if __name__ == "__main__":
    main()
