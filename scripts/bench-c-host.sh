#!/usr/bin/env bash
# The guarded no-op call from a C host (agentrt_run through libAgentRT.so, release build), on the
# caller's thread and handed off, on a quiet machine and while another process keeps one core
# busy, with 1 and 8 calling threads; then instructions per call, per emit and per tool call
# under callgrind (the difference of two runs of different lengths, so start-up cost cancels).
# Prints markdown tables.
#
#   scripts/bench-c-host.sh [calls] [baseline-release-dir]
#
# This VM's speed changes by up to 1.6x from minute to minute (other tenants), so every row is
# run 5 times and reported as the median and the best of the 5 p50s. With a baseline (the
# release products folder of another checkout, e.g. an earlier commit built with
# `swift build -c release --product AgentRT --product AgentRTBenchPlugin`), its runs alternate
# with this build's, so both see the same machine: the ratio is the figure to read.
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-20000}
baseline=${2:-}
reps=5
swift build -c release --product AgentRT >/dev/null
swift build -c release --product AgentRTBenchPlugin >/dev/null
products=$(swift build -c release --show-bin-path)
build_host() {   # out libdir
    cc -O2 -std=c11 -I include bench/c_host_bench.c -L "$2" -lAgentRT -Wl,-rpath,"$2" -lpthread -o "$1"
}
build_host .build/bench-c-host "$products"
builds=(".build/bench-c-host:$products:this build")
if [ -n "$baseline" ]; then
    build_host .build/bench-c-host-baseline "$baseline"
    builds+=(".build/bench-c-host-baseline:$baseline:baseline")
fi

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
us() { echo "$1" | awk '{printf "%.2f µs", $1/1000}'; }

rows() {   # condition
    for threads in 1 8; do
        for mode in caller handoff; do
            declare -A p50s=() p99s=()
            for _ in $(seq $reps); do
                for b in "${builds[@]}"; do
                    IFS=: read -r exe lib name <<<"$b"
                    read -r _ _ _ p50 p99 _ <<<"$("$exe" "$lib/libAgentRTBenchPlugin.so" "$calls" "$mode" "$threads")"
                    p50s[$name]+="$p50 "
                    p99s[$name]+="$p99 "
                done
            done
            for b in "${builds[@]}"; do
                IFS=: read -r _ _ name <<<"$b"
                m=$(echo ${p50s[$name]} | tr ' ' '\n' | median)
                best=$(echo ${p50s[$name]} | tr ' ' '\n' | sort -n | head -1)
                p99=$(echo ${p99s[$name]} | tr ' ' '\n' | median)
                echo "| $name | $mode | $threads | $1 | $(us "$m") | $(us "$best") | $(us "$p99") |"
            done
        done
    done
}

echo "| build | execution | threads | machine | p50 (median of $reps) | p50 (best of $reps) | p99 (median) |"
echo "|---|---|---|---|---|---|---|"
rows quiet
sh -c 'while :; do :; done' & hog=$!
trap 'kill $hog 2>/dev/null || true' EXIT
sleep 0.2
rows "busy (one core hogged)"
kill $hog; wait $hog 2>/dev/null || true
trap - EXIT

if command -v valgrind >/dev/null; then
    ir() {   # exe lib calls mode agent input
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2/libAgentRTBenchPlugin.so" "$3" "$4" 1 "$5" "$6" 2>&1 \
            | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    echo
    echo "| build | instructions (callgrind, all threads) | per |"
    echo "|---|---|---|"
    for b in "${builds[@]}"; do
        IFS=: read -r exe lib name <<<"$b"
        for mode in caller handoff; do
            a=$(ir "$exe" "$lib" 1000 "$mode" noop '{}'); c=$(ir "$exe" "$lib" 6000 "$mode" noop '{}')
            echo "| $name | $(( (c - a) / 5000 )) | guarded no-op call ($mode) |"
        done
        # The agents below take a count: the runs differ only in how many events / tool calls
        # each of their 2,200 calls (2,000 warm-up + 200) makes.
        for agent in emit json_tools typed_tools; do
            a=$(ir "$exe" "$lib" 200 caller "$agent" 0); c=$(ir "$exe" "$lib" 200 caller "$agent" 50)
            what=$([ "$agent" = emit ] && echo "emit (one event)" || echo "${agent%s} call from an agent")
            echo "| $name | $(( (c - a) / (2200 * 50) )) | ${what/_/ } |"
        done
    done
fi
