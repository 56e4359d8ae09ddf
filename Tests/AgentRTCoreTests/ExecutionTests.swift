import Synchronization
import Testing
@testable import AgentRTCore

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
