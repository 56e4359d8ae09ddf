#!/usr/bin/env bash
# The load test of `agentrt serve` (a benchmark, not a timed test): N concurrent WebSocket
# clients on loopback, each a distinct user running agents (scripts/bench-serve-ws.py). Prints a
# markdown table; exits non-zero when a stream check fails (a gap in seq, another user's event,
# a run without a terminal event).
#
#   scripts/bench-serve.sh [--connections 1000] [--duration 20] [--procs 2] [--rate R] [--debug]
#
# --rate R paces each connection at R runs/s (latency below saturation); without it every
# connection keeps one run in flight (closed loop: throughput, and latency at saturation).
#
# Builds release (`swift build -c release --product agentrt`) unless --debug, which uses the
# existing .build/debug/agentrt (CI's quick correctness run). Needs Python's `websockets`.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=1000 duration=20 procs=2 rate=0 config=release
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) connections=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --procs) procs=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --debug) config=debug; shift ;;
        *) echo "usage: $0 [--connections N] [--duration S] [--procs P] [--rate R] [--debug]" >&2; exit 2 ;;
    esac
done
[ "$config" = release ] && swift build -c release --product agentrt >&2
make -s -C plugins >&2
A=.build/$config/agentrt
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
python3 scripts/bench-serve-ws.py tokens --users "$connections" --file "$work/tokens" --secrets "$work/secrets.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# A global limit above the connection count: every connection keeps one run in flight.
$A serve --listen "127.0.0.1:$port" --tokens "$work/tokens" --global-limit $((connections + 64)) \
    --log-level warn plugins/build/libbasics.so 2>"$work/serve.log" &
pid=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/serve.log"; echo "the server did not start" >&2; exit 1; }

echo "agentrt serve ($config), $connections connections for ${duration} s, $(nproc) cores, $(date -u +%Y-%m-%d)" >&2
status=0
python3 scripts/bench-serve-ws.py run --url "ws://127.0.0.1:$port/v1/stream" --secrets "$work/secrets.json" \
    --connections "$connections" --duration "$duration" --procs "$procs" --rate "$rate" --server-pid "$pid" || status=$?
kill -TERM "$pid"
wait "$pid" || { echo "agentrt serve exited non-zero after SIGTERM" >&2; tail -20 "$work/serve.log" >&2; status=1; }
pid=
if [ "$status" -ne 0 ]; then tail -20 "$work/serve.log" >&2; fi
exit "$status"
