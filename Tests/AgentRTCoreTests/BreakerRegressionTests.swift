import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// Regression tests for the agent breaker as callers see it (issue 9, defect 14).
@Suite("Breaker regressions")
struct BreakerRegressionTests {
    @Test("a sequential caller of an always-failing agent runs it exactly minimumCalls times before circuit_open (1,000 rounds)",
          .timeLimit(.minutes(2)))
    func exactlyMinimumCallsBeforeOpen() async throws {
        // The caller spins for its outcome (the default), so it starts its next call the instant
        // the outcome is visible: the breaker must already count the failure by then.
        let (rt, _) = CoreTestKit.manualRuntime {
            $0.callerSpinIterations = 20_000
            $0.breaker.windowSize = 5
            $0.breaker.minimumCalls = 5
            $0.breaker.failureRateThreshold = 1.0
        }
        let ran = Shared<Int>(0)
        try CoreTestKit.agent(rt, "broken") { call, _ in
            ran.add(1)
            _ = call.setError("always fails")
            return .agentError
        }
        let rounds = 1000
        let wrong = Recorder<String>()
        await CoreTestKit.onThreads(1) { _ in
            let request = RunRequest(plugin: "t", agent: "broken", userID: "alice")
            for round in 0..<rounds {
                ran.store(0)
                var refusedAt: Int? = nil
                for i in 0..<7 {
                    let r = rt.runBlocking(request)
                    if r.error?.code == .circuitOpen { refusedAt = i; break }
                    if r.error?.code != .agentError { wrong.append("round \(round) call \(i): \(r.outcome)"); break }
                }
                if ran.load() != 5 || refusedAt != 5 {
                    wrong.append("round \(round): the agent ran \(ran.load()) times, circuit_open at call \(refusedAt.map(String.init) ?? "never")")
                }
                // A fresh window for the next round.
                rt.forceBreaker(plugin: "t", agent: "broken", to: .closed)
                rt.forceBreaker(plugin: "t", agent: "broken", user: "alice", to: .closed)   // and alice's own
            }
        }
        #expect(wrong.count == 0, "\(wrong.count) of \(rounds) rounds were wrong: \(wrong.all.prefix(5))")
        let stats = try #require(rt.stats(plugin: "t", agent: "broken"))
        #expect(stats.failures[.agentError] == 5 * rounds)
        #expect(stats.failures[.circuitOpen] == rounds)
    }

    @Test("a completion that starts the next call at once finds the permit free and the breaker counting (200 rounds)",
          .timeLimit(.minutes(2)))
    func completionChainSeesSettledGuards() async throws {
        let (rt, _) = CoreTestKit.manualRuntime {
            $0.perUserLimit = 1
            $0.breaker.windowSize = 5
            $0.breaker.minimumCalls = 5
            $0.breaker.failureRateThreshold = 1.0
        }
        try CoreTestKit.agent(rt, "broken") { call, _ in
            _ = call.setError("always fails")
            return .agentError
        }
        let request = RunRequest(plugin: "t", agent: "broken", userID: "alice")
        for round in 0..<200 {
            let codes = Recorder<ErrorCode?>()
            let finished = Shared<Bool>(false)
            // Each completion (on the worker that finished the call) starts the next call.
            @Sendable func next() {
                rt.runDetached(request) { r in
                    codes.append(r.error?.code)
                    if r.error?.code == .agentError && codes.count < 7 { next() } else { finished.store(true) }
                }
            }
            next()
            try #require(await CoreTestKit.eventually { finished.load() }, "round \(round): the chain stopped")
            let expected: [ErrorCode?] = Array(repeating: .agentError, count: 5) + [.circuitOpen]
            try #require(codes.all == expected, "round \(round): \(codes.all.map { $0?.rawValue ?? "ok" })")
            rt.forceBreaker(plugin: "t", agent: "broken", to: .closed)
            rt.forceBreaker(plugin: "t", agent: "broken", user: "alice", to: .closed)   // and alice's own
        }
        #expect(rt.stats(plugin: "t", agent: "broken")?.failures[.overloaded] == nil)
    }
}
