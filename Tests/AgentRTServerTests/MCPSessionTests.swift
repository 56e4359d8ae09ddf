import AgentRTCore
import Testing
@testable import AgentRTServer

/// The lifecycle of `/mcp` sessions: limits, DELETE, idle expiry, shutdown, origin checks.
@Suite("MCP sessions")
struct MCPSessionTests {
    @Test("sessions are bounded per user and in all, with a clear error; DELETE frees a slot")
    func limits() async throws {
        try await ServerHarness.with({ $0.mcpMaxSessionsPerUser = 2; $0.mcpMaxSessions = 3 }) { h in
            let first = try await TestMCPSession.open(port: h.port, token: h.alice)
            _ = try await TestMCPSession.open(port: h.port, token: h.alice)
            let third = try await TestMCPStream.post(port: h.port, token: h.alice, headers: [TestMCPSession.sseAccept],
                                                     body: TestMCPSession.initializeBody)
            #expect(third.status == 429)
            let why = try await third.rest()
            #expect(why.contains("already has 2 MCP sessions"), "\(why)")

            _ = try await TestMCPSession.open(port: h.port, token: h.bob)
            let full = try await TestMCPStream.post(port: h.port, token: h.bob, headers: [TestMCPSession.sseAccept],
                                                    body: TestMCPSession.initializeBody)
            #expect(full.status == 503)
            #expect(try await full.rest().contains("holds 3 MCP sessions"))

            #expect(try await first.delete().status == 200)
            #expect(try await first.post(#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#).status == 404)
            _ = try await TestMCPSession.open(port: h.port, token: h.alice)
            #expect(h.server.mcpSessions.count == 3)
        }
    }

    @Test("concurrent initializes of one user never get past the per-user limit")
    func limitUnderConcurrency() async throws {
        try await ServerHarness.with({ $0.mcpMaxSessionsPerUser = 3 }) { h in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { g in
                for _ in 0..<12 {
                    g.addTask {
                        try await TestMCPStream.post(port: h.port, token: h.alice, headers: [TestMCPSession.sseAccept],
                                                     body: TestMCPSession.initializeBody).status
                    }
                }
                var out: [Int] = []
                for try await s in g { out.append(s) }
                return out
            }
            #expect(statuses.filter { $0 == 200 }.count == 3, "\(statuses)")
            #expect(statuses.filter { $0 == 429 }.count == 9, "\(statuses)")
            #expect(h.server.mcpSessions.count(of: "alice") == 3)
        }
    }

    @Test("shutdown lets an MCP agent run finish and its result reach the client before sessions close")
    func shutdownDrainsRuns() async throws {
        let h = try await ServerHarness.start()
        let s = try await TestMCPSession.open(port: h.port, token: h.alice)
        let events = h.runtime.events.subscribe(userID: "alice")
        defer { events.cancel() }
        let id = s.newID()
        let call = try await s.post(TestMCPSession.callBody(id: id, tool: "t.agent.slow", arguments: #"{"ms":300}"#))
        for await e in events where e.kind == .agentStarted { break }
        #expect(h.server.serverState.runsInFlight == 1)   // the drain counts it
        async let stopped: Void = h.stopServer()
        let messages = try await call.messages(untilResponseTo: id)
        try await stopped
        #expect(messages.last?["result"]?["structuredContent"]?["slept"]?.boolValue == true,
                "\(messages.map { $0.serialized() })")
        #expect(h.server.mcpSessions.count == 0)
        try await h.stop()
    }

    @Test("DELETE cancels the session's agent runs still in flight")
    func deleteCancelsRuns() async throws {
        try await ServerHarness.with { h in
            let s = try await TestMCPSession.open(port: h.port, token: h.alice)
            let events = h.runtime.events.subscribe(userID: "alice")
            defer { events.cancel() }
            let stream = try await s.post(TestMCPSession.callBody(id: s.newID(), tool: "t.agent.slow"))
            var runID: String?
            for await e in events where e.kind == .agentStarted && e.agent == "slow" {
                runID = e.runID
                break
            }
            let run = try #require(runID)
            #expect(try await s.delete().status == 200)
            _ = try await stream.messagesToEnd()   // the stream ends with the session
            #expect(try await h.waitFinished(run, token: h.alice).json["status"]?.stringValue == "cancelled")
        }
    }

    @Test("a session without requests for the idle timeout is closed; one with a call open is not")
    func idleExpiry() async throws {
        try await ServerHarness.with { h in
            let idle = try await TestMCPSession.open(port: h.port, token: h.alice)
            let busy = try await TestMCPSession.open(port: h.port, token: h.bob)
            // Bob's session holds a call open (the run goes on) while alice's is left alone.
            let events = h.runtime.events.subscribe(userID: "bob")
            defer { events.cancel() }
            let call = try await busy.post(TestMCPSession.callBody(id: busy.newID(), tool: "t.agent.slow",
                                                                   arguments: #"{"ms":60000}"#))
            for await e in events where e.kind == .agentStarted { break }
            // As if the idle timeout (30 min by default) had passed for both.
            let expired = await h.server.mcpSessions.expireIdle(now: .now + h.server.configuration.mcpIdleTimeout)
            #expect(expired == 1)
            #expect(try await idle.post(#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#).status == 404)
            #expect(h.server.mcpSessions.session(busy.sessionID, of: "bob") != nil)
            #expect(try await busy.delete().status == 200)
            _ = try await call.messagesToEnd()
        }
    }

    @Test("the sweeper closes idle sessions by itself")
    func sweeper() async throws {
        // Long enough that a loaded machine still finishes the handshake (initialize, initialized) in time.
        try await ServerHarness.with({ $0.mcpIdleTimeout = .seconds(2) }) { h in
            let s = try await TestMCPSession.open(port: h.port, token: h.alice)
            try await ServerHarness.eventually("the idle session to expire") {
                h.server.mcpSessions.session(s.sessionID, of: "alice") == nil
            }
            #expect(h.server.mcpSessions.count(of: "alice") == 0)
        }
    }

    @Test("shutdown closes every session and its streams; the server stops")
    func shutdownClosesSessions() async throws {
        let h = try await ServerHarness.start()
        let s = try await TestMCPSession.open(port: h.port, token: h.alice)
        let get = try await TestMCPStream.get(port: h.port, token: h.alice, sessionID: s.sessionID)
        #expect(get.status == 200)
        try await h.stopServer()
        _ = try await get.messagesToEnd()   // returns: the stream ended
        #expect(h.server.mcpSessions.count == 0)
        try await h.stop()
    }

    @Test("Origin: a cross-origin browser page is refused (403), loopback and configured origins pass")
    func origin() async throws {
        try await ServerHarness.with({ $0.mcpAllowedOrigins = ["https://app.example.com"] }) { h in
            var statuses: [Int] = []
            for origin in ["http://evil.example", "http://localhost:3000", "https://app.example.com"] {
                let r = try await TestMCPStream.post(port: h.port, token: h.alice,
                                                     headers: [TestMCPSession.sseAccept, ("Origin", origin)],
                                                     body: TestMCPSession.initializeBody)
                statuses.append(r.status)
            }
            #expect(statuses == [403, 200, 200])
            // A refused initialize leaves no session behind.
            #expect(h.server.mcpSessions.count(of: "alice") == 2)
        }
    }
}
