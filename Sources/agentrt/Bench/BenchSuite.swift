import AgentRTCore
import AgentRTNative
import CFFI
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Every row of `agentrt bench`, measured in one process.
final class BenchSuite: @unchecked Sendable {
    let runtime: Runtime
    let quick: Bool
    let rounds: Int
    let direct: @convention(c) (Int64) -> Int64
    let typed: TypedTool
    let userRequest: RunRequest?
    let only: String?
    let benchPluginPath: String
    let busy: Bool

    init(benchPluginPath: String, quick: Bool, rounds: Int?, userPlugin: String?, userAgent: String?,
         userInput: String, only: String? = nil, busy: Bool = false) throws {
        self.only = only
        self.busy = busy
        self.benchPluginPath = benchPluginPath
        var config = Runtime.Configuration()
        config.perUserLimit = 4
        config.globalLimit = 4096
        config.replayCapacity = 65_536
        config.replayBytes = 64 << 20   // the emit rows' 20,000 events stay in the buffer (no stream_gap)
        runtime = Runtime(configuration: config)
        self.quick = quick
        self.rounds = rounds ?? (quick ? 3 : 15)
        let plugin = try runtime.load(path: benchPluginPath)
        guard let handle = dlopen(benchPluginPath, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(benchPluginPath, RTLD_NOW),
              let sym = dlsym(handle, "agentrt_bench_direct_noop") else {
            throw BenchError("the bench plugin does not export agentrt_bench_direct_noop")
        }
        direct = unsafeBitCast(sym, to: (@convention(c) (Int64) -> Int64).self)
        guard let t = plugin.tool(named: "typed_noop")?.typed else { throw BenchError("bench.typed_noop missing") }
        typed = t
        if let userPlugin, let userAgent {
            let p = try runtime.load(path: userPlugin)
            userRequest = RunRequest(plugin: p.name, agent: userAgent, userID: "bench-own", input: userInput)
        } else {
            userRequest = nil
        }
    }

    struct BenchError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Times `body` run `count` times; returns ns per operation.
    @inline(__always)
    func batch(_ count: Int, _ body: () -> Void) -> Double {
        let t0 = MonotonicTime.nanos()
        for _ in 0..<count { body() }
        return Double(MonotonicTime.nanos() - t0) / Double(count)
    }

    /// Times each of `count` operations separately.
    func each(_ count: Int, _ body: () -> Void) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let t0 = MonotonicTime.nanos()
            body()
            out.append(Double(MonotonicTime.nanos() - t0))
        }
        return out
    }

    private let reported = Atomic<Bool>(false)

    /// Runs a guarded call; a failure is reported once on stderr (the row would be meaningless).
    @inline(__always)
    func mustRun(_ r: RunRequest) {
        let result = runtime.runBlocking(r)
        if !result.isSuccess, !reported.exchange(true, ordering: .relaxed) {
            printError("bench: \(r.plugin).\(r.agent) failed: \(result.error!)")
        }
    }

    func request(_ agent: String, user: String = "bench-user", input: String = "{}") -> RunRequest {
        RunRequest(plugin: "bench", agent: agent, userID: user, input: input)
    }

    func runAll() -> [BenchRow] {
        let perRound = quick ? 200 : 2000
        let dispatchHandOff = Baselines.DispatchHandOff(direct)
        let condvar = Baselines.CondvarHandOff(direct)
        defer { condvar.shutdown() }
        let noop = request("noop")
        let subscribed = request("noop", user: "bench-subscribed")
        let received = Atomic<Int>(0)
        let subscription = runtime.events.subscribe(userID: "bench-subscribed") { _ in received.add(1, ordering: .relaxed) }
        defer { subscription.cancel() }
        let argsJSON = "{\"x\":7}"
        let toolCalls = quick ? 100 : 1000

        // Ordered as printed; each closure measures one batch and returns samples.
        var rows: [(BenchRow, () -> [Double])] = [
            (BenchRow(name: "direct call through the plugin's function pointer", unit: .latency, baseline: nil),
             { [direct] in [self.batch(100_000) { _ = direct(1) }] }),
            (BenchRow(name: "prepared ffi_call (typed tool floor)", unit: .latency, baseline: nil),
             { [typed] in
                 let args = try! typed.convertArguments(try! JSONValue.parse(argsJSON))
                 return [self.batch(20_000) { _ = try! typed.call(args) }]
             }),
            (BenchRow(name: "ffi_call + argument conversion from JSON", unit: .latency, baseline: nil),
             { [typed] in [self.batch(5_000) { _ = try! typed.call(typed.convertArguments(try! JSONValue.parse(argsJSON))) }] }),
            (BenchRow(name: "DispatchQueue + semaphore hand-off (baseline)", unit: .latency, baseline: nil),
             { self.each(perRound / 4) { _ = dispatchHandOff.call() } }),
            (BenchRow(name: "pthread condvar hand-off (baseline)", unit: .latency, baseline: nil),
             { self.each(perRound / 4) { condvar.call() } }),
            (BenchRow(name: "guarded call, no subscriber", unit: .latency, baseline: "DispatchQueue + semaphore hand-off (baseline)"),
             { self.each(perRound) { self.mustRun(noop) } }),
            (BenchRow(name: "guarded call, caller's thread (no hand-off)", unit: .latency, baseline: "guarded call, no subscriber"),
             { let r = self.callerThreadRequest("bench-caller"); return self.each(perRound) { self.mustRun(r) } }),
            (BenchRow(name: "guarded call, one subscriber reading", unit: .latency, baseline: "DispatchQueue + semaphore hand-off (baseline)"),
             { self.each(perRound) { self.mustRun(subscribed) } }),
            (BenchRow(name: "JSON tool call from an agent (overhead per call)", unit: .latency, baseline: nil),
             { [self.toolOverhead("json_tools", calls: toolCalls)] }),
            (BenchRow(name: "typed tool call from an agent (per call)", unit: .latency,
                      baseline: "ffi_call + argument conversion from JSON"),
             { [self.toolOverhead("typed_tools", calls: toolCalls)] }),
            (BenchRow(name: "emit into the bus, no subscriber (per event)", unit: .throughput(label: "events/s"), baseline: nil),
             { [self.emitCost(user: "bench-emit", events: self.quick ? 2_000 : 20_000)] }),
            (BenchRow(name: "emit delivered to a subscriber (per event)", unit: .throughput(label: "events/s"), baseline: nil),
             { [self.emitDelivered(events: self.quick ? 2_000 : 20_000)] }),
            (BenchRow(name: "user session open + close", unit: .latency, baseline: "guarded call, no subscriber"),
             { self.sessionOpenClose(self.quick ? 50 : 300) }),
        ]
        if let own = userRequest {
            rows.append((BenchRow(name: "your agent \(own.plugin).\(own.agent)", unit: .latency,
                                  baseline: "guarded call, no subscriber"),
                         { self.each(perRound / 2) { self.mustRun(own) } }))
        }
        if let only {
            // Keep the chosen rows and the baselines they are compared with.
            let chosen = rows.filter { $0.0.name.contains(only) }
            let baselines = Set(chosen.compactMap { $0.0.baseline })
            rows = rows.filter { $0.0.name.contains(only) || baselines.contains($0.0.name) }
        }
        // Warm-up: threads started, caches and code paths hot.
        for (_, body) in rows { _ = body() }
        for _ in 0..<rounds {
            for i in rows.indices { rows[i].0.samples += rows[i].1() }
        }
        var result = rows.map(\.0)
        let wanted = { (name: String) in self.only.map { name.contains($0) } ?? true }
        if wanted("throughput") { result += concurrencyRows() }
        if wanted("sustained") {
            result.append(sustainedLatencyRow())
            var eight = sustainedLatencyRow(onCallerThread: true)
            eight = BenchRow(name: "guarded call on the caller's thread, 8 callers", unit: .latency,
                             baseline: "guarded call under sustained load (8 callers)", samples: eight.samples)
            result.append(eight)
        }
        if wanted("async") { result.append(asyncRow(users: 100)); result.append(asyncRow(users: 100, agent: "prompt")) }
        if busy { result += busyRows() }
        if wanted("RSS") || wanted("heap") { result.append(rssRow()) }
        if wanted("isolated") { result += isolationRows(benchPluginPath: benchPluginPath) }
        _ = received.load(ordering: .relaxed)
        return result
    }

    /// Per-tool-call cost: an agent making `calls` tool calls minus one making none.
    func toolOverhead(_ agent: String, calls: Int) -> Double {
        let many = request(agent, input: String(calls)), none = request(agent, input: "0")
        let tMany = batch(3) { mustRun(many) }
        let tNone = batch(3) { mustRun(none) }
        return max(0, (tMany - tNone) / Double(calls))
    }

    func emitCost(user: String, events: Int) -> Double {
        let r = request("emit", user: user, input: String(events)), none = request("emit", user: user, input: "0")
        let t = batch(1) { mustRun(r) }
        let t0 = batch(1) { mustRun(none) }
        return max(0, (t - t0) / Double(events))
    }

    /// Time from the first emit until a subscriber has received every event, per event.
    func emitDelivered(events: Int) -> Double {
        let got = Atomic<Int>(0)
        let user = "bench-delivered"
        let sub = runtime.events.subscribe(userID: user) { _ in got.add(1, ordering: .relaxed) }
        defer { sub.cancel() }
        let expected = events + 2  // + agent_started, agent_completed
        let t0 = MonotonicTime.nanos()
        mustRun(request("emit", user: user, input: String(events)))
        while got.load(ordering: .relaxed) < expected && MonotonicTime.nanos() - t0 < 10_000_000_000 { sched_yield() }
        return Double(MonotonicTime.nanos() - t0) / Double(expected)
    }

    func sessionOpenClose(_ n: Int) -> [Double] {
        (0..<n).map { i in
            let user = "bench-session-\(i)"
            let t0 = MonotonicTime.nanos()
            mustRun(request("session", user: user))
            runtime.removeUser(user)
            return Double(MonotonicTime.nanos() - t0)
        }
    }

    /// Closed-loop throughput: N users, each keeping one call in flight, for a fixed time.
    func concurrencyRows() -> [BenchRow] {
        let duration: UInt64 = quick ? 150_000_000 : 1_000_000_000
        return [1, 10, 100, 1000].map { users in
            var row = BenchRow(name: "throughput, \(users) concurrent user\(users == 1 ? "" : "s")",
                               unit: .throughput(label: "calls/s"), baseline: nil)
            let loop = ClosedLoop(runtime: runtime, users: users)
            let (done, elapsed) = loop.run(for: duration)
            row.samples = [Double(elapsed) / Double(max(1, done))]
            return row
        }
    }

    /// p50 latency of guarded calls while 8 host threads call at once (sustained load).
    func sustainedLatencyRow(onCallerThread: Bool = false) -> BenchRow {
        var row = BenchRow(name: "guarded call under sustained load (8 callers)", unit: .latency, baseline: nil)
        let threads = 8, perThread = quick ? 200 : 2000
        let all = Locked<[Double]>([])
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            var req = request("noop", user: "bench-load-\(t)\(onCallerThread ? "-c" : "")")
            req.onCallerThread = onCallerThread
            let r = req
            _ = NativeThread(name: "bench-load") { [self] in
                let samples = self.each(perThread) { self.mustRun(r) }
                all.withLock { $0 += samples }
                group.leave()
            }
        }
        group.wait()
        row.samples = all.withLock { $0 }
        return row
    }

    /// Heap in use per idle user session (user state, stream, session instance), at 10,000
    /// sessions (2,000 with --quick), after a warm-up of the same work (RSS moved with thread
    /// stacks and allocator caches, and could even come out negative).
    func rssRow() -> BenchRow {
        let n = quick ? 2_000 : 10_000
        var row = BenchRow(name: "heap per idle user session (\(n) sessions)", unit: .bytes, baseline: nil)
        for i in 0..<200 { mustRun(request("session", user: "warm-\(i)")) }
        runtime.removeAllUsers(reason: "warm-up")
        let before = heapInUseBytes()
        for i in 0..<n { mustRun(request("session", user: "idle-\(i)")) }
        let after = heapInUseBytes()
        row.samples = [Double(after - before) / Double(n)]
        runtime.removeAllUsers(reason: "bench finished")
        return row
    }
}

/// N users each keeping one call in flight; counts completions.
final class ClosedLoop: @unchecked Sendable {
    let runtime: Runtime
    let users: Int
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)

    init(runtime: Runtime, users: Int) {
        self.runtime = runtime
        self.users = users
    }

    /// Runs for about `nanos`; returns (completed calls, real elapsed nanoseconds).
    func run(for nanos: UInt64) -> (Int, UInt64) {
        let t0 = MonotonicTime.nanos()
        for u in 0..<users { start(RunRequest(plugin: "bench", agent: "noop", userID: "loop-\(users)-\(u)")) }
        while MonotonicTime.nanos() - t0 < nanos { usleep(2_000) }
        let done = completed.load(ordering: .relaxed)
        let elapsed = MonotonicTime.nanos() - t0
        stop.store(true, ordering: .relaxed)
        if getenv("AGENTRT_BENCH_DEBUG") != nil { printError("loop \(users): \(done) in \(elapsed) ns, failed \(failed.load(ordering: .relaxed))") }
        while inFlight.load(ordering: .relaxed) > 0 { usleep(1_000) }
        return (done, elapsed)
    }

    func start(_ r: RunRequest) {
        inFlight.add(1, ordering: .relaxed)
        runtime.runDetached(r) { [self] result in
            // A failed call ends that user's loop (a refusal completes synchronously, so restarting
            // here would recurse).
            if result.isSuccess { completed.add(1, ordering: .relaxed) } else {
                if failed.add(1, ordering: .relaxed).newValue == 1 { printError("bench: a call failed: \(result.error!)") }
            }
            if result.isSuccess && !stop.load(ordering: .relaxed) { start(r) }
            inFlight.subtract(1, ordering: .relaxed)
        }
    }
}
