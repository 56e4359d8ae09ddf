import AgentRTCore
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A CPU hog in another process, pinned to no core in particular: the "busy machine" condition
/// (`agentrt bench --busy`). On 2 cores it keeps one busy, as a loaded server would.
final class CPUHog {
    private var pid: pid_t = 0

    init?() {
        let argv: [UnsafeMutablePointer<CChar>?] = ["sh", "-c", "while :; do :; done"].map { (s: String) in strdup(s) } + [nil]
        defer { for p in argv { free(p) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { return nil }
        usleep(50_000)   // let it get going
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

extension BenchSuite {
    /// The guarded-call rows measured again while another process keeps one core busy.
    func busyRows() -> [BenchRow] {
        guard let hog = CPUHog() else { printError("bench: cannot start the CPU hog"); return [] }
        defer { hog.stop() }
        let perRound = quick ? 200 : 2000
        var handOff = BenchRow(name: "guarded call, hand-off [busy]", unit: .latency, baseline: nil)
        var caller = BenchRow(name: "guarded call, caller's thread [busy]", unit: .latency, baseline: "guarded call, hand-off [busy]")
        let a = request("noop", user: "bench-busy"), b = callerThreadRequest("bench-busy-caller")
        for _ in 0..<200 { mustRun(a); mustRun(b) }
        for _ in 0..<rounds {
            handOff.samples += each(perRound) { mustRun(a) }
            caller.samples += each(perRound) { mustRun(b) }
        }
        var eight = sustainedLatencyRow(onCallerThread: true)
        eight = BenchRow(name: "guarded call, caller's thread, 8 callers [busy]", unit: .latency, baseline: nil, samples: eight.samples)
        return [handOff, caller, eight]
    }

    func callerThreadRequest(_ user: String) -> RunRequest {
        var r = request("noop", user: user)
        r.onCallerThread = true
        return r
    }

    /// Closed-loop throughput of `Runtime.run` from Swift concurrency (what `serve` uses): `users`
    /// tasks each awaiting one call after another.
    /// `agent` "prompt" declares it returns promptly: its calls run inside the task (no hand-off).
    func asyncRow(users: Int, agent: String = "noop") -> BenchRow {
        let name = agent == "prompt" ? "async Runtime.run, \(users) users, prompt agent (inline)"
                                     : "async Runtime.run, \(users) users (Swift concurrency)"
        var row = BenchRow(name: name, unit: .throughput(label: "calls/s"), baseline: nil)
        let duration: UInt64 = quick ? 200_000_000 : 1_000_000_000
        let done = SharedCount()
        let finished = DispatchSemaphore(value: 0)
        let runtime = self.runtime
        let t0 = MonotonicTime.nanos()
        Task.detached {
            await withTaskGroup(of: Void.self) { g in
                for u in 0..<users {
                    g.addTask {
                        let r = RunRequest(plugin: "bench", agent: agent, userID: "async-\(agent)-\(users)-\(u)")
                        while MonotonicTime.nanos() - t0 < duration {
                            if await runtime.run(r).isSuccess { done.value.add(1, ordering: .relaxed) }
                        }
                    }
                }
            }
            finished.signal()
        }
        finished.wait()
        let elapsed = MonotonicTime.nanos() - t0
        row.samples = [Double(elapsed) / Double(max(1, done.value.load(ordering: .relaxed)))]
        return row
    }

    /// `agentrt bench --calls N`: only N guarded calls on the caller's thread (or hand-off), for
    /// instruction counting under callgrind (run twice with different N; the difference / ΔN is
    /// the instructions per call, free of start-up cost).
    func callsOnly(_ n: Int, handOff: Bool) {
        let r = handOff ? request("noop", user: "bench-count") : callerThreadRequest("bench-count")
        for _ in 0..<n { mustRun(r) }
    }
}

/// An atomic counter shared with tasks.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}
