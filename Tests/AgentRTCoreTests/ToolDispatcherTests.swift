import Synchronization
import Testing
@testable import AgentRTCore
import AgentRTTesting

private let addSchema: JSONValue = [
    "type": "object",
    "properties": ["a": ["type": "integer"], "b": ["type": "integer"]],
    "required": ["a", "b"],
    "additionalProperties": false,
]

/// A runtime with `t.add` (counted), `t.fail` (a tool error) and an agent `t.caller` that calls
/// the tool named in its input's `tool` with the input's `args` and reports status and result.
private final class ToolFixture: @unchecked Sendable {
    let rt: Runtime
    /// The runtime's clock: tool timeouts and the caller's deadline move only with it.
    let clock = ManualClock()
    let addCalls = Shared<Int>(0)
    let statuses = Recorder<HostStatus>()
    let results = Recorder<ToolCallResult?>()

    init(_ configure: (inout Runtime.Configuration) -> Void = { _ in }) throws {
        rt = CoreTestKit.runtime(clock: clock, configure)
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "add", description: "adds", inputSchema: addSchema, kind: .host),
                              implementation: ClosureTool { [addCalls] _, args in
            addCalls.add(1, ordering: .relaxed)
            return .result(String(args["a"]!.int64Value! + args["b"]!.int64Value!))
        })
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "fail", inputSchema: ["type": "object"], kind: .host),
                              implementation: ClosureTool { _, _ in .toolError("disk full") })
        try CoreTestKit.agent(rt, "caller") { [statuses, results] call, input in
            let v = try! JSONValue.parse(input)
            let times = Int(v["times"]?.int64Value ?? 1)
            for _ in 0..<times {
                let (status, result) = call.callTool(v["tool"]!.stringValue!, argumentsJSON: v["args"]!.stringValue!)
                statuses.append(status)
                results.append(result)
            }
            return call.setResult("true")
        }
    }

    /// Runs `t.caller` once for `alice`; returns the run's result.
    func call(_ tool: String, _ args: String, times: Int = 1, timeout: Duration? = nil) async -> RunResult {
        var input = ""
        JSONValue.appendQuoted(args, to: &input)
        return await rt.run(RunRequest(plugin: "t", agent: "caller", userID: "alice",
                                       input: "{\"tool\":\"\(tool)\",\"args\":\(input),\"times\":\(times)}", timeout: timeout))
    }

    func events(_ run: RunResult) -> [Event] { CoreTestKit.events(rt, user: "alice", run: run.runID) }
}

/// Checks every tool_executing has a matching tool_completed after it and before the terminal event.
private func checkPairs(_ events: [Event]) -> [(executing: Event, completed: Event)] {
    var pairs: [(Event, Event)] = []
    let terminal = events.firstIndex { $0.kind.isTerminal } ?? events.count
    for (i, e) in events.enumerated() where e.kind == .toolExecuting {
        let id = CoreTestKit.data(e)["tool_call_id"]
        let j = events.firstIndex { $0.kind == .toolCompleted && CoreTestKit.data($0)["tool_call_id"] == id }
        guard let j else { Issue.record("tool_executing \(String(describing: id)) has no tool_completed"); continue }
        #expect(j > i && j < terminal)
        pairs.append((e, events[j]))
    }
    return pairs
}

@Suite("Tool dispatcher")
struct ToolDispatcherTests {
    @Test("a tool call from an agent: result and a matching event pair before the terminal event", .timeLimit(.minutes(1)))
    func callFromAgent() async throws {
        let f = try ToolFixture()
        let r = await f.call("t.add", "{\"a\":2,\"b\":40}")
        #expect(r.isSuccess)
        #expect(f.statuses.all == [.ok])
        #expect(f.results.all == [ToolCallResult(isError: false, content: "42")])
        let events = f.events(r)
        #expect(events.map(\.kind) == [.agentStarted, .toolExecuting, .toolCompleted, .agentCompleted])
        let pair = try #require(checkPairs(events).first)
        let ex = CoreTestKit.data(pair.executing), done = CoreTestKit.data(pair.completed)
        #expect(ex["tool"] == "t.add" && ex["arguments"] == ["a": 2, "b": 40])
        #expect((ex["timeout_ms"]?.int64Value ?? 0) > 0)
        #expect(ex["tool_call_id"]?.stringValue?.hasPrefix("tool_") == true)
        #expect(done["is_error"] == false && done["result"] == 42)
        // The short name resolves within the caller's plugin.
        _ = await f.call("add", "{\"a\":1,\"b\":1}")
        #expect(f.results.all.last == ToolCallResult(isError: false, content: "2"))
        #expect(f.rt.tools.descriptors.map(\.qualifiedName) == ["t.add", "t.fail"])
    }

    /// Arguments refused before the tool runs, and the status each gets.
    struct BadArgs: Sendable, CustomTestStringConvertible {
        let args: String, status: HostStatus
        var testDescription: String { args }
    }

    static let badArgs: [BadArgs] = [
        BadArgs(args: "{\"a\":\"x\",\"b\":1}", status: .badArguments),
        BadArgs(args: "{\"a\":1}", status: .badArguments),
        BadArgs(args: "{\"a\":1,\"b\":2,\"c\":3}", status: .badArguments),
        BadArgs(args: "[1,2]", status: .badArguments),
        BadArgs(args: "{\"a\":1.5,\"b\":2}", status: .badArguments),
        BadArgs(args: "{\"a\":", status: .invalidJSON),
        BadArgs(args: "", status: .invalidJSON),
    ]

    @Test("bad arguments are refused before the tool body runs", .timeLimit(.minutes(1)), arguments: badArgs)
    func badArguments(_ bad: BadArgs) async throws {
        let f = try ToolFixture()
        let r = await f.call("t.add", bad.args)
        #expect(r.isSuccess)
        #expect(f.statuses.all == [bad.status])
        #expect(f.results.all == [nil])
        #expect(f.addCalls.load(ordering: .relaxed) == 0)
        let pairs = checkPairs(f.events(r))
        #expect(pairs.count == 1)
        let done = try #require(pairs.first.map { CoreTestKit.data($0.completed) })
        #expect(done["is_error"] == true)
        #expect(done["error"]?["code"] == "bad_arguments")
        // Bad arguments are the caller's fault: they do not count against the tool's breaker.
        #expect(f.rt.tools.breaker(for: "t.add")?.failureRate == 0)
    }

    @Test("an unknown tool is not_found, with an event pair", .timeLimit(.minutes(1)))
    func unknownTool() async throws {
        let f = try ToolFixture()
        let r = await f.call("t.nope", "{}")
        #expect(f.statuses.all == [.notFound])
        let pairs = checkPairs(f.events(r))
        #expect(pairs.count == 1)
        #expect(pairs.first.flatMap { CoreTestKit.data($0.completed)["error"]?["code"] } == "not_found")
        #expect(pairs.first.flatMap { CoreTestKit.data($0.executing)["tool"] } == "t.nope")
    }

    @Test("a tool's own error is a result with isError", .timeLimit(.minutes(1)))
    func toolError() async throws {
        let f = try ToolFixture()
        let r = await f.call("t.fail", "{}")
        #expect(f.statuses.all == [.ok])
        #expect(f.results.all == [ToolCallResult(isError: true, content: "\"disk full\"")])
        let done = try #require(checkPairs(f.events(r)).first.map { CoreTestKit.data($0.completed) })
        #expect(done["is_error"] == true && done["error"] == "disk full")
    }

    @Test("a tool that outlives its timeout is a timeout", .timeLimit(.minutes(1)), arguments: [false, true])
    func toolTimeout(_ cooperative: Bool) async throws {
        let f = try ToolFixture()
        let entered = Shared<Bool>(false)
        let sawCancel = Shared<Bool>(false)
        let captured = Box<AgentCall>()
        let finish = TestGate()
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "slow", inputSchema: ["type": "object"], kind: .host,
                                               defaultTimeout: .milliseconds(50)),
                                implementation: ClosureTool { call, _ in
            captured.value = call
            entered.store(true)
            if cooperative {
                sawCancel.store(CoreTestKit.waitForCancellation(call))
            } else {
                finish.wait()   // ignores cancellation; returns when the test says, after its deadline
            }
            return .result("\"too late\"")
        })
        async let run = f.call("t.slow", "{}", timeout: .seconds(10))
        #expect(await CoreTestKit.eventually { entered.load() })
        f.rt.advance(f.clock, by: .milliseconds(50) - .nanoseconds(1))
        #expect(captured.value?.context.isCancelled == false, "the tool was cancelled before its 50 ms timeout")
        f.rt.advance(f.clock, by: .nanoseconds(1))
        #expect(captured.value?.context.isCancelled == true, "the tool's own deadline did not cancel it")
        finish.release()
        let r = await run
        // The caller (10 s deadline) is unaffected and gets the tool's timeout as a status.
        #expect(r.isSuccess)
        #expect(f.statuses.all == [.timeout])
        #expect(f.results.all == [nil])
        let pair = try #require(checkPairs(f.events(r)).first)
        #expect(CoreTestKit.data(pair.executing)["timeout_ms"]?.int64Value == 50)
        #expect(CoreTestKit.data(pair.completed)["error"]?["code"] == "timeout")
        // A cooperative tool stops when cancelled at its deadline.
        if cooperative { #expect(sawCancel.load()) }
    }

    @Test("a tool whose breaker opened is refused with circuit_open", .timeLimit(.minutes(1)))
    func toolBreaker() async throws {
        let f = try ToolFixture()
        let failures = Shared<Int>(0)
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "flaky", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { _, _ in
            failures.add(1, ordering: .relaxed)
            return .failure(AgentRTError(.agentError, "upstream down"))
        })
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "picky", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { _, _ in .toolError("{\"reason\":\"no such city\"}") })
        // A tool's own error result (isError) is not a breaker failure.
        _ = await f.call("t.picky", "{}", times: 12)
        #expect(f.statuses.all == Array(repeating: .ok, count: 12))
        #expect(f.rt.tools.breaker(for: "t.picky")?.currentState == .closed)
        f.statuses.removeAll()
        let r = await f.call("t.flaky", "{}", times: 12)
        #expect(r.isSuccess)
        #expect(f.statuses.all == Array(repeating: .agentError, count: 10) + [.circuitOpen, .circuitOpen])
        #expect(failures.load(ordering: .relaxed) == 10)
        // One user's failures open that user's breaker for the tool, not the tool-wide one.
        #expect(f.rt.tools.breaker(for: "t.flaky", user: "alice")?.currentState == .open)
        #expect(f.rt.tools.breaker(for: "t.flaky")?.currentState == .closed)
        let events = f.events(r)
        #expect(checkPairs(events).count == 12)
        let last = try #require(checkPairs(events).last)
        #expect(CoreTestKit.data(last.completed)["error"]?["code"] == "circuit_open")
        let changes = CoreTestKit.events(f.rt, user: "alice").filter { $0.kind == .circuitStateChanged }
        #expect(changes.count == 1)
        #expect(changes.first.flatMap { CoreTestKit.data($0)["key"] } == "tool:t.flaky@alice")
        // Other tools are unaffected.
        _ = await f.call("t.add", "{\"a\":1,\"b\":2}")
        #expect(f.statuses.all.last == .ok)
    }

    @Test("a tool can call another tool (nested), and nesting depth is bounded", .timeLimit(.minutes(1)))
    func nestedTools() async throws {
        let f = try ToolFixture { $0.maxToolDepth = 5 }
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "outer", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { call, _ in
            let (status, result) = call.callTool("t.add", argumentsJSON: "{\"a\":20,\"b\":22}")
            guard status == .ok, let result else { return .toolError("inner failed: \(status.name)") }
            return .result("{\"inner\":\(result.content)}")
        })
        let depthSeen = Recorder<Int>()
        let innermost = Box<HostStatus>()
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "recurse", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { call, _ in
            depthSeen.append(call.context.depth)
            let (status, result) = call.callTool("t.recurse", argumentsJSON: "{}")
            if status != .ok { innermost.value = status; return .result("0") }
            return .result(String(Int(result!.content)! + 1))
        })
        let r = await f.call("t.outer", "{}")
        #expect(r.isSuccess)
        #expect(f.statuses.all == [.ok])
        #expect(f.results.all == [ToolCallResult(isError: false, content: "{\"inner\":42}")])
        #expect(f.addCalls.load(ordering: .relaxed) == 1)
        let events = f.events(r)
        #expect(checkPairs(events).count == 2)
        #expect(events.filter { $0.kind == .toolExecuting }.compactMap { CoreTestKit.data($0)["tool"]?.stringValue } == ["t.outer", "t.add"])

        let deep = await f.call("t.recurse", "{}")
        #expect(deep.isSuccess)
        #expect(depthSeen.all == [1, 2, 3, 4, 5])
        #expect(innermost.value == .invalidContext)
        #expect(f.results.all.last == ToolCallResult(isError: false, content: "4"))
    }

    @Test("a tool still running when its run is abandoned gets its tool_completed before the terminal event",
          .timeLimit(.minutes(1)))
    func abandonedDuringTool() async throws {
        let f = try ToolFixture { $0.grace = .milliseconds(50) }
        let returned = Shared<Bool>(false)
        let hang = TestGate()
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "hang", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { _, _ in
            hang.wait()  // ignores cancellation
            returned.store(true, ordering: .releasing)
            return .result("1")
        })
        let done = Recorder<(RunResult, Bool)>()
        f.rt.runDetached(RunRequest(plugin: "t", agent: "caller", userID: "alice",
                                    input: "{\"tool\":\"t.hang\",\"args\":\"{}\"}", timeout: .milliseconds(100))) {
            done.append(($0, returned.load(ordering: .acquiring)))
        }
        #expect(await CoreTestKit.eventually { hang.arrived == 1 })
        f.rt.advance(f.clock, by: .milliseconds(100))   // the caller's deadline: cancelled, ignored
        #expect(f.rt.stats(plugin: "t", agent: "caller")?.zombies == 0)
        f.rt.advance(f.clock, by: .milliseconds(50))    // deadline + grace: abandoned
        #expect(await CoreTestKit.eventually { done.count == 1 })
        let (r, toolHadReturned) = try #require(done.all.first)
        #expect(r.error?.code == .timeout)
        #expect(r.error?.message.contains("abandoned") == true)
        #expect(!toolHadReturned, "the caller waited for the hung tool")
        hang.release()
        #expect(await CoreTestKit.eventually { returned.load(ordering: .acquiring) && f.rt.stats(plugin: "t", agent: "caller")?.zombies == 0 })
        let events = f.events(r)
        #expect(events.map(\.kind) == [.agentStarted, .toolExecuting, .toolCompleted, .agentFailed])
        let pair = try #require(checkPairs(events).first)
        #expect(CoreTestKit.data(pair.completed)["is_error"] == true)
    }

    @Test("a cooperative tool cut short by its caller's deadline keeps its handle during the grace period",
          .timeLimit(.minutes(1)))
    func toolGraceOnParentDeadline() async throws {
        let f = try ToolFixture { $0.grace = .seconds(2) }
        let entered = Shared<Bool>(false)
        let sawCancel = Shared<Bool>(false)
        let tidy = TestGate()
        let afterCancel = Box<HostStatus>()
        try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "coop", inputSchema: ["type": "object"], kind: .host),
                                implementation: ClosureTool { call, _ in
            entered.store(true)
            sawCancel.store(CoreTestKit.waitForCancellation(call))
            tidy.wait()  // tidying up, until the test has moved the clock to the end of the grace period
            afterCancel.value = call.heartbeat(details: "cleaning up")
            return .result("1")
        })
        async let run = f.call("t.coop", "{}", timeout: .milliseconds(100))
        #expect(await CoreTestKit.eventually { entered.load() })
        f.rt.advance(f.clock, by: .milliseconds(100))
        #expect(await CoreTestKit.eventually { tidy.arrived == 1 })
        #expect(sawCancel.load(), "the caller's deadline did not reach the tool")
        // Still inside the grace period (1 ns before its end): the handle must still work.
        f.rt.advance(f.clock, by: .seconds(2) - .nanoseconds(1))
        tidy.release()
        let r = await run
        #expect(f.statuses.all == [.timeout])
        #expect(afterCancel.value == .cancelled, "the tool's handle went stale at the deadline instead of after the grace period")
        #expect(r.error?.code == .timeout)
        #expect(r.error?.message.contains("abandoned") == false)
    }

    @Test("host tool calls through the runtime")
    func hostCall() throws {
        let f = try ToolFixture()
        let ok = f.rt.callTool(userID: "alice", name: "t.add", argumentsJSON: "{\"a\":3,\"b\":4}")
        #expect(try ok.get() == ToolCallResult(isError: false, content: "7"))
        let missing = f.rt.callTool(userID: "alice", name: "t.missing", argumentsJSON: "{}")
        guard case .failure(let e) = missing else { Issue.record("unknown tool succeeded"); return }
        #expect(e.code == .notFound)
        #expect(e.message.contains("t.missing"))
        let bad = f.rt.callTool(userID: "null", name: "t.add", argumentsJSON: "{}")
        guard case .failure(let e2) = bad else { Issue.record("placeholder user accepted"); return }
        #expect(e2.code == .invalidContext)
    }

    @Test("tool registration checks names, schemas and duplicates")
    func registration() throws {
        let f = try ToolFixture()
        let impl = ClosureTool { _, _ in .result("1") }
        #expect(throws: AgentRTError.self) {
            try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "add", inputSchema: ["type": "object"], kind: .host), implementation: impl)
        }
        #expect(throws: AgentRTError.self) {
            try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "bad name", inputSchema: ["type": "object"], kind: .host), implementation: impl)
        }
        #expect(throws: AgentRTError.self) {
            try f.rt.tools.register(ToolDescriptor(plugin: "t", name: "s", inputSchema: ["type": 3], kind: .host), implementation: impl)
        }
    }
}
