#!/usr/bin/env bash
# End to end with real clients: `agentrt token add`, `agentrt serve` on a free loopback port,
# curl for HTTP and SSE, the Python WebSocket client (tests/clients/ws_client.py), then SIGTERM:
# the server drains and exits 0. Needs .build/debug/agentrt, plugins/build/libbasics.so
# (make -C plugins), curl, and Python's `websockets`; schemathesis (PyPI) checks the served
# OpenAPI document against the server, and headless Chromium drives the live page, each when
# installed (required when CI=true).
set -euo pipefail
cd "$(dirname "$0")/../.."
A=.build/debug/agentrt
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
base="http://127.0.0.1:$port"

TOKEN=$($A token add --tokens "$work/tokens" --user alice)
BOB=$($A token add --tokens "$work/tokens" --user bob)
[ "$(stat -c %a "$work/tokens")" = 600 ] || { echo "token file is not 0600"; exit 1; }
grep -q "$TOKEN" "$work/tokens" && { echo "the token file holds a token"; exit 1; }

$A serve --listen "127.0.0.1:$port" --tokens "$work/tokens" plugins/build/libbasics.so 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

passed=0
fail() { echo "serve_smoke: FAIL: $*"; cat "$work/serve.log"; echo "$passed passed, 1 failed"; exit 1; }
check() { [ "$2" = "$3" ] || fail "$1: got $2, expected $3"; passed=$((passed + 1)); }
ok() { passed=$((passed + 1)); }

check "no token" "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/agents")" 401
check "agents" "$(curl -s -H "Authorization: Bearer $TOKEN" "$base/v1/agents" | python3 -c 'import json,sys; print(",".join(a["name"] for a in json.load(sys.stdin)["agents"]))')" "basics.delegate,basics.echo,basics.greet"
out=$(curl -s -H "Authorization: Bearer $TOKEN" -d '{"agent":"basics.echo","input":{"hi":1},"wait":true}' "$base/v1/runs")
check "run with wait" "$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["status"], d["result"])')" "ok {'hi': 1}"
run=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
check "bob reads alice's run" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" "$base/v1/runs/$run")" 404
check "unknown agent" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -d '{"agent":"basics.nope"}' "$base/v1/runs")" 404

# SSE: replay from the start of alice's stream up to the run's terminal event.
curl -sN --max-time 5 "$base/v1/events?after_seq=0&access_token=$TOKEN" >"$work/sse" || true
grep -q '^event: agent_completed$' "$work/sse" || fail "SSE has no agent_completed: $(head -c 500 "$work/sse")"
grep -q '^id: 1$' "$work/sse" || fail "SSE does not start at seq 1"
ok

python3 tests/clients/ws_client.py --url "ws://127.0.0.1:$port/v1/stream" --token "$TOKEN" \
    --agent basics.greet --input '{}' || fail "the Python WebSocket client"
ok

curl -sf "$base/metrics" | grep -q '^agentrt_runs_total{agent="basics.echo",outcome="ok"} 1$' || fail "metrics"
ok

need() { command -v "$1" >/dev/null && return 0; [ "${CI:-}" = true ] && fail "$1 is not installed"; echo "serve_smoke: skipping $2 ($1 not installed)"; return 1; }
if need schemathesis "the OpenAPI check"; then
    # unsupported_method: an undeclared method on a known path is 404 here (the router's), not 405;
    # positive_data_acceptance: a schema-valid run of an agent that is not loaded is rightly 404.
    # /mcp is left out: it is a session protocol (initialize first, then Mcp-Session-Id) whose
    # bodies are JSON-RPC; schemathesis cannot hold a session, and the official MCP client
    # checks /mcp instead (tests/clients/mcp_http_client.py, run by .ci/run).
    (cd "$work" && schemathesis run "$base/openapi.json" -H "Authorization: Bearer $TOKEN" --max-examples 15 \
        --exclude-path /v1/events --exclude-path /v1/stream --exclude-path /mcp \
        --exclude-checks unsupported_method,positive_data_acceptance) >"$work/schemathesis.log" 2>&1 \
        || { tail -40 "$work/schemathesis.log"; fail "schemathesis"; }
    ok
fi
if need chromium "the live page test"; then
    python3 tests/clients/live_page_test.py --base "$base" --token "$TOKEN" --agent basics.greet || fail "the live page"
    ok
fi


kill -TERM "$pid"
status=0; wait "$pid" || status=$?
pid=
check "exit status after SIGTERM" "$status" 0
grep -q "draining" "$work/serve.log" || fail "no drain logged"
ok
echo "serve_smoke: $passed passed, 0 failed"
