#!/usr/bin/env bash
# Builds agentrt and the example plugins, then loads and runs example agents.
#   ./examples/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building agentrt (swift build)"
swift build
echo "==> building the example C plugins with plain cc (make -C plugins)"
make -s -C plugins
AGENTRT=.build/debug/agentrt

echo; echo "==> agentrt load plugins/build/libbasics.so"
$AGENTRT load plugins/build/libbasics.so

echo "==> agentrt run: the C planner agent, which thinks and calls three tools"
$AGENTRT run plugins/build/libtextkit.so --agent planner --user alice \
    --input '{"text":"agents run behind guards"}' --format pretty

echo; echo "==> agentrt run: the Swift planner agent (built with AgentRTSDK)"
$AGENTRT run .build/debug/libSwiftPlannerPlugin.so --agent planner --user bob \
    --input '{"text":"one two three"}' --format pretty

echo; echo "==> agentrt call: a typed native tool (int64_t add(int64_t a, int64_t b)) through libffi"
$AGENTRT call plugins/build/libbasics.so add --user alice --args '{"a":2,"b":40}' | tail -1

echo; echo "==> the guards: a timeout, a heartbeat death, an open circuit breaker (non-zero exits expected)"
$AGENTRT run plugins/build/libguards.so --agent stubborn --user carol --input '{"ms":1500}' \
    --timeout 300ms --grace 200ms --format pretty || echo "   (exit $? = timeout)"
$AGENTRT run plugins/build/libguards.so --agent heartbeat --user dan \
    --input '{"ms":3000,"interval_ms":20,"silent_after_ms":100}' --heartbeat-timeout 200ms --grace 100ms \
    --format pretty || echo "   (exit $? = no_heartbeat)"
$AGENTRT run plugins/build/libguards.so --agent flaky --user erin --input '{"fail":true}' --repeat 12 \
    --format pretty 2>/dev/null | tail -4 || true

echo; echo "==> 100 users × 10 calls at once"
$AGENTRT run plugins/build/libbasics.so --agent echo --user user --input '{"hello":"world"}' --users 100 --repeat 10
