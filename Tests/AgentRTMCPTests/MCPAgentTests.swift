import AgentRTCore
import AgentRTMCP
import Foundation
import MCP
import Testing

/// Agents served as MCP tools: results, progress from the run's events, cancellation.
@Suite("MCP agents")
struct MCPAgentTests {
    @Test("an agent call with a progressToken gets its events as progress, then its result")
    func agentWithProgress() async throws {
        let h = try await MCPHarness.start(plugins: ["c-textkit/textkit"])
        let token = ProgressToken.string("planner-1")
        let r = try await h.call("textkit.agent.planner", ["text": "hello mcp world"], progressToken: token)
        let progress = h.progress.withLock { $0 }
        await h.stop()

        #expect(r.isError == false, "\(r.text ?? "")")
        #expect(r.structuredContent != nil)
        #expect(r.text.flatMap(MCPValuesForTests.parse) == r.structuredContent)
        // Every notification carries the client's token; progress increases; messages are the
        // run's events (agent_thinking from the agent, the tool_executing/completed pairs).
        #expect(!progress.isEmpty)
        #expect(progress.allSatisfy { $0.progressToken == token })
        #expect(zip(progress, progress.dropFirst()).allSatisfy { $0.progress < $1.progress })
        let types = progress.compactMap { p in
            p.message.flatMap(MCPValuesForTests.parse)?.objectValue?["type"]?.stringValue
        }
        #expect(types.contains("agent_thinking"), "\(types)")
        #expect(types.contains("tool_executing"), "\(types)")
        #expect(types.contains("tool_completed"), "\(types)")
        #expect(!types.contains("agent_started") && !types.contains("agent_completed"), "\(types)")
        // Sent before the result: all of them were received by the time the call returned.
        let runIDs = Set(progress.compactMap { p -> String? in
            let o = p.message.flatMap(MCPValuesForTests.parse)?.objectValue
            return o?["parent_run_id"]?.stringValue ?? o?["run_id"]?.stringValue
        })
        #expect(runIDs.count == 1 && runIDs.first?.hasPrefix("mcp_") == true, "\(runIDs)")
    }

    @Test("two runs of one user at once: each token gets only its own run's events")
    func concurrentRunsKeepTheirProgress() async throws {
        let h = try await MCPHarness.start(plugins: ["c-textkit/textkit"])
        async let a = h.call("textkit.agent.planner", ["text": "first run"], progressToken: .string("a"))
        async let b = h.call("textkit.agent.planner", ["text": "second run here"], progressToken: .integer(2))
        let (ra, rb) = try await (a, b)
        let progress = h.progress.withLock { $0 }
        await h.stop()
        #expect(ra.isError == false && rb.isError == false)
        func runIDs(_ token: ProgressToken) -> Set<String> {
            Set(progress.filter { $0.progressToken == token }.compactMap {
                $0.message.flatMap(MCPValuesForTests.parse)?.objectValue?["run_id"]?.stringValue
            })
        }
        let idsA = runIDs(.string("a")), idsB = runIDs(.integer(2))
        #expect(idsA.count == 1 && idsB.count == 1, "\(idsA) \(idsB)")
        #expect(idsA.isDisjoint(with: idsB))
        // Each run's arguments show up only under its own token.
        let textsA = progress.filter { $0.progressToken == .string("a") }.compactMap(\.message).joined()
        #expect(textsA.contains("first run") && !textsA.contains("second run here"))
    }

    @Test("without a progressToken an agent call sends no progress")
    func agentWithoutProgress() async throws {
        let h = try await MCPHarness.start(plugins: ["c-textkit/textkit"])
        let r = try await h.call("textkit.agent.planner", ["text": "quiet"])
        let progress = h.progress.withLock { $0 }
        await h.stop()
        #expect(r.isError == false)
        #expect(progress.isEmpty)
    }

    @Test("an agent's input is checked against its schema: bad arguments are a tool error")
    func agentBadInput() async throws {
        let h = try await MCPHarness.start(plugins: ["c-textkit/textkit"])
        let r = try await h.call("textkit.agent.planner", ["txt": "typo"])
        await h.stop()
        #expect(r.isError == true)
        #expect(r.text?.hasPrefix("bad_arguments:") == true, "\(r.text ?? "")")
    }

    @Test("an agent's own failure is isError with its message")
    func agentError() async throws {
        let h = try await MCPHarness.start(plugins: [], setUp: { rt in
            try rt.register(agent: AgentDescriptor(plugin: "demo", name: "broken"),
                            implementation: ClosureAgent { call, _ in
                                _ = call.setError("the model is on holiday")
                                return .agentError
                            })
        })
        let r = try await h.call("demo.agent.broken")
        await h.stop()
        #expect(r.isError == true)
        #expect(r.text?.contains("the model is on holiday") == true, "\(r.text ?? "")")
    }

    @Test("notifications/cancelled cancels the run in the runtime and no result is sent")
    func cancel() async throws {
        let h = try await MCPHarness.start(plugins: ["c-guards/guards"])
        let events = h.runtime.events.subscribe(userID: h.user)
        defer { events.cancel() }
        let context: RequestContext<CallTool.Result> = try await h.client.callTool(
            name: "guards.agent.cooperative", arguments: ["ms": 60_000], meta: nil)
        // Wait for the run to start, and learn its id.
        var runID: String?
        for await e in events where e.kind == .agentStarted && e.agent == "cooperative" {
            runID = e.runID
            break
        }
        let id = try #require(runID)
        #expect(id.hasPrefix("mcp_"))
        #expect(h.runtime.isRunInFlight(runID: id, userID: h.user))

        try await h.client.cancelRequest(context.requestID, reason: "test")
        var terminal: Event?
        for await e in events where e.kind.isTerminal && e.runID.utf8.elementsEqual(id.utf8) {
            terminal = e
            break
        }
        #expect(terminal?.kind == .agentCancelled, "\(terminal?.json ?? "none")")
        #expect(!h.runtime.isRunInFlight(runID: id, userID: h.user))
        // The client hears of it in a log notification (no tools/call response is sent).
        let logged = await waitUntil {
            h.logs.withLock { $0.contains { $0.data.objectValue?["run_id"]?.stringValue == id } }
        }
        #expect(logged)
        let entry = h.logs.withLock { $0.first { $0.data.objectValue?["run_id"]?.stringValue == id } }
        #expect(entry?.data.objectValue?["event"] == .string("run_cancelled"))
        #expect(entry?.data.objectValue?["status"] == .string("cancelled"))
        await h.stop()
    }
}
