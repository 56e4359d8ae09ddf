#!/usr/bin/env python3
"""Drives the live page (GET /) in headless Chromium through the DevTools protocol: pastes a
token, connects, starts a run of an agent, and waits until `agent_completed` appears in the DOM.

    python3 tests/clients/live_page_test.py --base http://127.0.0.1:8480 --token TOKEN --agent basics.greet

Needs Debian's `chromium` and Python's `websockets`. Exit status 0 when the run shows as completed.
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("live_page_test: FAIL: chromium is not installed", file=sys.stderr)
        return 1
    port = free_port()
    profile = tempfile.mkdtemp()
    proc = subprocess.Popen([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + a.timeout
        target = None
        while time.time() < deadline and target is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as r:
                    target = next(t for t in json.load(r) if t.get("type") == "page")
            except Exception:
                await asyncio.sleep(0.2)
        if target is None:
            print("live_page_test: FAIL: no DevTools target", file=sys.stderr)
            return 1
        async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as cdp:
            seq = 0

            async def call(method, **params):
                nonlocal seq
                seq += 1
                my = seq
                await cdp.send(json.dumps({"id": my, "method": method, "params": params}))
                while True:
                    m = json.loads(await cdp.recv())
                    if m.get("id") == my:
                        return m

            async def js(expr):
                r = await call("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
                return r.get("result", {}).get("result", {}).get("value")

            await call("Page.enable")
            await call("Page.navigate", url=a.base + "/")
            while time.time() < deadline and await js("document.readyState") != "complete":
                await asyncio.sleep(0.1)
            await js(f"document.getElementById('token').value = {json.dumps(a.token)}; "
                     "document.getElementById('connect').click(); true")
            while time.time() < deadline and await js("document.getElementById('status').textContent") != "connected":
                await asyncio.sleep(0.1)
            await js(f"document.getElementById('agent').value = {json.dumps(a.agent)}; "
                     "document.getElementById('run').click(); true")
            while time.time() < deadline:
                text = await js("document.getElementById('runs').innerText") or ""
                if "agent_completed" in text:
                    done = await js("document.querySelectorAll('.run.done').length")
                    token_kept = await js("document.getElementById('token').value")
                    if done >= 1 and token_kept == "":
                        print("live_page_test: OK: agent_completed shown in the page; the token field was cleared")
                        return 0
                await asyncio.sleep(0.1)
            print("live_page_test: FAIL: no agent_completed in the page: "
                  + str(await js("document.body.innerText"))[:500], file=sys.stderr)
            return 1
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
