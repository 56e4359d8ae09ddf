#!/usr/bin/env python3
"""Checks `agentrt mcp` with the official MCP Python SDK (PyPI `mcp`, 2.x), a client nobody here wrote.

Spawns `agentrt mcp` over stdio with the example plugins and checks: tools/list, a typed tool
call (structuredContent), a JSON tool, an agent call with progress notifications, a
cancellation (the run is cancelled in the runtime: the server's log notification says so),
bad arguments, an unknown tool. Exits non-zero on any failure; prints 'N passed, N failed'.

Usage: python3 tests/clients/mcp_stdio_client.py [--agentrt PATH] [--plugins DIR]
  --agentrt  the agentrt executable (default: .build/debug/agentrt)
  --plugins  folder with libbasics.so, libtextkit.so, libguards.so (default: plugins/build;
             built with `make -C plugins` when missing)
"""

import argparse
import json
import os
import subprocess
import sys
import traceback

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Generous bounds against a hang; nothing here depends on them for correctness.
CALL_TIMEOUT = 60.0


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


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--agentrt", default=os.path.join(ROOT, ".build", "debug", "agentrt"))
    parser.add_argument("--plugins", default=os.path.join(ROOT, "plugins", "build"))
    args = parser.parse_args()
    libs = [os.path.join(args.plugins, f"lib{n}.so") for n in ("basics", "textkit", "guards")]
    if not all(os.path.exists(p) for p in libs) and args.plugins == os.path.join(ROOT, "plugins", "build"):
        subprocess.run(["make", "-C", os.path.join(ROOT, "plugins")], check=True, stdout=sys.stderr)

    logs = []

    async def on_log(params):
        logs.append(params)

    checks = Checks()
    try:
        await run_checks(checks, args.agentrt, libs, logs, on_log)
    except Exception:  # noqa: BLE001 - the server could not be started or the session broke
        checks.failed += 1
        print("FAIL the MCP session itself", flush=True)
        traceback.print_exc()
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


async def run_checks(checks, agentrt, libs, logs, on_log):
    server = StdioServerParameters(command=agentrt, args=["mcp", *libs, "--user", "py-client"])
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, logging_callback=on_log,
                                 read_timeout_seconds=CALL_TIMEOUT) as session:
            await session.initialize()
            tools = {}

            async def tools_list():
                result = await session.list_tools()
                tools.update({t.name: t for t in result.tools})
                for name in ("basics.add", "basics.scale", "textkit.word_count", "textkit.agent.planner",
                             "guards.agent.cooperative"):
                    expect(name in tools, f"{name} missing from tools/list: {sorted(tools)}")
                add = tools["basics.add"]
                expect(add.input_schema.get("required") == ["a", "b"], f"add inputSchema: {add.input_schema}")
                expect(add.output_schema and add.output_schema.get("type") == "object",
                       f"add outputSchema: {add.output_schema}")
                planner = tools["textkit.agent.planner"]
                expect(planner.input_schema.get("required") == ["text"], f"planner inputSchema: {planner.input_schema}")

            async def typed_tool():
                # The SDK validates structuredContent against the advertised outputSchema.
                r = await session.call_tool("basics.add", {"a": 19, "b": 23})
                expect(not r.is_error, f"add failed: {text_of(r)}")
                expect(r.structured_content == {"result": 42}, f"structuredContent: {r.structured_content}")
                expect(json.loads(text_of(r)) == r.structured_content, f"text block: {text_of(r)}")

            async def json_tool():
                r = await session.call_tool("textkit.word_count", {"text": "one two three four"})
                expect(not r.is_error, f"word_count failed: {text_of(r)}")
                expect(4 in r.structured_content.values(), f"structuredContent: {r.structured_content}")

            async def agent_with_progress():
                progress = []

                async def on_progress(value, total, message):
                    progress.append((value, message))

                r = await session.call_tool("textkit.agent.planner", {"text": "hello from python"},
                                            progress_callback=on_progress)
                expect(not r.is_error, f"planner failed: {text_of(r)}")
                expect(isinstance(r.structured_content, dict), f"structuredContent: {r.structured_content}")
                types = [json.loads(m)["type"] for _, m in progress if m]
                expect("agent_thinking" in types, f"no agent_thinking progress: {types}")
                expect("tool_executing" in types and "tool_completed" in types, f"no tool progress: {types}")
                values = [v for v, _ in progress]
                expect(values == sorted(values) and len(set(values)) == len(values), f"progress not increasing: {values}")

            async def cancellation():
                # Abandoning the call (its cancel scope) makes the SDK send notifications/cancelled.
                started = len(logs)
                with anyio.move_on_after(1.0):
                    await session.call_tool("guards.agent.cooperative", {"ms": 60000})
                    raise AssertionError("the 60 s agent answered within 1 s")
                with anyio.fail_after(CALL_TIMEOUT):
                    while not any(isinstance(l.data, dict) and l.data.get("event") == "run_cancelled"
                                  for l in logs[started:]):
                        await anyio.sleep(0.02)
                entry = next(l.data for l in logs[started:] if isinstance(l.data, dict)
                             and l.data.get("event") == "run_cancelled")
                expect(entry.get("tool") == "guards.agent.cooperative", f"log: {entry}")
                expect(entry.get("status") == "cancelled", f"the run did not end cancelled: {entry}")

            async def bad_arguments():
                r = await session.call_tool("basics.add", {"a": "two", "b": 3})
                expect(r.is_error, "bad arguments were accepted")
                t = text_of(r) or ""
                expect(t.startswith("bad_arguments:") and 'argument "a"' in t and "expected integer" in t,
                       f"text does not name the argument and reason: {t}")

            async def unknown_tool():
                r = await session.call_tool("basics.subtract", {})
                expect(r.is_error and (text_of(r) or "").startswith("unknown tool"), f"unknown tool: {text_of(r)}")

            await checks.run("tools/list", tools_list)
            await checks.run("typed tool (structuredContent)", typed_tool)
            await checks.run("JSON tool", json_tool)
            await checks.run("agent with progress notifications", agent_with_progress)
            await checks.run("cancellation", cancellation)
            await checks.run("bad arguments", bad_arguments)
            await checks.run("unknown tool", unknown_tool)


if __name__ == "__main__":
    sys.exit(anyio.run(main))
