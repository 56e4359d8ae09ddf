#!/usr/bin/env python3
"""A real (non-Swift) client of `agentrt serve`: runs an agent over the WebSocket, checks that
run_accepted comes before the run's events and that the stream ends with the run's terminal
event, then resumes from a seq on a new connection and checks the replay is contiguous.

    python3 tests/clients/ws_client.py --url ws://127.0.0.1:8480/v1/stream --token TOKEN \
        --agent PLUGIN.AGENT [--input JSON]

Exit status 0 when every check holds; the failing check is printed otherwise.
Needs the `websockets` package (pip install websockets).
"""
import argparse
import asyncio
import json
import sys

import websockets

TERMINAL = {"agent_completed", "agent_failed", "agent_cancelled"}


def fail(why):
    print(f"ws_client: FAIL: {why}", file=sys.stderr)
    sys.exit(1)


async def until_terminal(ws, run_id, timeout):
    """Messages up to the terminal event of run_id."""
    out = []
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        out.append(msg)
        if msg.get("type") in TERMINAL and msg.get("run_id") == run_id:
            return out


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="ws://127.0.0.1:8480/v1/stream")
    p.add_argument("--token", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--input", default="{}")
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()
    headers = {"Authorization": f"Bearer {a.token}"}

    async with websockets.connect(a.url, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "run", "agent": a.agent, "input": json.loads(a.input),
                                  "request_id": "py-1"}))
        first = json.loads(await asyncio.wait_for(ws.recv(), a.timeout))
        if first.get("type") != "run_accepted" or first.get("request_id") != "py-1":
            fail(f"expected run_accepted for py-1 first, got {first}")
        run_id = first["run_id"]
        events = await until_terminal(ws, run_id, a.timeout)
        seqs = [e["seq"] for e in events]
        if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
            fail(f"stream not contiguous: {seqs}")
        if events[0].get("type") != "agent_started":
            fail(f"first event of the run is {events[0].get('type')}")
        print(f"ws_client: run {run_id}: {len(events)} events, seq {seqs[0]}..{seqs[-1]}, "
              f"ended {events[-1]['type']}")

    # Resume on a new connection (token in the query, as a browser would) after the first event.
    sep = "&" if "?" in a.url else "?"
    url = f"{a.url}{sep}after_seq={seqs[0]}&access_token={a.token}"
    async with websockets.connect(url) as ws:
        replay = await until_terminal(ws, run_id, a.timeout)
        got = [e["seq"] for e in replay]
        if got != seqs[1:]:
            fail(f"resume after {seqs[0]} gave {got}, expected {seqs[1:]}")
        print(f"ws_client: resumed after seq {seqs[0]}: {len(got)} events, contiguous")
    print("ws_client: OK")


if __name__ == "__main__":
    asyncio.run(main())
