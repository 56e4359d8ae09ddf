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
            }
        }
        #expect(wrong.count == 0, "\(wrong.count) of \(rounds) rounds were wrong: \(wrong.all.prefix(5))")
        let stats = try #require(rt.stats(plugin: "t", agent: "broken"))
        #expect(stats.failures[.agentError] == 5 * rounds)
        #expect(stats.failures[.circuitOpen] == rounds)
    }
}
