import Testing
@testable import AgentRTCore

/// Small contracts the faces rely on: whether a call started, name checks on registration, and
/// the default tool schema still refusing what is not an object.
@Suite("Runtime contracts")
struct RuntimeContractTests {
    @Test("a refused call reports started == false and publishes nothing; a run reports started == true")
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
        #expect(sub.poll() == nil, "a refused call must publish no event")

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
