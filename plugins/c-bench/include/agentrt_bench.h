#ifndef AGENTRT_BENCH_H
#define AGENTRT_BENCH_H
#include <stdint.h>
/* The no-op function behind the typed tool bench.typed_noop, exported so `agentrt bench` can
 * call it directly as the floor of a call through a function pointer. */
int64_t agentrt_bench_direct_noop(int64_t x);
#endif
