import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// A breaker on a manual clock with the documented defaults (window 20, minimum 10, 50%, 30 s, 1 probe).
private func makeBreaker(_ configure: (inout CircuitBreaker.Config) -> Void = { _ in }) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock()
    var c = CircuitBreaker.Config()
    configure(&c)
    return (CircuitBreaker(key: "p.a", config: c, clock: clock), clock)
}

/// Acquires and records one outcome; returns the transitions of both steps.
@discardableResult
private func call(_ b: CircuitBreaker, _ o: CircuitBreaker.Outcome, duration: Duration = .milliseconds(1)) -> [CircuitBreaker.Transition] {
    let (permit, _, t1) = b.acquire()
    guard let permit else { Issue.record("no permit in state \(b.currentState)"); return t1 }
    return t1 + b.record(permit, outcome: o, duration: duration)
}

/// Drives a breaker into OPEN (10 failures) and returns the opening time.
private func trip(_ b: CircuitBreaker, _ clock: ManualClock) -> UInt64 {
    for _ in 0..<10 { call(b, .failure) }
    #expect(b.currentState == .open)
    return clock.nowNanos()
}

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    /// Outcome patterns (F failure, S success, I ignored) and whether the breaker ends OPEN.
    static let boundaryPatterns: [(String, Bool)] = [
        ("FFFFFFFFF", false),            // 9 of 9: below the minimum number of calls
        ("FFFFFFFFFF", true),            // 10th failure: 100% with the minimum reached
        ("SSSSSFFFFF", true),            // exactly 50%
        ("FFFFFSSSSS", true),            // 50%, failures first
        ("FFFFSSSSSS", false),           // 4 of 10
        ("FFFFIIIIISSSSSS", false),      // ignored outcomes are not in the window
        ("IIIIIIIIIIFFFFFFFFF", false),  // still only 9 counted calls
        ("SSSSSSSSSSSSSSSSSSSSFFFFFFFFF", false),   // window 20: 9/20 = 45%
        ("SSSSSSSSSSSSSSSSSSSSFFFFFFFFFF", true),   // 10/20 = 50% as the window slides
    ]

    @Test("minimum calls and threshold boundaries", arguments: boundaryPatterns)
    func boundaries(_ pattern: String, _ opens: Bool) {
        let (b, _) = makeBreaker()
        var all: [CircuitBreaker.Transition] = []
        for (i, ch) in pattern.enumerated() {
            let t = call(b, ch == "F" ? .failure : ch == "S" ? .success : .ignored)
            if opens && i < pattern.count - 1 { #expect(t.isEmpty, "opened early at call \(i + 1)") }
            all += t
        }
        #expect(b.currentState == (opens ? .open : .closed))
        if opens {
            #expect(all.count == 1)
            #expect(all.first?.from == .closed && all.first?.to == .open)
            #expect((all.first?.failureRate ?? 0) >= 0.5)
        } else {
            #expect(all.isEmpty)
        }
    }

    @Test("the slow-call rate can trip it")
    func slowCalls() {
        let (b, _) = makeBreaker { $0.slowCallDuration = .milliseconds(100); $0.slowCallRateThreshold = 0.5 }
        for _ in 0..<5 { call(b, .success, duration: .milliseconds(1)) }
        for _ in 0..<4 { call(b, .success, duration: .milliseconds(200)) }
        #expect(b.currentState == .closed)
        let t = call(b, .success, duration: .milliseconds(100))
        #expect(t.map(\.to) == [.open])
    }

    @Test("OPEN turns HALF_OPEN exactly at the wait, and refuses with the retry time before")
    func openToHalfOpenAtWait() throws {
        let (b, clock) = makeBreaker()
        let openedAt = trip(b, clock)
        let retryAt = openedAt + 30_000_000_000
        clock.set(nanos: retryAt - 1)
        let early = b.acquire()
        #expect(early.permit == nil)
        #expect(early.retryAtNanos == retryAt)
        #expect(early.transitions.isEmpty)
        #expect(b.currentState == .open)
        clock.set(nanos: retryAt)
        let onTime = b.acquire()
        let probe = try #require(onTime.permit)
        #expect(probe.isProbe)
        #expect(onTime.transitions.map(\.to) == [.halfOpen])
        #expect(b.currentState == .halfOpen)
        // Only one probe by default.
        let second = b.acquire()
        #expect(second.permit == nil)
        #expect(second.retryAtNanos == retryAt + 30_000_000_000)
        #expect(b.record(probe, outcome: .success, duration: .zero).map(\.to) == [.closed])
    }

    @Test("the opening transition carries the retry time")
    func openTransitionRetryAt() {
        let (b, clock) = makeBreaker()
        var t: [CircuitBreaker.Transition] = []
        for _ in 0..<10 { t += call(b, .failure) }
        #expect(t.count == 1)
        #expect(t.first?.retryAtNanos == clock.nowNanos() + 30_000_000_000)
        #expect(t.first?.failureRate == 1.0)
    }

    @Test("a failing probe re-opens with a fresh wait")
    func failingProbeReopens() throws {
        let (b, clock) = makeBreaker()
        _ = trip(b, clock)
        clock.advance(by: .seconds(30))
        let probe = try #require(b.acquire().permit)
        clock.advance(by: .seconds(1))
        #expect(b.record(probe, outcome: .failure, duration: .zero).map(\.to) == [.open])
        clock.advance(by: .seconds(29))
        #expect(b.acquire().permit == nil)
        clock.advance(by: .seconds(1))
        #expect(b.acquire().permit != nil)
    }

    @Test("N=32 threads racing for one half-open probe get exactly one permit", .timeLimit(.minutes(1)))
    func racingProbes() async {
        for _ in 0..<10 {
            let (b, clock) = makeBreaker()
            _ = trip(b, clock)
            clock.advance(by: .seconds(30))
            let permits = Shared<Int>(0)
            let transitions = Recorder<CircuitBreaker.Transition>()
            await CoreTestKit.onThreads(32) { _ in
                let (p, _, t) = b.acquire()
                if p != nil { permits.add(1, ordering: .relaxed) }
                for x in t { transitions.append(x) }
            }
            #expect(permits.load(ordering: .relaxed) == 1)
            #expect(transitions.all.map(\.to) == [.halfOpen])
        }
    }

    @Test("HALF_OPEN admits the configured number of probes in total, then decides")
    func halfOpenProbeBudget() throws {
        let (b, clock) = makeBreaker { $0.halfOpenProbes = 2 }
        _ = trip(b, clock)
        clock.advance(by: .seconds(30))
        let p1 = try #require(b.acquire().permit)
        let p2 = try #require(b.acquire().permit)
        #expect(b.acquire().permit == nil)
        #expect(b.record(p1, outcome: .success, duration: .zero).isEmpty)
        // One probe reported, one still out: the budget of two is spent, so no third probe.
        #expect(b.acquire().permit == nil, "a third probe was admitted while HALF_OPEN allows 2")
        #expect(b.record(p2, outcome: .success, duration: .zero).map(\.to) == [.closed])
    }

    @Test("a hung probe loses its lease after one wait, and its late outcome changes nothing")
    func hungProbeLease() throws {
        let (b, clock) = makeBreaker()
        _ = trip(b, clock)
        clock.advance(by: .seconds(30))
        let hung = try #require(b.acquire().permit)
        let leaseStart = clock.nowNanos()
        clock.set(nanos: leaseStart + 30_000_000_000 - 1)
        let refused = b.acquire()
        #expect(refused.permit == nil)
        #expect(refused.retryAtNanos == leaseStart + 30_000_000_000)
        clock.set(nanos: leaseStart + 30_000_000_000)
        let fresh = try #require(b.acquire().permit)
        #expect(fresh.isProbe)
        #expect(b.currentState == .halfOpen)
        // The expired probe reports late: no transition.
        #expect(b.record(hung, outcome: .failure, duration: .zero).isEmpty)
        #expect(b.currentState == .halfOpen)
        #expect(b.record(fresh, outcome: .success, duration: .zero).map(\.to) == [.closed])
    }

    @Test("an outcome from an older generation is counted but drives no transition")
    func staleGeneration() throws {
        let (b, clock) = makeBreaker()
        let stale = try #require(b.acquire().permit)
        _ = trip(b, clock)
        #expect(b.record(stale, outcome: .failure, duration: .zero).isEmpty)
        #expect(b.staleOutcomes == 1)
        clock.advance(by: .seconds(30))
        let probe = try #require(b.acquire().permit)
        // A success from CLOSED's generation must not close a HALF_OPEN breaker.
        #expect(b.record(stale, outcome: .success, duration: .zero).isEmpty)
        #expect(b.currentState == .halfOpen)
        #expect(b.record(probe, outcome: .success, duration: .zero).map(\.to) == [.closed])
        // Stale failures do not enter the new window either.
        for _ in 0..<20 { _ = b.record(stale, outcome: .failure, duration: .zero) }
        #expect(b.failureRate == 0)
        #expect(b.staleOutcomes == 22)
        for _ in 0..<9 { call(b, .success) }
        #expect(call(b, .success).isEmpty)
        #expect(b.currentState == .closed)
    }

    @Test("64 threads failing at once produce exactly one OPEN transition", .timeLimit(.minutes(1)))
    func sixtyFourFailures() async throws {
        for _ in 0..<5 {
            let (b, _) = makeBreaker()
            let permits = try (0..<64).map { _ in try #require(b.acquire().permit) }
            let transitions = Recorder<CircuitBreaker.Transition>()
            await CoreTestKit.onThreads(64) { i in
                for t in b.record(permits[i], outcome: .failure, duration: .zero) { transitions.append(t) }
            }
            #expect(transitions.all.map(\.to) == [.open])
            #expect(b.currentState == .open)
            #expect(b.staleOutcomes == 54)
        }
    }

    @Test("forced open refuses everything until closed; disabled passes everything")
    func operatorStates() {
        let (b, _) = makeBreaker()
        #expect(b.force(.forcedOpen).map(\.to) == [.forcedOpen])
        #expect(b.force(.forcedOpen).isEmpty)
        let refused = b.acquire()
        #expect(refused.permit == nil && refused.retryAtNanos == .max)
        #expect(b.force(.disabled).map(\.to) == [.disabled])
        for _ in 0..<50 { call(b, .failure) }
        #expect(b.currentState == .disabled)
        #expect(b.force(.closed).map { ($0.from, $0.to) }.first! == (.disabled, .closed))
        for _ in 0..<9 { call(b, .failure) }
        #expect(b.currentState == .closed)
    }

    // MARK: through the runtime

    @Test("a failing agent opens its breaker; the next call gets circuit_open with a retry time and an event",
          .timeLimit(.minutes(1)))
    func throughRuntime() async throws {
        let clock = ManualClock()
        let rt = CoreTestKit.runtime(clock: clock)
        let failing = Shared<Bool>(true)
        let ran = Shared<Int>(0)
        try CoreTestKit.agent(rt, "flaky") { call, _ in
            ran.add(1, ordering: .relaxed)
            if failing.load(ordering: .acquiring) { _ = call.setError("boom"); return .agentError }
            return call.setResult("{\"ok\":true}")
        }
        let seen = Recorder<CircuitBreaker.Transition>()
        rt.onBreakerTransition { seen.append($0) }
        let req = RunRequest(plugin: "t", agent: "flaky", userID: "alice")
        for _ in 0..<10 {
            let r = await rt.run(req)
            #expect(r.error?.code == .agentError)
        }
        #expect(seen.all.map(\.to) == [.open])
        let before = MonotonicTime.wallMillis()
        let refused = await rt.run(req)
        let after = MonotonicTime.wallMillis()
        let e = try #require(refused.error)
        #expect(e.code == .circuitOpen)
        #expect(e.runID != nil && !(e.runID!.isEmpty))
        let retry = try #require(e.retryAtMillis)
        #expect(retry >= before + 30_000 - 5 && retry <= after + 30_000 + 5)
        #expect(ran.load(ordering: .relaxed) == 10)

        let changes = CoreTestKit.events(rt, user: "alice").filter { $0.kind == .circuitStateChanged }
        #expect(changes.count == 1)
        let d = CoreTestKit.data(try #require(changes.first))
        #expect(d["key"] == "t.flaky@alice" && d["from"] == "closed" && d["to"] == "open")
        #expect(d["retry_at"]?.int64Value != nil)
        #expect(d["failure_rate"]?.doubleValue == 1.0)

        // After the wait a probe runs; its success closes the breaker.
        failing.store(false, ordering: .releasing)
        clock.advance(by: .seconds(30))
        #expect(await rt.run(req).isSuccess)
        #expect(seen.all.map(\.to) == [.open, .halfOpen, .closed])
        #expect(rt.breaker(plugin: "t", agent: "flaky", user: "alice").currentState == .closed)
        let stats = try #require(rt.stats(plugin: "t", agent: "flaky"))
        #expect(stats.failures[.circuitOpen] == 1 && stats.failures[.agentError] == 10)
    }

    @Test("caller cancellation is not a failure for the breaker", .timeLimit(.minutes(1)))
    func cancellationIgnored() async throws {
        let rt = CoreTestKit.runtime(clock: ManualClock())
        try CoreTestKit.agent(rt, "slow") { call, _ in
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        for i in 0..<12 {
            let id = "run-cancel-\(i)-\(RunID.next())"
            async let r = rt.run(RunRequest(plugin: "t", agent: "slow", userID: "alice", runID: id))
            #expect(await CoreTestKit.eventually { rt.cancel(runID: id) })
            #expect(await r.error?.code == .cancelled)
        }
        #expect(rt.breaker(plugin: "t", agent: "slow").currentState == .closed)
        #expect(rt.breaker(plugin: "t", agent: "slow").failureRate == 0)
    }

    @Test("64 failing calls finishing together publish exactly one OPEN", .timeLimit(.minutes(1)))
    func sixtyFourThroughRuntime() async throws {
        let rt = CoreTestKit.runtime(clock: ManualClock()) { $0.perUserLimit = 64 }
        let gate = TestGate()
        try CoreTestKit.agent(rt, "fail") { call, _ in
            gate.wait()
            _ = call.setError("no")
            return .agentError
        }
        let opened = Shared<Int>(0)
        rt.onBreakerTransition { t in if t.to == .open { opened.add(1, ordering: .relaxed) } }
        let results = Recorder<RunResult>()
        for _ in 0..<64 {
            rt.runDetached(RunRequest(plugin: "t", agent: "fail", userID: "alice")) { results.append($0) }
        }
        #expect(await CoreTestKit.eventually(.seconds(10)) { gate.arrived == 64 })
        gate.release()
        #expect(await CoreTestKit.eventually(.seconds(10)) { results.count == 64 })
        #expect(results.all.allSatisfy { $0.error?.code == .agentError })
        #expect(opened.load(ordering: .relaxed) == 1)
        let events = CoreTestKit.events(rt, user: "alice").filter { $0.kind == .circuitStateChanged }
        #expect(events.count == 1)
        #expect(await rt.run(RunRequest(plugin: "t", agent: "fail", userID: "alice")).error?.code == .circuitOpen)
    }

    @Test("operator forced open and disabled through the runtime", .timeLimit(.minutes(1)))
    func forcedThroughRuntime() async throws {
        let rt = CoreTestKit.runtime(clock: ManualClock())
        try CoreTestKit.agent(rt, "ok") { call, _ in call.setResult("1") }
        let req = RunRequest(plugin: "t", agent: "ok", userID: "alice")
        rt.forceBreaker(plugin: "t", agent: "ok", user: "alice", to: .forcedOpen)
        let r = await rt.run(req)
        #expect(r.error?.code == .circuitOpen)
        #expect(r.error?.retryAtMillis == nil)
        #expect(r.error?.message.contains("operator") == true)
        let ev = CoreTestKit.events(rt, user: "alice").filter { $0.kind == .circuitStateChanged }
        #expect(ev.count == 1 && CoreTestKit.data(ev[0])["to"] == "forced_open")
        #expect(CoreTestKit.data(ev[0])["retry_at"] == .null)
        rt.forceBreaker(plugin: "t", agent: "ok", user: "alice", to: .disabled)
        #expect(await rt.run(req).isSuccess)
        // The admission permit of the refused call was given back.
        #expect(await CoreTestKit.eventually { rt.users.existing("alice")?.admission.held == 0 && rt.global.held == 0 })
    }

    @Test("one user failing every call never gets another user circuit_open", .timeLimit(.minutes(1)))
    func fairBetweenUsers() async throws {
        let rt = CoreTestKit.runtime(clock: ManualClock())
        try CoreTestKit.agent(rt, "picky") { call, input in
            if input.contains("poison") { _ = call.setError("cannot digest"); return .agentError }
            return call.setResult("\"ok\"")
        }
        for _ in 0..<100 {
            let r = await rt.run(RunRequest(plugin: "t", agent: "picky", userID: "mallory", input: "{\"x\":\"poison\"}"))
            #expect(r.error?.code == .agentError || r.error?.code == .circuitOpen)
            let b = await rt.run(RunRequest(plugin: "t", agent: "picky", userID: "bob", input: "{}"))
            #expect(b.isSuccess, "bob was refused because of mallory: \(String(describing: b.error))")
        }
        #expect(rt.breaker(plugin: "t", agent: "picky", user: "mallory").currentState == .open)
        #expect(rt.breaker(plugin: "t", agent: "picky").currentState == .closed)
        #expect(rt.breaker(plugin: "t", agent: "picky", user: "bob").currentState == .closed)
        // bob's stream never mentions a breaker.
        #expect(CoreTestKit.events(rt, user: "bob").allSatisfy { $0.kind != .circuitStateChanged })
    }

    @Test("the agent-wide breaker opens only on failures from several users", .timeLimit(.minutes(1)))
    func agentWideNeedsSeveralUsers() async throws {
        let rt = CoreTestKit.runtime(clock: ManualClock()) { $0.agentBreakerMinimumUsers = 3 }
        try CoreTestKit.agent(rt, "down") { call, _ in _ = call.setError("backend down"); return .agentError }
        // Two users fail ten times each: their own breakers open, the agent-wide one does not.
        for u in ["u1", "u2"] {
            for _ in 0..<10 { _ = await rt.run(RunRequest(plugin: "t", agent: "down", userID: u)) }
        }
        #expect(rt.breaker(plugin: "t", agent: "down").currentState == .closed)
        // A third user's failures complete the picture: the agent is down for everyone.
        for _ in 0..<10 { _ = await rt.run(RunRequest(plugin: "t", agent: "down", userID: "u3")) }
        #expect(rt.breaker(plugin: "t", agent: "down").currentState == .open)
        let fresh = await rt.run(RunRequest(plugin: "t", agent: "down", userID: "newcomer"))
        #expect(fresh.error?.code == .circuitOpen)
        #expect(fresh.error?.message.contains("agent-wide") == true)
    }
}
