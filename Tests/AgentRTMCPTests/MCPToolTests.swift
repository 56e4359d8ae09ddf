import AgentRTCore
import AgentRTMCP
import MCP
import Foundation
import Testing

/// Plugin tools served over MCP: listing, typed and JSON tools, and every error case as a
/// tool error whose text names the problem.
@Suite("MCP tools")
struct MCPToolTests {
    @Test("tools/list offers every tool (plugin.tool) and agent (plugin.agent.NAME) with schemas")
    func list() async throws {
        let h = try await MCPHarness.start(plugins: ["c-basics/basics", "c-textkit/textkit"])
        let (tools, _) = try await h.client.listTools()
        let byName = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        await h.stop()

        let add = try #require(byName["basics.add"])
        #expect(add.inputSchema.objectValue?["required"] == .array([.string("a"), .string("b")]))
        // A typed tool's integer result is advertised wrapped in an object, as MCP requires.
        let out = try #require(add.outputSchema?.objectValue)
        #expect(out["type"] == .string("object"))
        #expect(out["properties"]?.objectValue?["result"]?.objectValue?["type"] != nil)
        #expect(add.annotations.title == "basics.add")

        let wordCount = try #require(byName["textkit.word_count"])
        #expect(wordCount.inputSchema.objectValue?["type"] == .string("object"))
        #expect(wordCount.outputSchema == nil)   // a JSON tool declares no result schema

        let planner = try #require(byName["textkit.agent.planner"])
        #expect(planner.inputSchema.objectValue?["required"] == .array([.string("text")]))
        // An agent without an input schema takes any object.
        #expect(byName["basics.agent.echo"]?.inputSchema == .object(["type": .string("object")]))
        // Every listed name is MCP-valid and reads back to its tool or agent.
        for t in tools {
            #expect(t.name.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D || b == 0x2E
            }, "\(t.name)")
            #expect(MCPToolName(mcpName: t.name) != nil, "\(t.name)")
        }
    }

    @Test("a typed tool's result is structuredContent {result} and the same JSON as text")
    func typedTool() async throws {
        let h = try await MCPHarness.start(plugins: ["c-basics/basics"])
        let r = try await h.call("basics.add", ["a": 2, "b": 40])
        await h.stop()
        #expect(r.isError == false)
        #expect(r.structuredContent == .object(["result": .int(42)]))
        #expect(r.text == #"{"result":42}"#)
    }

    @Test("a JSON tool's object result is structuredContent as it is")
    func jsonTool() async throws {
        let h = try await MCPHarness.start(plugins: ["c-textkit/textkit"])
        let r = try await h.call("textkit.word_count", ["text": "one two three"])
        await h.stop()
        #expect(r.isError == false)
        let s = try #require(r.structuredContent?.objectValue)
        #expect(s.values.contains(.int(3)), "\(s)")
        #expect(r.text.flatMap { MCPValuesForTests.parse($0) } == r.structuredContent)
    }

    @Test("bad arguments are a tool error naming the argument and the reason")
    func badArguments() async throws {
        let h = try await MCPHarness.start(plugins: ["c-basics/basics"])
        let wrongType = try await h.call("basics.add", ["a": "two", "b": 3])
        let missing = try await h.call("basics.add", ["a": 1])
        await h.stop()
        #expect(wrongType.isError == true)
        let t = try #require(wrongType.text)
        #expect(t.hasPrefix("bad_arguments:"), "\(t)")
        #expect(t.contains("argument \"a\"") && t.contains("expected integer"), "\(t)")
        #expect(missing.isError == true)
        #expect(missing.text?.hasPrefix("bad_arguments:") == true, "\(missing.text ?? "")")
        #expect(missing.text?.contains("missing argument \"b\"") == true, "\(missing.text ?? "")")
    }

    @Test("unknown tools and agents are tool errors that say so")
    func unknownTool() async throws {
        let h = try await MCPHarness.start(plugins: ["c-basics/basics"])
        let noTool = try await h.call("basics.subtract")
        let noAgent = try await h.call("basics.agent.nobody")
        let badShape = try await h.call("add")
        await h.stop()
        for r in [noTool, noAgent, badShape] {
            #expect(r.isError == true)
            #expect(r.text?.hasPrefix("unknown tool") == true, "\(r.text ?? "")")
        }
        #expect(noTool.text?.contains("basics.subtract") == true)
    }

    @Test("a tool's own error is isError with its message")
    func toolsOwnError() async throws {
        let h = try await MCPHarness.start(plugins: [], setUp: { rt in
            try rt.tools.register(ToolDescriptor(plugin: "host", name: "fail", inputSchema: ["type": "object"], kind: .host),
                                  implementation: ClosureTool { _, _ in .toolError("\"disk full\"") })
        })
        let r = try await h.call("host.fail")
        await h.stop()
        #expect(r.isError == true)
        #expect(r.text == "tool host.fail failed: disk full")
    }

    @Test("a tool past its deadline is a timeout tool error")
    func timeout() async throws {
        let release = Locked(false)
        let h = try await MCPHarness.start(plugins: [], configure: {
            $0.toolTimeout = .milliseconds(100)
            $0.grace = .milliseconds(100)
        }) { rt in
            try rt.tools.register(ToolDescriptor(plugin: "host", name: "slow", inputSchema: ["type": "object"], kind: .host),
                                  implementation: ClosureTool { _, _ in
                                      // Blocks until the test has its answer (bounded at 10 s).
                                      for _ in 0..<1000 where !release.withLock({ $0 }) { usleep(10_000) }
                                      return .result("1")
                                  })
        }
        let r = try await h.call("host.slow")
        release.withLock { $0 = true }
        await h.stop()
        #expect(r.isError == true)
        #expect(r.text?.hasPrefix("timeout:") == true, "\(r.text ?? "")")
    }

    @Test("a tool whose breaker is open for the user is a circuit_open tool error")
    func openBreaker() async throws {
        let h = try await MCPHarness.start(plugins: ["c-basics/basics"])
        _ = try #require(h.runtime.tools.breaker(for: "basics.add", user: h.user)).force(.forcedOpen)
        let r = try await h.call("basics.add", ["a": 1, "b": 2])
        await h.stop()
        #expect(r.isError == true)
        #expect(r.text?.hasPrefix("circuit_open:") == true, "\(r.text ?? "")")
    }
}

enum MCPValuesForTests {
    static func parse(_ s: String) -> Value? {
        try? JSONDecoder().decode(Value.self, from: Data(s.utf8))
    }
}
