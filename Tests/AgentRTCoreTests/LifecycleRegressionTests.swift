import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// Regression tests for the call lifecycle (issue 9): the race between an agent returning and the
/// watchdog abandoning it, results that arrive after the deadline, and calls queued behind a hung
/// call of an agent that is not thread-safe. Every deadline is on a manual clock.
@Suite("Call lifecycle regressions")
struct LifecycleRegressionTests {
    @Test("an agent that returns just as the watchdog abandons it never leaks a zombie (3,000 rounds)",
          .timeLimit(.minutes(2)))
    func returnRacesAbandonment() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(50); $0.quarantineThreshold = 8 }
        let gates = Locked<[String: TestGate]>([:])
        try CoreTestKit.agent(rt, "racer") { call, _ in
            let gate = gates.withLock { $0[call.context.metadata["round"] ?? ""] }
            gate?.wait()   // ignores cancellation: returns when the test releases it
            return call.setResult("1")
        }
        // 300 timeouts in a row would open the breaker; it is not what this test is about.
        rt.forceBreaker(plugin: "t", agent: "racer", to: .disabled)
        rt.forceBreaker(plugin: "t", agent: "racer", user: "alice", to: .disabled)   // and alice's own
        let results = Recorder<RunResult>()
        let rounds = 3000
        for n in 0..<rounds {
            let gate = TestGate()
            gates.withLock { $0["\(n)"] = gate }
            rt.runDetached(RunRequest(plugin: "t", agent: "racer", userID: "alice", timeout: .milliseconds(50),
                                      metadata: ["round": "\(n)"])) { results.append($0) }
            try #require(await CoreTestKit.eventually { gate.arrived == 1 }, "round \(n): the agent never ran")
            rt.advance(clock, by: .milliseconds(50))   // the deadline: cancelled, and ignored
            // Deadline + grace on one thread, the agent's return on another, at the same moment.
            await CoreTestKit.onThreads(2) { i in
                if i == 0 { rt.advance(clock, by: .milliseconds(50)) } else { gate.release() }
            }
            try #require(await CoreTestKit.eventually { results.count == n + 1 }, "round \(n): no outcome")
            let released = await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "racer")?.inFlight == 0 }
            try #require(released, """
                round \(n): the agent returned but its call never released what it held \
                (zombies \(rt.stats(plugin: "t", agent: "racer")?.zombies ?? -1), \
                outcome \(results.all.last?.error?.message ?? "success"))
                """)
            gates.withLock { _ = $0.removeValue(forKey: "\(n)") }
        }
        let all = results.all
        #expect(all.count == rounds)
        #expect(all.allSatisfy { $0.error?.code == .timeout }, "\(all.compactMap(\.error).filter { $0.code != .timeout }.prefix(3))")
        let stats = try #require(rt.stats(plugin: "t", agent: "racer"))
        #expect(stats.zombies == 0, "\(stats.zombies) zombies leaked over \(rounds) rounds")
        #expect(stats.inFlight == 0)
        #expect(rt.stats(user: "alice")?.zombies == 0)
        #expect(rt.users.existing("alice")?.admission.held == 0)
        #expect(rt.global.held == 0)
        // Each abandoned call came back exactly once.
        let abandoned = all.filter { $0.error?.message.contains("abandoned") == true }.count
        #expect(rt.counters.zombiesReturned.load(ordering: .relaxed) == abandoned)
        // Not quarantined: a fresh call runs.
        let gate = TestGate()
        gate.release()
        gates.withLock { $0["fresh"] = gate }
        let fresh = await rt.run(RunRequest(plugin: "t", agent: "racer", userID: "bob", metadata: ["round": "fresh"]))
        #expect(fresh.isSuccess, "\(fresh.error?.description ?? "")")
    }

    @Test("an agent that returns just as its deadline cancels it gets its outcome at once (3,000 rounds)",
          .timeLimit(.minutes(2)))
    func returnRacesCancellation() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(10) }
        let gates = Locked<[String: TestGate]>([:])
        try CoreTestKit.agent(rt, "racer") { call, _ in
            gates.withLock { $0[call.context.metadata["round"] ?? ""] }?.wait()
            return call.setResult("1")
        }
        rt.forceBreaker(plugin: "t", agent: "racer", to: .disabled)
        rt.forceBreaker(plugin: "t", agent: "racer", user: "alice", to: .disabled)   // and alice's own
        let results = Recorder<RunResult>()
        for n in 0..<3000 {
            let gate = TestGate()
            gates.withLock { $0["\(n)"] = gate }
            rt.runDetached(RunRequest(plugin: "t", agent: "racer", userID: "alice", timeout: .milliseconds(50),
                                      metadata: ["round": "\(n)"])) { results.append($0) }
            try #require(await CoreTestKit.eventually { gate.arrived == 1 }, "round \(n): the agent never ran")
            // The deadline on one thread, the agent's return on another. The clock never reaches
            // deadline + grace, so the outcome must come from the return itself.
            await CoreTestKit.onThreads(2) { i in
                if i == 0 { rt.advance(clock, by: .milliseconds(50)) } else { gate.release() }
            }
            let delivered = await CoreTestKit.eventually { results.count == n + 1 }
            try #require(delivered, """
                round \(n): the agent returned as it was cancelled and its call got no outcome \
                (\(rt.users.existing("alice")?.inFlightCount ?? -1) call in flight)
                """)
            let code = results.all.last?.error?.code
            #expect(code == nil || code == .timeout, "round \(n): \(results.all.last?.outcome as Any)")
            try #require(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "racer")?.inFlight == 0 })
            gates.withLock { _ = $0.removeValue(forKey: "\(n)") }
        }
        #expect(rt.stats(plugin: "t", agent: "racer")?.zombies == 0)
        #expect(rt.counters.zombiesReturned.load(ordering: .relaxed) == 0)
    }

    @Test("an ok result set after the deadline is a timeout; what the run emits after its outcome is dropped",
          .timeLimit(.minutes(1)))
    func lateResultIsTimeout() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(10) }
        let running = Shared<Bool>(false)
        let returnNow = TestGate()
        let afterOutcome = TestGate()
        let lateEmit = Box<HostStatus>()
        let lateThread = Box<NativeThread>()
        try CoreTestKit.agent(rt, "late") { call, _ in
            running.store(true)
            returnNow.wait()   // ignores the cancellation at the deadline
            _ = call.emit(type: "after_deadline", data: "{}")
            _ = call.setResult("{\"answer\":42}")
            // A thread it leaves behind speaks up once the run has its outcome.
            lateThread.value = NativeThread(name: "late-emitter") {
                afterOutcome.wait()
                lateEmit.value = call.emit(type: "after_outcome", data: "{}")
            }
            return .ok
        }
        let sub = rt.events.subscribe(userID: "alice")
        defer { sub.cancel() }
        async let run = rt.run(RunRequest(plugin: "t", agent: "late", userID: "alice", timeout: .milliseconds(50)))
        #expect(await CoreTestKit.eventually { running.load() })
        rt.advance(clock, by: .milliseconds(50))
        returnNow.release()
        let r = await run
        #expect(r.error?.code == .timeout, "the late ok result won: \(r.outcome)")
        #expect(r.error?.message.contains("abandoned") == false, "it returned within the grace period")
        #expect(rt.stats(plugin: "t", agent: "late")?.zombies == 0)
        let lateBefore = rt.counters.lateEvents.load(ordering: .relaxed)
        afterOutcome.release()
        #expect(await CoreTestKit.eventually { lateEmit.value != nil })
        lateThread.value?.join()
        #expect(lateEmit.value == .staleHandle)
        #expect(rt.counters.lateEvents.load(ordering: .relaxed) == lateBefore + 1)
        var delivered: [Event] = []
        while let e = sub.poll() { delivered.append(e) }
        let ofRun = delivered.filter { $0.runID == r.runID }
        #expect(ofRun.map(\.kind) == [.agentStarted, .custom, .agentFailed], "\(ofRun.map(\.kind))")
        #expect(!ofRun.contains { CoreTestKit.data($0)["name"] == "after_outcome" })
        #expect(ofRun.last.flatMap { CoreTestKit.data($0)["error"]?["code"] } == "timeout")
    }

    @Test("a result returned once the clock passed the deadline is a timeout, whoever sees it first (50 rounds)",
          .timeLimit(.minutes(1)))
    func returnedPastDeadlineBeforeWatchdog() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(10) }
        let gates = Locked<[String: TestGate]>([:])
        try CoreTestKit.agent(rt, "late") { call, _ in
            gates.withLock { $0[call.context.metadata["round"] ?? ""] }?.wait()
            return call.setResult("true")
        }
        rt.forceBreaker(plugin: "t", agent: "late", to: .disabled)   // 50 timeouts would open it
        rt.forceBreaker(plugin: "t", agent: "late", user: "alice", to: .disabled)   // and alice's own
        for n in 0..<50 {
            let gate = TestGate()
            gates.withLock { $0["\(n)"] = gate }
            async let run = rt.run(RunRequest(plugin: "t", agent: "late", userID: "alice", timeout: .milliseconds(50),
                                              metadata: ["round": "\(n)"]))
            try #require(await CoreTestKit.eventually { gate.arrived == 1 }, "round \(n): the agent never ran")
            // The clock passes the deadline; the agent returns before or after the watchdog looked.
            clock.advance(by: .milliseconds(50))
            gate.release()
            let r = await run
            #expect(r.error?.code == .timeout, "round \(n): \(r.outcome)")
        }
        rt.settle()
        #expect(rt.stats(plugin: "t", agent: "late")?.successes == 0)
    }

    @Test("calls queued behind a hung call of a non-thread-safe agent time out at their own deadline and never run",
          .timeLimit(.minutes(1)))
    func queuedBehindHungCall() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(100); $0.perUserLimit = 8 }
        let invocations = Recorder<String>()
        let hang = TestGate()
        try CoreTestKit.agent(rt, "serial", threadSafe: false) { call, input in
            invocations.append(call.runID)
            if input == "{\"hang\":true}" { hang.wait() }   // ignores cancellation
            return call.setResult("1")
        }
        let hungDone = Recorder<RunResult>()
        let hungID = rt.runDetached(RunRequest(plugin: "t", agent: "serial", userID: "alice", input: "{\"hang\":true}",
                                               timeout: .milliseconds(100))) { hungDone.append($0) }
        #expect(await CoreTestKit.eventually { hang.arrived == 1 })
        let queued = Recorder<RunResult>()
        for i in 0..<3 {
            rt.runDetached(RunRequest(plugin: "t", agent: "serial", userID: "queued-\(i)", timeout: .milliseconds(50))) {
                queued.append($0)
            }
        }
        let gate = try #require(rt.entry("t", "serial")).shared.gate
        #expect(await CoreTestKit.eventually { gate.waitingCount == 3 })
        // Their deadline (50 ms) comes before the hung call's (100 ms): each ends on its own.
        rt.advance(clock, by: .milliseconds(50))
        #expect(await CoreTestKit.eventually { queued.count == 3 })
        for r in queued.all {
            #expect(r.error?.code == .timeout, "\(r.outcome)")
            #expect(r.error?.message.contains("waited for the agent instance") == true, "\(r.error?.message ?? "")")
            #expect(r.error?.message.contains("abandoned") == false)
        }
        #expect(gate.waitingCount == 0)
        #expect(hungDone.count == 0)
        #expect(rt.stats(plugin: "t", agent: "serial")?.zombies == 0, "a queued call became a zombie")
        // The hung call: cancelled at 100 ms, abandoned at 200 ms; the only zombie.
        rt.advance(clock, by: .milliseconds(50))
        rt.advance(clock, by: .milliseconds(100))
        #expect(await CoreTestKit.eventually { hungDone.count == 1 })
        #expect(hungDone.all.first?.error?.message.contains("abandoned") == true)
        #expect(rt.stats(plugin: "t", agent: "serial")?.zombies == 1)
        hang.release()
        #expect(await CoreTestKit.eventually {
            rt.stats(plugin: "t", agent: "serial")?.zombies == 0 && rt.stats(plugin: "t", agent: "serial")?.inFlight == 0
        })
        // No plugin code ran for the calls that had already timed out in the queue.
        #expect(invocations.all == [hungID])
        // The instance is free again.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "serial", userID: "after")).isSuccess)
        #expect(invocations.count == 2)
    }
}
