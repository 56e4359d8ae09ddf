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
