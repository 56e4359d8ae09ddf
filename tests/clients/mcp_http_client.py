#!/usr/bin/env python3
"""Checks `/mcp` on a running `agentrt serve` with the official MCP Python SDK (PyPI `mcp`, 2.x).

Two users (two bearer tokens) each open a Streamable HTTP session at the same time; the checks:
tools/list, a typed tool call (structuredContent), an agent call with progress notifications, a
cancellation (the run ends cancelled in the runtime), bad arguments, no token (401), another
user's session id (404), and neither user sees the other's runs (GET /v1/runs/{id}). Exits
non-zero on any failure; prints 'N passed, N failed'.

Without --base it starts the server itself, the way tests/clients/serve_smoke.sh does: two fresh
tokens (`agentrt token add`), `agentrt serve` on a free loopback port with the example plugins,
then SIGTERM at the end (it must drain and exit 0). With --base it uses a running server, which
must have libbasics.so, libtextkit.so and libguards.so loaded.

Usage: python3 tests/clients/mcp_http_client.py [--agentrt PATH] [--plugins DIR]
       python3 tests/clients/mcp_http_client.py --base http://127.0.0.1:PORT --token A --other-token B
"""

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Generous bounds against a hang; nothing here depends on them for correctness.
CALL_TIMEOUT = 60.0
RUN_ID_META = "agentrt/run_id"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    async def run(self, name, body):
        try:
            await body()
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            self.failed += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def text_of(result):
    return next((c.text for c in result.content if getattr(c, "type", None) == "text"), None)


def http_client(token):
    return httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                              timeout=httpx2.Timeout(30.0, read=300.0))


class User:
    """One user's MCP session over Streamable HTTP, and what it saw."""

    def __init__(self, name, base, token):
        self.name = name
        self.base = base
        self.token = token
        self.logs = []
        self.run_ids = []

    async def on_log(self, params):
        self.logs.append(params)

    async def run_state(self, run_id, token=None):
        """GET /v1/runs/{id} with this user's token (or another): (status, json)."""
        async with http_client(token or self.token) as c:
            r = await c.get(f"{self.base}/v1/runs/{run_id}")
            return r.status_code, (r.json() if r.headers.get("content-type", "").startswith("application/json") else None)


async def user_checks(checks, user, session):
    async def tools_list():
        result = await session.list_tools()
        tools = {t.name: t for t in result.tools}
        for name in ("basics.add", "textkit.agent.planner", "guards.agent.cooperative"):
            expect(name in tools, f"{name} missing from tools/list: {sorted(tools)}")
        add = tools["basics.add"]
        expect(add.input_schema.get("required") == ["a", "b"], f"add inputSchema: {add.input_schema}")
        expect(add.output_schema and add.output_schema.get("type") == "object", f"add outputSchema: {add.output_schema}")

    async def typed_tool():
        # The SDK validates structuredContent against the advertised outputSchema.
        r = await session.call_tool("basics.add", {"a": 19, "b": 23})
        expect(not r.is_error, f"add failed: {text_of(r)}")
        expect(r.structured_content == {"result": 42}, f"structuredContent: {r.structured_content}")
        expect(json.loads(text_of(r)) == r.structured_content, f"text block: {text_of(r)}")

    async def agent_with_progress():
        progress = []

        async def on_progress(value, total, message):
            progress.append((value, message))

        text = f"hello from {user.name}"
        r = await session.call_tool("textkit.agent.planner", {"text": text}, progress_callback=on_progress)
        expect(not r.is_error, f"planner failed: {text_of(r)}")
        expect(isinstance(r.structured_content, dict), f"structuredContent: {r.structured_content}")
        run_id = (r.meta or {}).get(RUN_ID_META)
        expect(isinstance(run_id, str) and run_id.startswith("mcp_"), f"no run id in _meta: {r.meta}")
        user.run_ids.append(run_id)
        events = [json.loads(m) for _, m in progress if m]
        types = [e["type"] for e in events]
        expect("agent_thinking" in types, f"no agent_thinking progress: {types}")
        expect("tool_executing" in types and "tool_completed" in types, f"no tool progress: {types}")
        expect(all(e.get("user_id", user.name) == user.name for e in events), f"another user's events: {events}")
        expect(all(run_id in (e.get("run_id"), e.get("parent_run_id")) for e in events), f"another run's events: {events}")
        values = [v for v, _ in progress]
        expect(values == sorted(values) and len(set(values)) == len(values), f"progress not increasing: {values}")
        status, state = await user.run_state(run_id)
        expect(status == 200 and state.get("status") == "ok", f"own run {run_id}: {status} {state}")

    async def cancellation():
        # Abandoning the call (its cancel scope) makes the SDK send notifications/cancelled.
        started = len(user.logs)
        with anyio.move_on_after(1.0):
            await session.call_tool("guards.agent.cooperative", {"ms": 60000})
            raise AssertionError("the 60 s agent answered within 1 s")
        with anyio.fail_after(CALL_TIMEOUT):
            while not any(isinstance(entry.data, dict) and entry.data.get("event") == "run_cancelled"
                          for entry in user.logs[started:]):
                await anyio.sleep(0.02)
        entry = next(entry.data for entry in user.logs[started:] if isinstance(entry.data, dict)
                     and entry.data.get("event") == "run_cancelled")
        expect(entry.get("tool") == "guards.agent.cooperative", f"log: {entry}")
        expect(entry.get("status") == "cancelled", f"the run did not end cancelled: {entry}")
        user.run_ids.append(entry["run_id"])
        status, state = await user.run_state(entry["run_id"])
        expect(status == 200 and state.get("status") == "cancelled", f"cancelled run: {status} {state}")

    async def bad_arguments():
        r = await session.call_tool("basics.add", {"a": "two", "b": 3})
        expect(r.is_error, "bad arguments were accepted")
        t = text_of(r) or ""
        expect(t.startswith("bad_arguments:") and 'argument "a"' in t and "expected integer" in t,
               f"text does not name the argument and reason: {t}")

    await checks.run(f"{user.name}: tools/list", tools_list)
    await checks.run(f"{user.name}: typed tool (structuredContent)", typed_tool)
    await checks.run(f"{user.name}: agent with progress notifications", agent_with_progress)
    await checks.run(f"{user.name}: cancellation", cancellation)
    await checks.run(f"{user.name}: bad arguments", bad_arguments)


async def with_session(user, body):
    async with http_client(user.token) as client:
        async with streamable_http_client(f"{user.base}/mcp", http_client=client) as (read, write):
            async with ClientSession(read, write, logging_callback=user.on_log,
                                     read_timeout_seconds=CALL_TIMEOUT) as session:
                await session.initialize()
                await body(session)


@contextlib.contextmanager
def served(agentrt, plugins):
    """`agentrt serve` on a free loopback port with two users' tokens: (base, alice, bob)."""
    libs = [os.path.join(plugins, f"lib{n}.so") for n in ("basics", "textkit", "guards")]
    if not all(os.path.exists(p) for p in libs):
        subprocess.run(["make", "-C", os.path.join(ROOT, "plugins")], check=True, stdout=sys.stderr)
    with tempfile.TemporaryDirectory() as work:
        tokens = os.path.join(work, "tokens")
        alice, bob = (subprocess.run([agentrt, "token", "add", "--tokens", tokens, "--user", u], check=True,
                                     capture_output=True, text=True).stdout.strip() for u in ("alice", "bob"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(os.path.join(work, "serve.log"), "w+")
        server = subprocess.Popen([agentrt, "serve", "--listen", f"127.0.0.1:{port}", "--tokens", tokens, *libs],
                                  stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if server.poll() is not None:
                        raise RuntimeError("agentrt serve exited at start")
                    time.sleep(0.1)
            yield base, alice, bob
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                status = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                status = "killed after 60 s"
            if status != 0:
                log.seek(0)
                sys.stderr.write(log.read())
                raise RuntimeError(f"agentrt serve did not drain and exit 0 after SIGTERM: {status}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", help="a running server (default: start one)")
    parser.add_argument("--token")
    parser.add_argument("--other-token")
    parser.add_argument("--agentrt", default=os.path.join(ROOT, ".build", "debug", "agentrt"))
    parser.add_argument("--plugins", default=os.path.join(ROOT, "plugins", "build"))
    args = parser.parse_args()
    if args.base:
        if not (args.token and args.other_token):
            parser.error("--base needs --token and --other-token")
        return await check_server(args.base, args.token, args.other_token)
    with served(args.agentrt, args.plugins) as (base, alice, bob):
        return await check_server(base, alice, bob)


async def check_server(base, token, other_token):
    alice = User("alice", base, token)
    bob = User("bob", base, other_token)
    checks = Checks()

    async def no_token():
        async with httpx2.AsyncClient() as c:
            r = await c.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                             headers={"Accept": "application/json, text/event-stream"})
        expect(r.status_code == 401, f"no token: {r.status_code}")
        expect(r.json()["error"]["code"] == "unauthorized", f"error body: {r.text}")

    async def sessions_of_both_users():
        # Both users at once, each in their own session.
        async with anyio.create_task_group() as tg:
            for u in (alice, bob):
                tg.start_soon(with_session, u, lambda s, u=u: user_checks(checks, u, s))

    async def neither_sees_the_others_runs():
        expect(alice.run_ids and bob.run_ids, f"no runs to compare: {alice.run_ids} {bob.run_ids}")
        for owner, other in ((alice, bob), (bob, alice)):
            for run_id in owner.run_ids:
                status, _ = await owner.run_state(run_id)
                expect(status == 200, f"{owner.name} cannot read their own run {run_id}: {status}")
                status, body = await owner.run_state(run_id, token=other.token)
                expect(status == 404, f"{other.name} reads {owner.name}'s run {run_id}: {status} {body}")

    async def other_users_session():
        # Alice presenting bob's live session id gets 404, exactly as for an id that never existed.
        sse = {"Accept": "application/json, text/event-stream"}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        async with http_client(bob.token) as c:
            init = await c.post(f"{base}/mcp", headers=sse, json={
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": "probe", "version": "1"}}})
            session_id = init.headers.get("mcp-session-id")
            expect(init.status_code == 200 and session_id, f"initialize: {init.status_code} {init.text}")
            try:
                async with http_client(alice.token) as a:
                    theirs = await a.post(f"{base}/mcp", headers={**sse, "Mcp-Session-Id": session_id}, json=listing)
                    fake = await a.post(f"{base}/mcp", headers={**sse, "Mcp-Session-Id": "f" * 32}, json=listing)
                    gone = await a.delete(f"{base}/mcp", headers={"Mcp-Session-Id": session_id})
                own = await c.post(f"{base}/mcp", headers={**sse, "Mcp-Session-Id": session_id}, json=listing)
            finally:
                await c.delete(f"{base}/mcp", headers={"Mcp-Session-Id": session_id})
        expect(theirs.status_code == 404 and fake.status_code == 404 and gone.status_code == 404,
               f"statuses {theirs.status_code} {fake.status_code} {gone.status_code}")
        expect(theirs.json() == fake.json(), f"another user's session is told apart: {theirs.text} vs {fake.text}")
        expect(own.status_code == 200 and "basics.add" in own.text, f"bob's own session: {own.status_code} {own.text}")

    await checks.run("no token: 401 in the API's error format", no_token)
    try:
        await sessions_of_both_users()
    except Exception:  # noqa: BLE001 - a session could not be opened or broke
        checks.failed += 1
        print("FAIL the MCP sessions themselves", flush=True)
        traceback.print_exc()
    await checks.run("neither user sees the other's runs", neither_sees_the_others_runs)
    await checks.run("another user's session id is 404", other_users_session)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(anyio.run(main))
