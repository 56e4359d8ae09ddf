import AgentRTCore
import Testing
@testable import AgentRTServer

@Suite("Server metrics")
struct MetricsTests {
    @Test("GET /metrics: runs by agent and outcome, durations, breakers, connections; no user ids")
    func prometheusText() async throws {
        try await ServerHarness.with { h in
            #expect(try await h.startRun("t.echo", token: h.alice, wait: true).status == 200)
            #expect(try await h.startRun("t.echo", token: h.bob, wait: true).status == 200)
            #expect(try await h.startRun("t.fail", token: h.alice, wait: true).status == 200)
            #expect(try await h.startRun("no.such_agent_\(UInt32.random(in: 0...UInt32.max))", token: h.alice).status == 404)
            let ws = try await TestWebSocket.open(port: h.port, token: h.alice)
            try await ServerHarness.eventually("the WebSocket counted") { h.server.counters.openWebSocketConnections == 1 }
            let m = try await h.get("/metrics", token: nil)
            #expect(m.status == 200)
            #expect(m.header("Content-Type")?.hasPrefix("text/plain") == true)
            let lines = m.body.split(separator: "\n").map(String.init)
            #expect(lines.contains("agentrt_runs_total{agent=\"t.echo\",outcome=\"ok\"} 2"))
            #expect(lines.contains("agentrt_runs_total{agent=\"t.fail\",outcome=\"agent_error\"} 1"))
            #expect(lines.contains("agentrt_runs_total{agent=\"(unknown)\",outcome=\"not_found\"} 1"))
            #expect(lines.contains("agentrt_run_duration_seconds_count{agent=\"t.echo\"} 2"))
            #expect(lines.contains("agentrt_breaker_state{agent=\"t.echo\",state=\"closed\"} 1.0"))
            #expect(lines.contains("agentrt_open_connections{kind=\"websocket\"} 1.0"))
            #expect(lines.contains("agentrt_runs_in_flight 0.0"))
            #expect(!m.body.contains("alice") && !m.body.contains("bob") && !m.body.contains("no.such_agent"))
            _ = ws
        }
    }

    @Test("events emitted: every event appended to users' streams, counted by the server's runtime's bus")
    func eventsEmitted() async throws {
        try await ServerHarness.with { h in
            func value(_ name: String) async throws -> Double? {
                let body = try await h.get("/metrics", token: nil).body
                let line = body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
                return line.flatMap { Double($0.split(separator: " ")[1]) }
            }
            #expect(try await value("agentrt_events_emitted_total") == 0)
            // agent_started, 5 ticks, agent_completed; and agent_started + agent_failed for bob.
            #expect(try await h.startRun("t.chatty", token: h.alice, input: "{\"n\":5}", wait: true).status == 200)
            #expect(try await h.startRun("t.fail", token: h.bob, wait: true).status == 200)
            // A run's terminal event is appended before `wait` answers, but allow for it anyway.
            try await ServerHarness.eventually("9 events") { h.runtime.events.eventsEmitted == 9 }
            #expect(try await value("agentrt_events_emitted_total") == 9)
            // Nobody watched: emitted counts appends, delivered counts frames sent to clients.
            #expect(try await value("agentrt_events_delivered_total") == 0)
            #expect(try await value("agentrt_events_emitted_total") == 9)   // a second scrape adds nothing
        }
    }

    @Test("EventBus.eventsEmitted counts appends across users and dropped streams")
    func busCount() {
        let bus = EventBus(replayCapacity: 4)
        func event(_ user: String) -> Event {
            Event(kind: .custom, userID: user, sessionID: "s", runID: "r", plugin: "p", agent: "a", dataJSON: "{}")
        }
        #expect(bus.eventsEmitted == 0)
        for _ in 0..<10 { bus.publish(event("u1")) }   // more than the replay ring keeps
        for _ in 0..<3 { bus.publish(event("u2")) }
        #expect(bus.eventsEmitted == 13)
        #expect(bus.dropStream(for: "u1"))
        #expect(bus.eventsEmitted == 13)
        bus.publish(event("u1"))   // a new stream, numbered above the old one
        #expect(bus.eventsEmitted == 14)
        bus.dropAllStreams()
        #expect(bus.eventsEmitted == 14)
        bus.publish(event("u2"))
        #expect(bus.eventsEmitted == 15)
    }
}
