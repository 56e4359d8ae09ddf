#!/usr/bin/env bash
# Builds and runs the embedding memory/thread check (Tests/AgentRTNativeTests/Fixtures/capi/memcheck.c)
# against libAgentRT.so, printing the heap in use and the thread count after each round.
#   scripts/memcheck.sh [users [runs [rounds [threads]]]]      (defaults 1000 10 3 8)
#   CONFIG=release scripts/memcheck.sh                         (after swift build -c release)
# Exit status: memcheck's (0 pass, 1 a stream, heap or thread rule failed; see memcheck.c).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=${CONFIG:-debug}
LIBDIR=$PWD/.build/$CONFIG
OUT=$PWD/.build/memcheck
[ -f "$LIBDIR/libAgentRT.so" ] || swift build -c "$CONFIG" --product AgentRT
mkdir -p "$OUT"
make -s -C plugins build/libbasics.so
cc -std=c11 -Wall -Wextra -O2 -I include Tests/AgentRTNativeTests/Fixtures/capi/memcheck.c \
    -L "$LIBDIR" -lAgentRT -Wl,-rpath,"$LIBDIR" -lpthread -o "$OUT/memcheck-$CONFIG"
exec "$OUT/memcheck-$CONFIG" "$PWD/plugins/build/libbasics.so" "$@"
