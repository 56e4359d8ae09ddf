import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

/// How an agent in the ordering test ends.
enum Ending: String, CaseIterable, Sendable {
    case success, agentError, noResult, callerCancel
}

@Suite("Execution and run events")
struct ExecutionTests {
    @Test("agent_started first, exactly one terminal event last", .timeLimit(.minutes(1)), arguments: Ending.allCases)
    func startedFirstTerminalLast(_ ending: Ending) async throws {
        let rt = CoreTestKit.runtime()
        let emitted = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "a") { call, _ in
            for i in 0..<3 { #expect(call.emit(type: "step", data: "{\"i\":\(i)}") == .ok) }
            emitted.store(true)
            switch ending {
            case .success: return call.setResult("{\"done\":true}")
            case .agentError: _ = call.setError("it broke"); return .agentError
            case .noResult: return .ok
            case .callerCancel:
                CoreTestKit.waitForCancellation(call)
                return .cancelled
            }
        }
        let runID = "run-order-\(ending.rawValue)"
        async let result = rt.run(RunRequest(plugin: "t", agent: "a", userID: "alice", input: "{\"q\":1}", runID: runID))
        if ending == .callerCancel {
            #expect(await CoreTestKit.eventually { emitted.load() })
            #expect(rt.cancel(runID: runID, reason: "user pressed stop"))
        }
        let r = await result
        #expect(r.runID == runID)
        let events = CoreTestKit.events(rt, user: "alice", run: runID)
        #expect(events.first?.kind == .agentStarted)
        #expect(events.filter(\.kind.isTerminal).count == 1)
        let last = try #require(events.last)
        #expect(last.kind.isTerminal)
        #expect(events.filter { $0.kind == .custom }.count == 3)
        #expect(CoreTestKit.data(events[0])["input"] == ["q": 1])
        #expect(CoreTestKit.data(events[0])["attempt"] == 1)
        switch ending {
        case .success:
            #expect(last.kind == .agentCompleted)
            #expect(CoreTestKit.data(last)["result"] == ["done": true])
        case .agentError:
            #expect(last.kind == .agentFailed)
            #expect(r.error?.code == .agentError && r.error?.message.contains("it broke") == true)
            #expect(CoreTestKit.data(last)["error"]?["code"] == "agent_error")
        case .noResult:
            #expect(r.error?.code == .invalidOutput)
            #expect(r.error?.message.contains("without setting a result") == true)
            #expect(CoreTestKit.data(last)["error"]?["code"] == "invalid_output")
        case .callerCancel:
            #expect(r.error?.code == .cancelled)
            #expect(last.kind == .agentCancelled)
            #expect(CoreTestKit.data(last)["by"] == "caller")
            #expect(CoreTestKit.data(last)["reason"]?.stringValue?.contains("user pressed stop") == true)
        }
        // Every event of the run is in the user's envelope.
        for e in events {
            #expect(e.userID == "alice" && e.plugin == "t" && e.agent == "a" && e.sessionID == "default-session")
        }
    }

    @Test("emits from 4 threads inside one agent arrive in seq order with no gaps", .timeLimit(.minutes(1)))
    func emitsFromFourThreads() async throws {
        let rt = CoreTestKit.runtime { $0.replayCapacity = 4096 }
        try CoreTestKit.agent(rt, "fanout") { call, _ in
            let threads = (0..<4).map { t in
                NativeThread(name: "emitter-\(t)") {
                    for n in 0..<250 { _ = call.emit(type: "tick", data: "{\"t\":\(t),\"n\":\(n)}") }
                }
            }
            for th in threads { th.join() }
            return call.setResult("true")
        }
        let r = await rt.run(RunRequest(plugin: "t", agent: "fanout", userID: "alice"))
        #expect(r.isSuccess)
        let events = CoreTestKit.events(rt, user: "alice")
        #expect(events.count == 1002)
        #expect(events.map(\.seq) == Array(1...1002))
        var lastN = [Int64](repeating: -1, count: 4)
        for e in events where e.kind == .custom {
            let value = try #require(CoreTestKit.data(e)["value"])
            let t = Int(try #require(value["t"]?.int64Value)), n = try #require(value["n"]?.int64Value)
            #expect(n == lastN[t] + 1, "thread \(t): \(n) after \(lastN[t])")
            lastN[t] = n
        }
        #expect(lastN == [249, 249, 249, 249])
        #expect(events.last?.kind == .agentCompleted)
    }

    @Test("events, results and tool calls after the agent returned are dropped and counted", .timeLimit(.minutes(1)))
    func lateActivityDropped() async throws {
        let rt = CoreTestKit.runtime()
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "noop", inputSchema: ["type": "object"], kind: .host),
                              implementation: ClosureTool { _, _ in .result("1") })
        let captured = Box<AgentCall>()
        try CoreTestKit.agent(rt, "leaky") { call, _ in
            captured.value = call
            return call.setResult("1")
        }
        #expect(await rt.run(RunRequest(plugin: "t", agent: "leaky", userID: "alice")).isSuccess)
        let call = try #require(captured.value)
        let stream = rt.events.stream(for: "alice")
        let seqBefore = stream.nextSequence
        let lateBefore = rt.counters.lateEvents.load(ordering: .relaxed)
        #expect(call.emit(type: "after", data: "{}") == .staleHandle)
        #expect(call.heartbeat(details: "still here") == .staleHandle)
        #expect(call.setResult("2") == .staleHandle)
        #expect(call.callTool("t.noop", argumentsJSON: "{}").0 == .staleHandle)
        #expect(call.checkCancelled() == .staleHandle)
        #expect(rt.counters.lateEvents.load(ordering: .relaxed) == lateBefore + 2)
        #expect(rt.counters.lateResults.load(ordering: .relaxed) == 1)
        #expect(rt.counters.lateToolCalls.load(ordering: .relaxed) == 1)
        #expect(stream.nextSequence == seqBefore, "a late event reached the stream")
        // From another thread, too (a leaked plugin thread).
        await CoreTestKit.onThreads(3) { _ in _ = call.emit(type: "after", data: "{}") }
        #expect(rt.counters.lateEvents.load(ordering: .relaxed) == lateBefore + 5)
        #expect(stream.nextSequence == seqBefore)
        let late = rt.statsJSON()["late"]
        #expect(late?["events_dropped"]?.int64Value == Int64(lateBefore + 5))
    }

    /// A result `setResult` must refuse, with the status it returns.
    struct BadResult: Sendable, CustomTestStringConvertible {
        let what: String, bytes: [UInt8], expected: HostStatus
        var testDescription: String { what }
    }

    static let badResults: [BadResult] = [
        BadResult(what: "invalid JSON", bytes: Array("{\"a\":".utf8), expected: .invalidJSON),
        BadResult(what: "trailing garbage", bytes: Array("1 2".utf8), expected: .invalidJSON),
        BadResult(what: "invalid UTF-8", bytes: [0x22, 0xFF, 0x22], expected: .invalidArgument),
        BadResult(what: "too large", bytes: Array(("\"" + String(repeating: "x", count: 100) + "\"").utf8), expected: .tooLarge),
    ]

    @Test("setResult refuses bad results and the call ends invalid_output", .timeLimit(.minutes(1)), arguments: badResults)
    func badResult(_ bad: BadResult) async throws {
        let (what, bytes, expected) = (bad.what, bad.bytes, bad.expected)
        let rt = CoreTestKit.runtime { $0.maxResultBytes = 64 }
        let status = Box<HostStatus>()
        try CoreTestKit.agent(rt, "bad") { call, _ in
            status.value = bytes.withUnsafeBytes { call.setResult($0) }
            return .ok
        }
        let r = await rt.run(RunRequest(plugin: "t", agent: "bad", userID: "alice"))
        #expect(status.value == expected, "\(what)")
        #expect(r.error?.code == .invalidOutput, "\(what)")
        #expect(r.error?.message.contains(what == "too large" ? "limit" : what == "invalid UTF-8" ? "UTF-8" : "JSON") == true,
                "\(r.error?.message ?? "")")
        let last = CoreTestKit.events(rt, user: "alice").last
        #expect(last?.kind == .agentFailed)
        #expect(last.flatMap { CoreTestKit.data($0)["error"]?["code"] } == "invalid_output")
    }

    @Test("a result can be set once")
    func resultOnce() async throws {
        let rt = CoreTestKit.runtime()
        try CoreTestKit.agent(rt, "twice") { call, _ in
            #expect(call.setResult("1") == .ok)
            #expect(call.setResult("2") == .alreadySet)
            return .ok
        }
        #expect(await rt.run(RunRequest(plugin: "t", agent: "twice", userID: "alice")).resultJSON == "1")
    }

    @Test("emit with a reserved type is refused with a status and not forwarded",
          arguments: Event.Kind.allCases.filter { $0 != .custom && $0 != .agentThinking })
    func reservedType(_ kind: Event.Kind) async throws {
        let rt = CoreTestKit.runtime()
        try CoreTestKit.agent(rt, "emitter") { call, _ in
            #expect(call.emit(type: kind.rawValue, data: "{}") == .reservedType)
            return call.setResult("1")
        }
        #expect(await rt.run(RunRequest(plugin: "t", agent: "emitter", userID: "alice")).isSuccess)
        #expect(CoreTestKit.events(rt, user: "alice").map(\.kind) == [.agentStarted, .agentCompleted])
    }

    @Test("emit validates type and data; thinking notes and custom events go through")
    func emitValidation() async throws {
        let rt = CoreTestKit.runtime { $0.maxEventBytes = 100 }
        try CoreTestKit.agent(rt, "emitter") { call, _ in
            #expect(call.emit(type: "mine", data: "{not json") == .invalidJSON)
            #expect(call.emit(type: "bad type!", data: "{}") == .invalidArgument)
            #expect(call.emit(type: "", data: "{}") == .invalidArgument)
            #expect(call.emit(type: "big", data: "\"" + String(repeating: "x", count: 200) + "\"") == .tooLarge)
            #expect(call.emit(type: "agent_thinking", data: "{\"kind\":\"shouting\",\"text\":\"x\"}") == .invalidArgument)
            #expect(call.emit(type: "agent_thinking", data: "{\"text\":\"hmm\"}") == .ok)
            #expect(call.emit(type: "mine", data: "[1,2]") == .ok)
            return call.setResult("1")
        }
        #expect(await rt.run(RunRequest(plugin: "t", agent: "emitter", userID: "alice")).isSuccess)
        let events = CoreTestKit.events(rt, user: "alice")
        #expect(events.map(\.kind) == [.agentStarted, .agentThinking, .custom, .agentCompleted])
        #expect(CoreTestKit.data(events[1])["kind"] == "reasoning")
        #expect(CoreTestKit.data(events[2])["name"] == "mine" && CoreTestKit.data(events[2])["value"] == [1, 2])
    }

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

    @Test("caller cancel ends cancelled with an agent_cancelled event", .timeLimit(.minutes(1)))
    func callerCancel() async throws {
        let rt = CoreTestKit.runtime()
        let started = Shared<Bool>(false)
        try CoreTestKit.agent(rt, "poller") { call, _ in
            started.store(true, ordering: .releasing)
            CoreTestKit.waitForCancellation(call)
            return .cancelled
        }
        #expect(!rt.cancel(runID: "run-nobody-has"))
        let id = "run-cancel-me"
        async let r = rt.run(RunRequest(plugin: "t", agent: "poller", userID: "alice", runID: id))
        #expect(await CoreTestKit.eventually { started.load(ordering: .acquiring) })
        #expect(rt.cancel(runID: id, reason: "changed my mind"))
        let result = await r
        #expect(result.error?.code == .cancelled)
        #expect(result.error?.message.contains("changed my mind") == true)
        let events = CoreTestKit.events(rt, user: "alice", run: id)
        #expect(events.last?.kind == .agentCancelled)
        #expect(events.last.flatMap { CoreTestKit.data($0)["by"] } == "caller")
        #expect(!rt.cancel(runID: id))
        // Cancelling the calling task cancels the run the same way.
        let task = Task { await rt.run(RunRequest(plugin: "t", agent: "poller", userID: "alice", runID: "run-task-cancel")) }
        #expect(await CoreTestKit.eventually { rt.users.existing("alice")?.inFlightRunIDs.contains("run-task-cancel") == true })
        task.cancel()
        #expect(await task.value.error?.code == .cancelled)
        #expect(rt.breaker(plugin: "t", agent: "poller").failureRate == 0)
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

    @Test("runBlocking works from a host thread")
    func runBlockingFromHostThread() async throws {
        let rt = CoreTestKit.runtime()
        try CoreTestKit.agent(rt, "echo") { call, input in call.setResult(input) }
        let out = Recorder<RunResult>()
        await CoreTestKit.onThreads(4) { i in
            out.append(rt.runBlocking(RunRequest(plugin: "t", agent: "echo", userID: "host-\(i)", input: "{\"i\":\(i)}")))
        }
        #expect(out.all.count == 4 && out.all.allSatisfy { $0.isSuccess })
        #expect(await rt.run(RunRequest(plugin: "t", agent: "missing", userID: "alice")).error?.code == .notFound)
    }
}
