#!/usr/bin/env bash
# Runs the C hosts under valgrind and fails on any "definitely lost" block:
#   1. examples/c-host (4 users x 5 runs, a host tool, subscriptions), and
#   2. the memory check program (memcheck.c) on a small load: 2 rounds of runtime_new ...
#      runtime_free with 50 users x 4 runs, async and blocking, one subscription per user.
#   scripts/valgrind-host.sh            (CONFIG=release for the release library)
# "Possibly lost" and "still reachable" blocks (the Swift runtime's metadata caches) do not count;
# scripts/valgrind.supp says what may be suppressed. Logs: .build/valgrind/*.log.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-debug}
LIBDIR=$PWD/.build/$CONFIG
OUT=$PWD/.build/valgrind
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[ -f "$LIBDIR/libAgentRT.so" ] || swift build -c "$CONFIG" --product AgentRT
mkdir -p "$OUT"
make -s -C plugins build/libbasics.so
make -s -C examples/c-host "host-$CONFIG" CONFIG="$CONFIG"
cc -std=c11 -Wall -Wextra -O2 -I include Tests/AgentRTNativeTests/Fixtures/capi/memcheck.c \
    -L "$LIBDIR" -lAgentRT -Wl,-rpath,"$LIBDIR" -lpthread -o "$OUT/memcheck-$CONFIG"

flags=(--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=40
       --suppressions=scripts/valgrind.supp)
status=0
check() {   # check <name> <program> <args...>
    local name=$1; shift
    local log="$OUT/$name.log"
    if valgrind "${flags[@]}" --log-file="$log" "$@" > "$OUT/$name.out" 2>&1; then
        echo "ok   $name under valgrind: $(grep -h 'definitely lost:' "$log" | sed 's/^==[0-9]*== *//')"
    else
        echo "FAIL $name under valgrind (exit $?); last lines of its output and the leak report ($log):"
        tail -5 "$OUT/$name.out"
        # Each "definitely lost" record up to the blank line that ends it (its first 20 frames).
        sed 's/^==[0-9]*== //' "$log" \
            | awk '/definitely lost in loss record/ {on = 1; n = 0} on && /^ *$/ {on = 0; print ""} on && n++ < 21' \
            | { if command -v swift >/dev/null; then swift demangle --simplified; else cat; fi }
        sed -n 's/^==[0-9]*== //; /LEAK SUMMARY/,/suppressed:/p' "$log"
        status=1
    fi
}
check c-host "examples/c-host/host-$CONFIG" "$PWD/plugins/build/libbasics.so"
check memcheck "$OUT/memcheck-$CONFIG" "$PWD/plugins/build/libbasics.so" 50 4 2 4
exit $status
