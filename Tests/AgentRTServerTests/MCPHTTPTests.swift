import AgentRTCore
import Testing
@testable import AgentRTServer

/// `/mcp` on a real server: the MCP Streamable HTTP transport with the bearer token deciding
/// the user.
@Suite("MCP over HTTP")
struct MCPHTTPTests {
    static func addTool(_ rt: Runtime) throws {
        let schema: JSONValue = ["type": "object", "required": ["a", "b"],
                                 "properties": ["a": ["type": "integer"], "b": ["type": "integer"]]]
        try rt.tools.register(ToolDescriptor(plugin: "t", name: "add", inputSchema: schema, kind: .host),
                              implementation: ClosureTool { _, args in
            .result("{\"sum\":\(args["a"]!.int64Value! + args["b"]!.int64Value!)}")
        })
    }

    static func response(_ messages: [JSONValue]) -> JSONValue? { messages.last?["result"] }
    static func text(_ result: JSONValue?) -> String { result?["content"]?.arrayValue?.first?["text"]?.stringValue ?? "" }
    static func runID(_ result: JSONValue?) -> String? { result?["_meta"]?["agentrt/run_id"]?.stringValue }

    @Test("tools/list and tools/call of a tool and an agent, as the token's user")
    func listAndCall() async throws {
        try await ServerHarness.with { h in
            try Self.addTool(h.runtime)
            let s = try await TestMCPSession.open(port: h.port, token: h.alice)
            let names = try await s.toolNames()
            #expect(names.contains("t.add") && names.contains("t.agent.echo") && names.contains("t.agent.slow"), "\(names)")

            let sum = Self.response(try await s.call("t.add", arguments: #"{"a":2,"b":40}"#))
            #expect(sum?["isError"]?.boolValue == false)
            #expect(sum?["structuredContent"]?["sum"]?.int64Value == 42, "\(sum?.serialized() ?? "none")")

            let bad = Self.response(try await s.call("t.add", arguments: #"{"a":"two","b":3}"#))
            #expect(bad?["isError"]?.boolValue == true)
            #expect(Self.text(bad).hasPrefix("bad_arguments:") && Self.text(bad).contains("/a: expected integer"), "\(Self.text(bad))")

            let echo = Self.response(try await s.call("t.agent.echo", arguments: #"{"hi":1}"#))
            #expect(echo?["structuredContent"]?["hi"]?.int64Value == 1)
            // The run is alice's: hers to read, not bob's.
            let run = try #require(Self.runID(echo))
            #expect(try await h.get("/v1/runs/\(run)", token: h.alice).json["status"]?.stringValue == "ok")
            #expect(try await h.get("/v1/runs/\(run)", token: h.bob).status == 404)
        }
    }

    @Test("an agent's events reach the client as progress on the request's own stream, before the result")
    func progress() async throws {
        try await ServerHarness.with { h in
            let s = try await TestMCPSession.open(port: h.port, token: h.alice)
            let messages = try await s.call("t.agent.chatty", arguments: #"{"n":5}"#, progressToken: "tick-1")
            let progress = messages.filter { $0["method"]?.stringValue == "notifications/progress" }
            #expect(progress.count == 5, "\(messages.map { $0.serialized() })")
            #expect(progress.allSatisfy { $0["params"]?["progressToken"]?.stringValue == "tick-1" })
            let values = progress.compactMap { $0["params"]?["progress"]?.doubleValue }
            #expect(values == [1, 2, 3, 4, 5])
            let run = try #require(Self.runID(Self.response(messages)))
            let events = progress.compactMap { $0["params"]?["message"]?.stringValue.flatMap { try? JSONValue.parse($0) } }
            #expect(events.count == 5 && events.allSatisfy {
                $0["type"]?.stringValue == "custom" && $0["data"]?["name"]?.stringValue == "tick" && $0["run_id"]?.stringValue == run
                    && $0["user_id"]?.stringValue == "alice"
            }, "\(events.map { $0.serialized() })")
            #expect(Self.response(messages)?["structuredContent"]?["sent"]?.int64Value == 5)
        }
    }

    @Test("notifications/cancelled cancels the agent run; its stream ends without a response")
    func cancel() async throws {
        try await ServerHarness.with { h in
            let s = try await TestMCPSession.open(port: h.port, token: h.alice)
            let events = h.runtime.events.subscribe(userID: "alice")
            defer { events.cancel() }
            let id = s.newID()
            let stream = try await s.post(TestMCPSession.callBody(id: id, tool: "t.agent.slow"))
            #expect(stream.status == 200)
            var runID: String?
            for await e in events where e.kind == .agentStarted && e.agent == "slow" {
                runID = e.runID
                break
            }
            let run = try #require(runID)
            let ack = try await s.notify(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":\#(id),"reason":"test"}}"#)
            #expect(ack.status == 202)
            let rest = try await stream.messagesToEnd()
            #expect(!rest.contains { $0["id"]?.int64Value == Int64(id) }, "\(rest.map { $0.serialized() })")
            let record = try await h.waitFinished(run, token: h.alice)
            #expect(record.json["status"]?.stringValue == "cancelled", "\(record.body)")
        }
    }

    @Test("no token or an unknown one is 401 in the API's error format")
    func unauthorized() async throws {
        try await ServerHarness.with { h in
            let headers = [TestMCPSession.sseAccept]
            let none = try await TestHTTP.request(port: h.port, "POST", "/mcp", headers: headers, body: TestMCPSession.initializeBody)
            let wrong = try await TestHTTP.request(port: h.port, "POST", "/mcp", token: "nope", headers: headers,
                                                   body: TestMCPSession.initializeBody)
            #expect(none.status == 401 && wrong.status == 401)
            #expect(none.errorCode == "unauthorized" && wrong.errorCode == "unauthorized", "\(none.body) \(wrong.body)")
            #expect(h.server.mcpSessions.count == 0)
        }
    }

    @Test("another user's session id is 404, exactly like one that never existed")
    func otherUsersSession() async throws {
        try await ServerHarness.with { h in
            let alice = try await TestMCPSession.open(port: h.port, token: h.alice)
            let list = #"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#
            let asBob = try await alice.post(list, token: h.bob)
            let unknown = try await alice.post(list, sessionID: String(repeating: "f", count: 32))
            #expect(asBob.status == 404 && unknown.status == 404)
            let (bobBody, unknownBody) = (try await asBob.rest(), try await unknown.rest())
            #expect((try? JSONValue.parse(bobBody)) == (try? JSONValue.parse(unknownBody)), "\(bobBody) vs \(unknownBody)")
            #expect(try await alice.delete(token: h.bob).status == 404)
            // Alice's session is untouched.
            #expect(try await alice.toolNames().contains("t.agent.echo"))
        }
    }

    @Test("two users at once: each session's runs and progress are its own user's")
    func twoUsersAtOnce() async throws {
        try await ServerHarness.with { h in
            async let a = TestMCPSession.open(port: h.port, token: h.alice)
            async let b = TestMCPSession.open(port: h.port, token: h.bob)
            let (alice, bob) = try await (a, b)
            for _ in 0..<3 {
                async let ra = alice.call("t.agent.chatty", arguments: #"{"n":20}"#, progressToken: "a")
                async let rb = bob.call("t.agent.chatty", arguments: #"{"n":20}"#, progressToken: "b")
                let (ma, mb) = try await (ra, rb)
                for (messages, mine, theirs) in [(ma, h.alice, h.bob), (mb, h.bob, h.alice)] {
                    let run = try #require(Self.runID(Self.response(messages)))
                    let progress = messages.filter { $0["method"] != nil }
                    #expect(progress.count == 20)
                    #expect(progress.allSatisfy {
                        $0["params"]?["message"]?.stringValue.flatMap { try? JSONValue.parse($0) }?["run_id"]?.stringValue == run
                    })
                    #expect(try await h.get("/v1/runs/\(run)", token: mine).status == 200)
                    #expect(try await h.get("/v1/runs/\(run)", token: theirs).status == 404)
                }
            }
            #expect(h.server.mcpSessions.count(of: "alice") == 1 && h.server.mcpSessions.count(of: "bob") == 1)
        }
    }
}
