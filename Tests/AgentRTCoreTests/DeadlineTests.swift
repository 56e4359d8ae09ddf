import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// Deadlines, grace periods, abandonment, quarantine and heartbeat death, all on a manual clock:
/// each test moves the clock past the point it is about and checks what the watchdog did there
/// (and, one nanosecond before, that it did nothing yet).
@Suite("Deadlines, grace and heartbeats")
struct DeadlineTests {
    @Test("cooperative timeout ends with timeout at the deadline", .timeLimit(.minutes(1)))
    func cooperativeTimeout() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .seconds(5) }
        let running = Shared<Bool>(false)
        let sawCancel = Shared<Bool>(false)
        let captured = Box<AgentCall>()
        try CoreTestKit.agent(rt, "poller") { call, _ in
            captured.value = call
            running.store(true)
            CoreTestKit.waitForCancellation(call)
            sawCancel.store(call.checkCancelled() == .cancelled)
            return .cancelled
        }
        async let result = rt.run(RunRequest(plugin: "t", agent: "poller", userID: "alice", timeout: .milliseconds(100)))
        #expect(await CoreTestKit.eventually { running.load() })
        // One nanosecond before the deadline nothing happens; at the deadline the agent is asked to stop.
        rt.advance(clock, by: .milliseconds(100) - .nanoseconds(1))
        #expect(captured.value?.context.isCancelled == false, "cancelled before its deadline")
        rt.advance(clock, by: .nanoseconds(1))
        let r = await result
        #expect(r.error?.code == .timeout)
        #expect(sawCancel.load())
        // Honoured cooperatively: the clock never reached deadline + grace, so it cannot have been abandoned.
        #expect(r.duration == .milliseconds(100))
        #expect(rt.stats(plugin: "t", agent: "poller")?.zombies == 0)
        #expect(r.error?.message.contains("abandoned") == false)
        let last = CoreTestKit.events(rt, user: "alice").last
        #expect(last?.kind == .agentFailed)
        #expect(last.flatMap { CoreTestKit.data($0)["error"]?["code"] } == "timeout")
        #expect(CoreTestKit.data(CoreTestKit.events(rt, user: "alice")[0])["deadline_ms"]?.int64Value == 100)
    }

    @Test("an agent that ignores cancellation is abandoned at deadline + grace; its permit stays held until it returns",
          .timeLimit(.minutes(1)))
    func abandonedAgent() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.perUserLimit = 1; $0.grace = .milliseconds(100) }
        let returned = Shared<Bool>(false)
        let lateStatuses = Recorder<HostStatus>()
        // Stuck like an agent in sleep(): it ignores cancellation and returns only when the test
        // lets it, so the checks below never race its return.
        let stuck = TestGate()
        try CoreTestKit.agent(rt, "stuck") { call, _ in
            stuck.wait()
            lateStatuses.append(call.setResult("\"late\""))
            lateStatuses.append(call.emit(type: "late", data: "{}"))
            returned.store(true, ordering: .releasing)
            return .ok
        }
        try CoreTestKit.agent(rt, "ok") { call, _ in call.setResult("1") }
        // The completion runs when the runtime gives up on the call: record whether the agent had returned then.
        let done = Recorder<(RunResult, Bool)>()
        rt.runDetached(RunRequest(plugin: "t", agent: "stuck", userID: "alice", timeout: .milliseconds(100))) {
            done.append(($0, returned.load(ordering: .acquiring)))
        }
        #expect(await CoreTestKit.eventually { stuck.arrived == 1 })
        // At the deadline it is asked to stop; it does not, and the runtime waits out the grace period.
        rt.advance(clock, by: .milliseconds(100))
        rt.advance(clock, by: .milliseconds(100) - .nanoseconds(1))
        #expect(done.count == 0, "abandoned before deadline + grace")
        #expect(rt.stats(plugin: "t", agent: "stuck")?.zombies == 0)
        rt.advance(clock, by: .nanoseconds(1))
        #expect(await CoreTestKit.eventually { done.count == 1 })
        let (r, agentHadReturned) = try #require(done.all.first)
        #expect(r.error?.code == .timeout)
        #expect(r.error?.message.contains("abandoned") == true)
        #expect(r.duration == .milliseconds(200))
        #expect(!agentHadReturned, "the caller waited for the stuck agent")
        // A zombie now: it keeps Alice's only permit.
        #expect(rt.stats(plugin: "t", agent: "stuck")?.zombies == 1)
        #expect(rt.stats(user: "alice")?.zombies == 1)
        #expect(rt.users.existing("alice")?.admission.held == 1)
        #expect(await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "alice")).error?.code == .overloaded)
        // Other users are not affected.
        #expect(await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "bob")).isSuccess)
        stuck.release()
        // When it really returns, the zombie drains and the permit comes back; its result is discarded.
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "stuck")?.zombies == 0 })
        #expect(await CoreTestKit.eventually { rt.users.existing("alice")?.admission.held == 0 })
        #expect(returned.load(ordering: .acquiring))
        #expect(lateStatuses.all == [.staleHandle, .staleHandle])
        #expect(rt.counters.zombiesReturned.load(ordering: .relaxed) == 1)
        #expect(rt.counters.lateResults.load(ordering: .relaxed) == 1)
        #expect(rt.stats(user: "alice")?.zombies == 0)
        let events = CoreTestKit.events(rt, user: "alice", run: r.runID)
        #expect(events.map(\.kind) == [.agentStarted, .agentFailed])
        #expect(await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "alice")).isSuccess)
    }

    @Test("an agent with too many zombies is quarantined until they drain", .timeLimit(.minutes(1)))
    func quarantine() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.quarantineThreshold = 0; $0.grace = .milliseconds(50) }
        let release = TestGate()
        try CoreTestKit.agent(rt, "stuck") { call, input in
            if input == "{\"hang\":true}" { release.wait() }
            return call.setResult("1")
        }
        async let hung = rt.run(RunRequest(plugin: "t", agent: "stuck", userID: "alice", input: "{\"hang\":true}",
                                           timeout: .milliseconds(50)))
        #expect(await CoreTestKit.eventually { release.arrived == 1 })
        rt.advance(clock, by: .milliseconds(50))
        rt.advance(clock, by: .milliseconds(50))
        let r = await hung
        #expect(r.error?.code == .timeout)
        #expect(rt.stats(plugin: "t", agent: "stuck")?.zombies == 1)
        let q = await rt.run(RunRequest(plugin: "t", agent: "stuck", userID: "bob"))
        #expect(q.error?.code == .quarantined)
        #expect(q.error?.message.contains("quarantined") == true)
        release.release()
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "stuck")?.zombies == 0 })
        #expect(await rt.run(RunRequest(plugin: "t", agent: "stuck", userID: "bob")).isSuccess)
    }

    /// How an agent proves it is alive.
    enum Liveness: String, CaseIterable, Sendable { case heartbeatWithDetails, bareHeartbeat, emit }

    @Test("an agent that shows life every 60 ms of clock time survives a 100 ms heartbeat timeout",
          .timeLimit(.minutes(1)), arguments: Liveness.allCases)
    func heartbeatKeepsAlive(_ how: Liveness) async throws {
        let (rt, clock) = CoreTestKit.manualRuntime()
        // Lockstep with the test: the agent shows life, the test moves the clock 60 ms, and again.
        let shown = Shared<Int>(0)
        let advanced = Shared<Int>(0)
        let cancelled = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "busy") { call, _ in
            for i in 0..<15 {
                switch how {
                case .heartbeatWithDetails: _ = call.heartbeat(details: "step \(i)")
                case .bareHeartbeat: _ = call.heartbeat(details: "")
                case .emit: _ = call.emit(type: "progress", data: "\(i)")
                }
                shown.store(i + 1)
                CoreTestKit.blockUntil { advanced.load() > i || call.context.isCancelled }
                if call.context.isCancelled { cancelled.store(true); return .cancelled }
            }
            return call.setResult("\"done\"")
        }
        async let result = rt.run(RunRequest(plugin: "t", agent: "busy", userID: "alice", timeout: .seconds(10),
                                             heartbeatTimeout: .milliseconds(100)))
        for i in 0..<15 {
            guard await CoreTestKit.eventually(.seconds(10), { shown.load() > i || cancelled.load() }) else { break }
            rt.advance(clock, by: .milliseconds(60))
            advanced.store(i + 1)
        }
        let r = await result
        // 900 ms of clock time, nine heartbeat timeouts, and never 100 ms without a sign of life.
        #expect(r.resultJSON == "\"done\"", "\(r.error?.description ?? "")")
        #expect(!cancelled.load())
        if how == .heartbeatWithDetails {
            let notes = CoreTestKit.events(rt, user: "alice").filter { $0.kind == .agentThinking }
            #expect(notes.count == 15)
            #expect(notes.first.flatMap { CoreTestKit.data($0)["kind"] } == "status")
        }
    }

    @Test("a silent agent gets no_heartbeat carrying the last heartbeat's details", .timeLimit(.minutes(1)))
    func silenceKills() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime()
        let silent = Shared<Bool>(false)
        let captured = Box<AgentCall>()
        try CoreTestKit.agent(rt, "silent") { call, _ in
            captured.value = call
            _ = call.heartbeat(details: "loaded the model")
            silent.store(true)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        async let result = rt.run(RunRequest(plugin: "t", agent: "silent", userID: "alice", timeout: .seconds(10),
                                             heartbeatTimeout: .milliseconds(100)))
        #expect(await CoreTestKit.eventually { silent.load() })
        rt.advance(clock, by: .milliseconds(99))
        #expect(captured.value?.context.isCancelled == false, "declared dead before 100 ms of silence")
        rt.advance(clock, by: .milliseconds(1))
        let r = await result
        #expect(r.error?.code == .noHeartbeat)
        #expect(r.error?.message.contains("loaded the model") == true)
        #expect(r.duration == .milliseconds(100))
        let last = CoreTestKit.events(rt, user: "alice").last
        #expect(last.flatMap { CoreTestKit.data($0)["error"]?["code"] } == "no_heartbeat")
        // A death counts as a failure for the breaker.
        #expect(rt.breaker(plugin: "t", agent: "silent").failureRate == 1)
    }

    @Test("heartbeat timeout 0 disables death detection", .timeLimit(.minutes(1)))
    func heartbeatZeroDisables() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.defaultHeartbeatTimeout = .milliseconds(50) }
        let running = Shared<Int>(0)
        let captured = Box<AgentCall>()
        let finish = TestGate()
        try CoreTestKit.agent(rt, "silent") { call, _ in
            captured.value = call
            running.add(1)
            if !finish.wait(orCancelled: call) { return .cancelled }
            return call.setResult("1")
        }
        async let quiet = rt.run(RunRequest(plugin: "t", agent: "silent", userID: "alice", timeout: .seconds(10),
                                            heartbeatTimeout: .zero))
        #expect(await CoreTestKit.eventually { running.load() == 1 })
        // Silent for 20 default heartbeat timeouts: still alive.
        rt.advance(clock, by: .seconds(1))
        #expect(captured.value?.context.isCancelled == false)
        finish.release()
        let r = await quiet
        #expect(r.isSuccess, "\(r.error?.description ?? "")")
        // The configured default applies when the request does not say.
        let gate = TestGate()
        try CoreTestKit.agent(rt, "silent2") { call, _ in
            running.add(1)
            if !gate.wait(orCancelled: call) { return .cancelled }
            return call.setResult("1")
        }
        async let defaulted = rt.run(RunRequest(plugin: "t", agent: "silent2", userID: "alice", timeout: .seconds(10)))
        #expect(await CoreTestKit.eventually { running.load() == 2 })
        rt.advance(clock, by: .milliseconds(50))
        let d = await defaulted
        gate.release()
        #expect(d.error?.code == .noHeartbeat)
    }

    @Test("the heartbeat timeout is capped at the deadline", .timeLimit(.minutes(1)))
    func heartbeatCappedAtDeadline() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime()
        let running = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "silent") { call, _ in
            running.store(true)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        async let result = rt.run(RunRequest(plugin: "t", agent: "silent", userID: "alice", timeout: .milliseconds(100),
                                             heartbeatTimeout: .seconds(30)))
        #expect(await CoreTestKit.eventually { running.load() })
        rt.advance(clock, by: .milliseconds(100))
        let r = await result
        #expect(r.error?.code == .timeout)
        #expect(r.duration == .milliseconds(100))
    }

    @Test("2x cores hung calls do not stop other users' calls or timers", .timeLimit(.minutes(1)))
    func hungCallsDoNotStarveOthers() async throws {
        let (rt, clock) = CoreTestKit.manualRuntime { $0.grace = .milliseconds(100); $0.initialWorkers = 2 }
        let release = TestGate()
        try CoreTestKit.agent(rt, "hang") { call, _ in
            release.wait()   // ignores cancellation
            return call.setResult("1")
        }
        try CoreTestKit.agent(rt, "quick") { call, _ in call.setResult("\"\(call.context.userID)\"") }
        let pollerRunning = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "poller") { call, _ in
            pollerRunning.store(true)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        let hung = Recorder<RunResult>()
        for _ in 0..<4 {
            rt.runDetached(RunRequest(plugin: "t", agent: "hang", userID: "hog", timeout: .milliseconds(100))) { hung.append($0) }
        }
        #expect(await CoreTestKit.eventually { release.arrived == 4 })
        // Every worker the pool started with is stuck; other users are still served.
        for i in 0..<10 {
            #expect(await rt.run(RunRequest(plugin: "t", agent: "quick", userID: "other-\(i)")).resultJSON == "\"other-\(i)\"")
        }
        // Timers still fire: a cooperative call times out, and the hung calls are abandoned on time.
        async let timed = rt.run(RunRequest(plugin: "t", agent: "poller", userID: "timer-user", timeout: .milliseconds(100)))
        #expect(await CoreTestKit.eventually { pollerRunning.load() })
        rt.advance(clock, by: .milliseconds(100))
        #expect(await timed.error?.code == .timeout)
        #expect(hung.count == 0, "the hung calls were abandoned before their grace period ended")
        rt.advance(clock, by: .milliseconds(100))
        #expect(await CoreTestKit.eventually { hung.count == 4 })
        #expect(hung.all.allSatisfy { $0.error?.code == .timeout && $0.error?.message.contains("abandoned") == true })
        release.release()
        #expect(await CoreTestKit.eventually { rt.stats(plugin: "t", agent: "hang")?.zombies == 0 })
    }
}
