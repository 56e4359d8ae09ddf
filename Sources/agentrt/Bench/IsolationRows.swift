import AgentRTCore
import AgentRTNative
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The process-isolation rows: the bench plugin loaded again, isolated, in a second runtime of
/// the same process (so its rows sit beside the in-process ones of the same run).
extension BenchSuite {
    func isolationRows(benchPluginPath: String) -> [BenchRow] {
        var config = Runtime.Configuration()
        config.perUserLimit = 4
        config.globalLimit = 4096
        config.idleUserExpiry = nil
        let isolated = Runtime(configuration: config)
        defer { isolated.shutdown() }
        do {
            _ = try isolated.loadPlugin(path: benchPluginPath, options: PluginLoadOptions(isolation: .process, workers: 2))
        } catch {
            printError("bench: cannot load the bench plugin isolated: \(error.message)")
            return []
        }
        let noop = RunRequest(plugin: "bench", agent: "noop", userID: "bench-isolated")
        func must(_ r: RunRequest) {
            let res = isolated.runBlocking(r)
            if !res.isSuccess { printError("bench: isolated call failed: \(res.error!)") }
        }
        for _ in 0..<200 { must(noop) }   // warm-up
        var sequential = BenchRow(name: "isolated guarded call (worker process), sequential", unit: .latency,
                                  baseline: "guarded call, no subscriber")
        for _ in 0..<rounds { sequential.samples += each(quick ? 200 : 2000) { must(noop) } }

        var hundred = BenchRow(name: "isolated throughput, 100 concurrent users (2 workers)", unit: .throughput(label: "calls/s"),
                               baseline: nil)
        let loop = ClosedLoop(runtime: isolated, users: 100)
        let (done, elapsed) = loop.run(for: quick ? 200_000_000 : 1_000_000_000)
        hundred.samples = [Double(elapsed) / Double(max(1, done))]

        // Restarts on a one-worker runtime, so each kill hits the worker that served the last call
        // (a slot that keeps dying without serving would back off, by design).
        let single = Runtime(configuration: config)
        defer { single.shutdown() }
        var restart = BenchRow(name: "isolated worker restart (SIGKILL → replacement serving)", unit: .latency, baseline: nil)
        if (try? single.loadPlugin(path: benchPluginPath, options: PluginLoadOptions(isolation: .process, workers: 1))) != nil {
            for _ in 0..<(quick ? 3 : 10) {
                guard let victim = single.workerPIDs(ofPlugin: "bench").first else { break }
                let t0 = MonotonicTime.nanos()
                kill(victim, SIGKILL)
                // Replaced when a new pid is live and a call is served by it.
                while MonotonicTime.nanos() - t0 < 5_000_000_000 {
                    let now = single.workerPIDs(ofPlugin: "bench")
                    if now.count == 1 && now[0] != victim { break }
                    usleep(100)
                }
                let served = single.runBlocking(noop)
                restart.samples.append(Double(MonotonicTime.nanos() - t0))
                if !served.isSuccess { printError("bench: call after restart failed: \(served.error!)") }
            }
        }
        return [sequential, hundred, restart]
    }
}
