#!/usr/bin/env bash
# The guarded no-op call from a C host (agentrt_run through libAgentRT.so, release build), on the
# caller's thread and handed off, on a quiet machine and while another process keeps one core
# busy, with 1 and 8 calling threads; then instructions per call under callgrind (the difference
# of two runs of different lengths, so start-up cost cancels). Prints a markdown table.
#   scripts/bench-c-host.sh [calls]
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-20000}
swift build -c release --product AgentRT >/dev/null
swift build -c release --product AgentRTBenchPlugin >/dev/null
products=$(swift build -c release --show-bin-path)
out=.build/bench-c-host
cc -O2 -std=c11 -I include bench/c_host_bench.c -L "$products" -lAgentRT -Wl,-rpath,"$products" -lpthread -o "$out"
plugin="$products/libAgentRTBenchPlugin.so"

row() {   # mode threads condition
    local line
    line=$("$out" "$plugin" "$calls" "$1" "$2")
    read -r mode threads n p50 p99 mean <<<"$line"
    printf '| %s | %s | %s | %s | %.2f µs | %.2f µs | %.2f µs |\n' "$mode" "$threads" "$3" "$n" \
        "$(echo "$p50/1000" | bc -l)" "$(echo "$p99/1000" | bc -l)" "$(echo "$mean/1000" | bc -l)"
}

echo "| execution | threads | machine | calls | p50 | p99 | mean |"
echo "|---|---|---|---|---|---|---|"
for threads in 1 8; do
    row caller "$threads" quiet
    row handoff "$threads" quiet
done
sh -c 'while :; do :; done' & hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
sleep 0.2
for threads in 1 8; do
    row caller "$threads" "busy (one core hogged)"
    row handoff "$threads" "busy (one core hogged)"
done
kill $hog; wait $hog 2>/dev/null || true
trap - EXIT

if command -v valgrind >/dev/null; then
    echo
    echo "| execution | instructions per guarded call (callgrind, all threads) |"
    echo "|---|---|"
    for mode in caller handoff; do
        ir() {
            valgrind --tool=callgrind --callgrind-out-file=/dev/null "$out" "$plugin" "$1" "$mode" 2>&1 \
                | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
        }
        a=$(ir 1000); b=$(ir 6000)
        echo "| $mode | $(( (b - a) / 5000 )) |"
    done
fi
