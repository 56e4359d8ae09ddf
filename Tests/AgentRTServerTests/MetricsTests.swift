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
}
