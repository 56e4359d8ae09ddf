#!/usr/bin/env python3
"""Load test of `agentrt serve` over the WebSocket: many concurrent connections, each a distinct
user running agents in a closed loop (one run in flight per connection). A benchmark, not a
timed test: it prints figures, and exits non-zero only when a stream check fails.

    # 1. a token file of N users (the format `agentrt token add` writes) and their tokens
    bench-serve-ws.py tokens --users 1000 --file TOKENS --secrets SECRETS.json
    # 2. with `agentrt serve --tokens TOKENS ...` running:
    bench-serve-ws.py run --url ws://127.0.0.1:PORT/v1/stream --secrets SECRETS.json \
        --agent basics.greet --duration 20 [--server-pid PID] [--procs 2]

Checks, per connection: every event frame's seq follows the previous one (the stream is
replayed from after_seq=0, so it starts at seq 1), every event names the connection's own user,
no `stream_gap`, every run is acknowledged (`run_accepted`) and reaches a terminal event.

Latency, per event: (a) client receive wall time minus the envelope's `ts` (RFC 3339 with
milliseconds, so this figure has ~1 ms resolution) and (b) client receive minus the client's
send of the `run` message (monotonic clock, full resolution; includes the run's admission).
Server RSS comes from /proc/PID/status (VmRSS sampled every 0.2 s, VmHWM at the end).
Needs `websockets` (pip install websockets).
"""
import argparse
import asyncio
import datetime
import hashlib
import json
import multiprocessing as mp
import os
import resource
import secrets
import sys
import threading
import time
import urllib.request

TERMINAL = {"agent_completed", "agent_failed", "agent_cancelled"}
BARRIER_TIMEOUT = 600


def write_tokens(a):
    """The token file (`user role sha256hex`, mode 0600) and the tokens themselves (JSON)."""
    users = [(f"{a.prefix}{i:05d}", "art_" + secrets.token_hex(32)) for i in range(a.users)]
    fd = os.open(a.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for u, t in users:
            f.write(f"{u} user {hashlib.sha256(t.encode()).hexdigest()}\n")
    with open(a.secrets, "w") as f:
        json.dump(users, f)


class Conn:
    """One connection's checks and measurements."""

    def __init__(self, user):
        self.user = user
        self.problems = []
        self.last_seq = 0
        self.events = 0
        self.runs_started = 0
        self.runs_ended = 0
        self.refused = 0
        self.lat_send = []      # seconds, monotonic: send of `run` -> receive of each event
        self.lat_ts = []        # (receive wall ms, envelope ts string), parsed at the end
        self.round_trip = []    # send of `run` -> receive of its terminal event

    def problem(self, why):
        if len(self.problems) < 5:
            self.problems.append(f"{self.user}: {why}")


async def one_run(ws, c, agent, payload, n, timeout):
    rid = f"r{n}"
    sent = time.monotonic()
    await ws.send(json.dumps({"type": "run", "agent": agent, "input": payload, "request_id": rid}))
    c.runs_started += 1
    run_id = None
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        now = time.monotonic()
        wall_ms = time.time() * 1000.0
        m = json.loads(raw)
        t = m.get("type")
        if "seq" not in m:   # a control frame
            if t == "run_accepted" and m.get("request_id") == rid:
                run_id = m["run_id"]
            elif t == "run_refused":
                c.refused += 1
                c.problem(f"run refused: {m.get('error')}")
                return
            else:
                c.problem(f"unexpected control frame {raw[:200]}")
            continue
        c.events += 1
        seq = m["seq"]
        if seq != c.last_seq + 1:
            c.problem(f"seq {seq} after {c.last_seq}")
        c.last_seq = seq
        if m.get("user_id") != c.user:
            c.problem(f"event of user {m.get('user_id')!r}")
        if t == "stream_gap":
            c.problem(f"stream_gap {raw[:200]}")
        if run_id is None:
            c.problem(f"event before run_accepted: {raw[:200]}")
        elif m.get("run_id") != run_id:
            c.problem(f"event of run {m.get('run_id')} while {run_id} is the only one in flight")
        c.lat_send.append(now - sent)
        c.lat_ts.append((wall_ms, m.get("ts", "")))
        if t in TERMINAL and m.get("run_id") == run_id:
            c.runs_ended += 1
            c.round_trip.append(now - sent)
            if t != "agent_completed":
                c.problem(f"run ended with {t}")
            return


async def worker_main(a, users, barriers, go_at):
    import websockets  # noqa: imported here so `tokens` works without it
    conns = [Conn(u) for u, _ in users]
    sockets = [None] * len(users)
    gate = asyncio.Semaphore(64)   # connects in flight (the listen backlog is finite)
    payload = json.loads(a.input)

    async def connect(i, token):
        async with gate:
            url = f"{a.url}?after_seq=0&access_token={token}"
            for attempt in range(5):
                try:
                    sockets[i] = await websockets.connect(url, compression=None, proxy=None, ping_interval=None,
                                                          open_timeout=60, max_queue=None)
                    return
                except OSError as e:
                    if attempt == 4:
                        conns[i].problem(f"cannot connect: {e}")
                    await asyncio.sleep(0.2 * (attempt + 1))
                except Exception as e:
                    conns[i].problem(f"cannot connect: {e!r}")
                    return

    await asyncio.gather(*(connect(i, t) for i, (_, t) in enumerate(users)))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, barriers[0].wait, BARRIER_TIMEOUT)   # all connected
    await loop.run_in_executor(None, barriers[1].wait, BARRIER_TIMEOUT)   # go
    start = go_at.value
    await asyncio.sleep(max(0.0, start - time.time()))
    stop = time.monotonic() + a.duration

    async def drive(i):
        ws, c = sockets[i], conns[i]
        if ws is None:
            return
        n = 0
        # Paced (--rate): runs start on a fixed schedule, offset per connection; else closed loop.
        period = 1.0 / a.rate if a.rate > 0 else 0.0
        next_at = time.monotonic() + period * (i / max(1, len(users)))
        try:
            while time.monotonic() < stop:
                if period:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += period
                    if time.monotonic() >= stop:
                        break
                n += 1
                await one_run(ws, c, a.agent, payload, n, a.timeout)
        except Exception as e:
            c.problem(f"connection failed after {n} runs: {e!r}")

    await asyncio.gather(*(drive(i) for i in range(len(users))))
    ended = time.time()
    await loop.run_in_executor(None, barriers[2].wait, BARRIER_TIMEOUT)   # runs done, sockets open
    await loop.run_in_executor(None, barriers[3].wait, BARRIER_TIMEOUT)   # close now
    await asyncio.gather(*(s.close() for s in sockets if s is not None), return_exceptions=True)
    return conns, ended


def worker(a, users, barriers, go_at, out):
    try:
        conns, ended = asyncio.run(worker_main(a, users, barriers, go_at))
    except Exception as e:
        for b in barriers:
            b.abort()
        out.put({"fatal": repr(e)})
        return
    lat_ts = []
    for c in conns:
        for wall_ms, ts in c.lat_ts:
            try:
                t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000.0
                lat_ts.append((wall_ms - t) / 1000.0)
            except ValueError:
                c.problem(f"envelope ts {ts!r} is not RFC 3339")
    out.put({
        "ended": ended,
        "connections": sum(1 for c in conns if not any("cannot connect" in p for p in c.problems)),
        "problems": [p for c in conns for p in c.problems],
        "events": sum(c.events for c in conns),
        "started": sum(c.runs_started for c in conns),
        "runs": sum(c.runs_ended for c in conns),
        "refused": sum(c.refused for c in conns),
        "lat_send": [x for c in conns for x in c.lat_send],
        "lat_ts": lat_ts,
        "round_trip": [x for c in conns for x in c.round_trip],
    })


def cpu_seconds(pid):
    """User + system CPU seconds pid has used, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rss(pid):
    """(VmRSS, VmHWM) of pid in KiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            d = dict(line.split(":", 1) for line in f if ":" in line)
        return int(d["VmRSS"].split()[0]), int(d["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None


class RSSSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            r = rss(self.pid)
            if r:
                self.peak = max(self.peak, r[0])
            time.sleep(0.2)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def ms(x):
    return f"{x * 1000:.1f} ms" if x >= 0.01 else f"{x * 1000:.2f} ms"


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def scrape(url):
    """agentrt_events_emitted_total and agentrt_events_delivered_total from /metrics."""
    base = url.replace("ws://", "http://").rsplit("/v1/stream", 1)[0]
    try:
        text = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        for name in ("agentrt_events_emitted_total", "agentrt_events_delivered_total"):
            if line.startswith(name + " "):
                out[name] = float(line.split()[1])
    return out


def run(a):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.connections + 1024)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    with open(a.secrets) as f:
        users = json.load(f)[:a.connections]
    if len(users) < a.connections:
        sys.exit(f"bench-serve-ws: {a.secrets} has only {len(users)} users")
    procs = max(1, min(a.procs, len(users)))
    ctx = mp.get_context("fork")
    barriers = [ctx.Barrier(procs + 1) for _ in range(4)]
    go_at = ctx.Value("d", 0.0)
    out = ctx.Queue()
    slices = [users[i::procs] for i in range(procs)]
    before = rss(a.server_pid) if a.server_pid else None
    sampler = RSSSampler(a.server_pid) if a.server_pid else None
    if sampler:
        sampler.start()
    workers = [ctx.Process(target=worker, args=(a, s, barriers, go_at, out)) for s in slices]
    for w in workers:
        w.start()
    results, fatal = [], None
    try:
        t0 = time.time()
        barriers[0].wait(BARRIER_TIMEOUT)
        connect_s = time.time() - t0
        time.sleep(1.0)
        idle = rss(a.server_pid) if a.server_pid else None
        go_at.value = time.time() + 0.2
        barriers[1].wait(BARRIER_TIMEOUT)
        cpu0 = cpu_seconds(a.server_pid) if a.server_pid else None
        barriers[2].wait(BARRIER_TIMEOUT)
        cpu1 = cpu_seconds(a.server_pid) if a.server_pid else None
        busy = rss(a.server_pid) if a.server_pid else None
        metrics = scrape(a.url)
        barriers[3].wait(BARRIER_TIMEOUT)
    except Exception as e:   # a worker failed and broke the barriers
        fatal = f"barrier: {e!r}"
    for _ in workers:
        try:
            results.append(out.get(timeout=BARRIER_TIMEOUT))
        except Exception:
            fatal = fatal or "a worker sent no result"
    for w in workers:
        w.join(10)
    for r in results:
        if "fatal" in r:
            fatal = r["fatal"]
    if fatal:
        sys.exit(f"bench-serve-ws: FAIL: {fatal}")
    time.sleep(2.0)
    after = rss(a.server_pid) if a.server_pid else None
    if sampler:
        sampler.running = False

    problems = [p for r in results for p in r["problems"]]
    conns = sum(r["connections"] for r in results)
    runs = sum(r["runs"] for r in results)
    started = sum(r["started"] for r in results)
    events = sum(r["events"] for r in results)
    elapsed = max(r["ended"] for r in results) - go_at.value
    lat_send = [x for r in results for x in r["lat_send"]]
    lat_ts = [x for r in results for x in r["lat_ts"]]
    rt = [x for r in results for x in r["round_trip"]]
    if conns != a.connections:
        problems.append(f"{a.connections - conns} connections failed")
    if runs != started:
        problems.append(f"{started - runs} runs never reached a terminal event")
    checks = "all hold" if not problems else f"FAILED ({len(problems)} problems)"

    rows = [
        ("connections (each a distinct user)", f"{conns} (connected in {connect_s:.1f} s)"),
        ("client processes", f"{procs}"),
        ("agent", f"`{a.agent}` with `{a.input}`, "
                  + (f"{a.rate:g} run/s per connection (paced)" if a.rate > 0 else "one run in flight per connection (closed loop)")),
        ("runs completed", f"{runs} in {elapsed:.1f} s"),
        ("runs/s", f"{runs / elapsed:.0f}" if elapsed > 0 else "n/a"),
        ("events received", f"{events} ({events / elapsed:.0f}/s)" if elapsed > 0 else str(events)),
        ("event latency, envelope `ts` → client receive (1 ms resolution) p50 / p99",
         f"{ms(pct(lat_ts, 50))} / {ms(pct(lat_ts, 99))}"),
        ("event latency, client send of `run` → event receive p50 / p99",
         f"{ms(pct(lat_send, 50))} / {ms(pct(lat_send, 99))}"),
        ("run round trip, send of `run` → `agent_completed` p50 / p99", f"{ms(pct(rt, 50))} / {ms(pct(rt, 99))}"),
    ]
    if cpu0 is not None and cpu1 is not None and elapsed > 0:
        rows.append(("server CPU while running", f"{cpu1 - cpu0:.1f} s in {elapsed:.1f} s ({(cpu1 - cpu0) / elapsed:.2f} cores)"))
    if a.server_pid:
        rows += [
            ("server RSS before connecting", mib(before and before[0])),
            (f"server RSS, {conns} connections open, idle", mib(idle and idle[0])),
            ("server RSS peak while running (sampled / VmHWM)",
             f"{mib(sampler.peak)} / {mib(busy and busy[1])}"),
            ("server RSS after the clients closed", mib(after and after[0])),
        ]
    if metrics:
        rows.append(("server /metrics: events emitted / delivered",
                     f"{metrics.get('agentrt_events_emitted_total', 0):.0f} / "
                     f"{metrics.get('agentrt_events_delivered_total', 0):.0f}"))
    rows.append(("checks: contiguous seq, own user only, no gap, every run terminal", checks))
    print("| measure | value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    for p in problems[:20]:
        print(f"bench-serve-ws: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tokens", help="write a token file of N users and their tokens")
    t.add_argument("--users", type=int, default=1000)
    t.add_argument("--file", required=True)
    t.add_argument("--secrets", required=True)
    t.add_argument("--prefix", default="u")
    r = sub.add_parser("run", help="run the load")
    r.add_argument("--url", required=True)
    r.add_argument("--secrets", required=True)
    r.add_argument("--connections", type=int, default=1000)
    r.add_argument("--agent", default="basics.greet")
    r.add_argument("--input", default="{}")
    r.add_argument("--duration", type=float, default=20)
    r.add_argument("--procs", type=int, default=2)
    r.add_argument("--rate", type=float, default=0, help="runs/s per connection (0: closed loop)")
    r.add_argument("--timeout", type=float, default=60, help="longest wait for one frame")
    r.add_argument("--server-pid", type=int)
    a = p.parse_args()
    write_tokens(a) if a.cmd == "tokens" else run(a)


if __name__ == "__main__":
    main()
