import Testing
@testable import AgentRTCore

/// Small contracts the faces rely on: whether a call started, name checks on registration, and
/// the default tool schema still refusing what is not an object.
@Suite("Runtime contracts")
struct RuntimeContractTests {
    @Test("a refused call reports started == false and ends once in its stream; a run reports started == true")
    func startedFlag() async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "ok") { call, _ in call.setResult("1") }
        let sub = rt.events.subscribe(userID: "alice")
        defer { sub.cancel() }

        let refused = await rt.run(RunRequest(plugin: "t", agent: "missing", userID: "alice"))
        #expect(refused.error?.code == .notFound)
        #expect(!refused.started)
        let badInput = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "alice", input: "{oops"))
        #expect(badInput.error?.code == .badArguments)
        #expect(!badInput.started)
        // Each refused run appears once in its user's stream, as its terminal event.
        for refusedRun in [refused, badInput] {
            let e = try #require(sub.poll())
            #expect(e.kind == .agentFailed && e.runID == refusedRun.runID && !refusedRun.runID.isEmpty)
            #expect(CoreTestKit.data(e)["refused"] == true)
            #expect(CoreTestKit.data(e)["error"]?["code"]?.stringValue == refusedRun.error?.code.rawValue)
        }
        #expect(sub.poll() == nil, "a refused call publishes exactly one event")
        // A refusal whose user id is invalid has no stream to go to.
        let badUser = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: " alice"))
        #expect(badUser.error?.code == .invalidContext)
        #expect(sub.poll() == nil)

        let ran = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "alice"))
        #expect(ran.isSuccess && ran.started)
        #expect(sub.poll()?.kind == .agentStarted)
    }

    @Test("a tool with an empty or badly-charactered short name is refused at registration",
          arguments: ["", "bad name", "ümlaut"])
    func toolNamesChecked(_ name: String) throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let d = ToolDescriptor(plugin: "host", name: name, inputSchema: ["type": "object"], kind: .host)
        #expect(throws: AgentRTError.self) {
            try rt.tools.register(d, implementation: ClosureTool { _, _ in .result("1") })
        }
        #expect(rt.tools.descriptors.isEmpty)
    }

    @Test("the default {\"type\":\"object\"} schema passes any object and still refuses anything else")
    func defaultSchemaFastPath() throws {
        let schema = try JSONSchema(["type": "object"])
        #expect(schema.validate(["a": 1, "b": ["c"]]).isEmpty)
        #expect(!schema.validate([1, 2]).isEmpty)
        #expect(!schema.validate("text").isEmpty)
        #expect(!schema.validate(.null).isEmpty)
    }
}

@Suite("Boundaries")
struct BoundaryTests {
    @Test("two canonically equivalent user ids stay two users")
    func exactIDs() async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "who") { call, _ in call.setResult("\"\(call.context.userID.unicodeScalars.count)\"") }
        let sign = "\u{212B}ngstrom", letter = "\u{00C5}ngstrom"
        #expect(sign == letter, "Swift compares these as equal; the runtime must not")
        _ = await rt.run(RunRequest(plugin: "t", agent: "who", userID: sign))
        _ = await rt.run(RunRequest(plugin: "t", agent: "who", userID: letter))
        #expect(rt.userCount == 2)
        let a = CoreTestKit.events(rt, user: sign), b = CoreTestKit.events(rt, user: letter)
        #expect(a.count == 2 && b.count == 2)
        #expect(a.allSatisfy { $0.userID.unicodeScalars.first == "\u{212B}" })
        #expect(b.allSatisfy { $0.userID.unicodeScalars.first == "\u{00C5}" })
    }

    @Test("ids with edge whitespace or invisible format characters are refused, naming the field",
          arguments: [" alice", "alice ", "al\u{200B}ice", "\u{00A0}bob", "bob\u{2029}", "\u{FEFF}carol", "a\u{202E}b"])
    func refusedIDs(_ id: String) async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        try CoreTestKit.agent(rt, "ok") { call, _ in call.setResult("1") }
        let r = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: id))
        #expect(r.error?.code == .invalidContext)
        #expect(r.error?.message.contains("user_id") == true)
        let s = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "dave", sessionID: id))
        #expect(s.error?.code == .invalidContext)
        #expect(s.error?.message.contains("session_id") == true)
    }

    @Test("an agent's input schema is enforced before it runs")
    func inputSchemaEnforced() async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let ran = Shared<Int>(0)
        let schema: JSONValue = ["type": "object", "properties": ["n": ["type": "integer", "minimum": 1]],
                                 "required": ["n"], "additionalProperties": false]
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "count", inputSchema: schema),
                        implementation: ClosureAgent { call, _ in ran.add(1); return call.setResult("1") })
        let bad = await rt.run(RunRequest(plugin: "t", agent: "count", userID: "u", input: #"{"n":0}"#))
        #expect(bad.error?.code == .badArguments)
        #expect(bad.error?.message.contains("/n") == true)
        let extra = await rt.run(RunRequest(plugin: "t", agent: "count", userID: "u", input: #"{"n":2,"x":1}"#))
        #expect(extra.error?.code == .badArguments)
        #expect(ran.load() == 0)
        #expect(await rt.run(RunRequest(plugin: "t", agent: "count", userID: "u", input: #"{"n":2}"#)).isSuccess)
        #expect(ran.load() == 1)
    }

    @Test("names with a dot, and reserved plugin names, are refused", arguments: ["a.b", "host", "agentrt"])
    func names(_ plugin: String) throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        #expect(throws: AgentRTError.self) {
            try rt.register(agent: AgentDescriptor(plugin: plugin, name: "x"), implementation: ClosureAgent { c, _ in c.setResult("1") })
        }
        #expect(throws: AgentRTError.self) {
            try rt.register(agent: AgentDescriptor(plugin: "ok", name: "x.y"), implementation: ClosureAgent { c, _ in c.setResult("1") })
        }
        #expect(throws: AgentRTError.self) {
            try rt.tools.register(ToolDescriptor(plugin: "ok", name: "t.u", inputSchema: ["type": "object"], kind: .host),
                                  implementation: ClosureTool { _, _ in .result("1") })
        }
    }

    @Test("cancel and lookup are scoped to the user")
    func userScopedCancel() async throws {
        let rt = CoreTestKit.runtime()
        defer { rt.shutdown() }
        let gate = TestGate()
        try CoreTestKit.agent(rt, "wait") { call, _ in
            gate.wait(max: .seconds(10))
            return call.context.isCancelled ? .cancelled : call.setResult("1")
        }
        let done = Recorder<RunResult>()
        let id = rt.runDetached(RunRequest(plugin: "t", agent: "wait", userID: "alice")) { done.append($0) }
        #expect(await CoreTestKit.eventually { gate.arrived == 1 })
        #expect(!rt.isRunInFlight(runID: id, userID: "bob"))
        #expect(!rt.cancel(runID: id, userID: "bob"), "bob cancelled alice's run")
        #expect(rt.isRunInFlight(runID: id, userID: "alice"))
        #expect(rt.cancel(runID: id, userID: "alice"))
        gate.release()
        #expect(await CoreTestKit.eventually { done.count == 1 })
        #expect(done.all.first?.error?.code == .cancelled)
    }
}
