import AgentRTCore
import Testing
@testable import AgentRTServer
#if canImport(Glibc)
import Glibc
#endif

/// A raw WebSocket upgrade request (RFC 6455 handshake), answered with one HTTP response.
private func upgrade(port: Int, path: String, headers: [(String, String)] = []) async throws -> TestResponse {
    try await offThread {
        let s = try TestSocket(port: port)
        var h = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        h += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { h += "\(k): \(v)\r\n" }
        try s.send(h + "\r\n")
        let (status, head) = try TestHTTP.readHead(s)
        if status == 101 { return TestResponse(status: status, headers: head, body: "") }
        let len = head.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
        return TestResponse(status: status, headers: head, body: String(decoding: try s.read(len), as: UTF8.self))
    }
}

@Suite("Server: refused WebSocket upgrades get their real status")
struct UpgradeRefusalTests {
    @Test("an upgrade without a token, or with a bad one, is 401 with the JSON error body")
    func unauthorized() async throws {
        try await ServerHarness.with { h in
            let none = try await upgrade(port: h.port, path: "/v1/stream")
            #expect(none.status == 401)
            #expect(none.errorCode == "unauthorized")
            #expect(none.header("WWW-Authenticate") == "Bearer")
            #expect(none.header("Content-Type") == "application/json")
            #expect(none.header("Connection")?.lowercased() == "close")

            let badHeader = try await upgrade(port: h.port, path: "/v1/stream", headers: [("Authorization", "Bearer art_0000")])
            #expect(badHeader.status == 401)
            #expect(badHeader.errorCode == "unauthorized")
            let badScheme = try await upgrade(port: h.port, path: "/v1/stream", headers: [("Authorization", "Basic YTpi")])
            #expect(badScheme.status == 401)
            let badQuery = try await upgrade(port: h.port, path: "/v1/stream?access_token=art_0000")
            #expect(badQuery.status == 401)
            #expect(badQuery.errorCode == "unauthorized")
            // The handshake of an accepted token still upgrades.
            let ok = try await upgrade(port: h.port, path: "/v1/stream?access_token=\(h.alice)")
            #expect(ok.status == 101)
        }
    }

    @Test("a bad cursor is 400 with its message; an upgrade of an unknown path is 404")
    func badCursorAndUnknownPath() async throws {
        try await ServerHarness.with { h in
            let cursor = try await upgrade(port: h.port, path: "/v1/stream?after_seq=-1",
                                           headers: [("Authorization", "Bearer \(h.alice)")])
            #expect(cursor.status == 400)
            #expect(cursor.errorCode == "bad_request")
            #expect(cursor.json["error"]?["message"]?.stringValue?.contains("after_seq") == true)
            let unknown = try await upgrade(port: h.port, path: "/v1/nowhere", headers: [("Authorization", "Bearer \(h.alice)")])
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "not_found")
            // Plain HTTP on the same server is untouched.
            #expect(try await h.get("/v1/agents", token: h.alice).status == 200)
        }
    }

    @Test("while draining, an upgrade with a good token is 503 with Retry-After")
    func draining() async throws {
        let h = try await ServerHarness.start { $0.drainGrace = .seconds(60) }
        let gate = Locked(false)
        try h.runtime.register(agent: AgentDescriptor(plugin: "t", name: "gated"), implementation: ClosureAgent { call, _ in
            while !gate.withLock({ $0 }) && !call.context.isCancelled { usleep(1000) }
            return call.setResult("{}")
        })
        let r = try await h.startRun("t.gated", token: h.alice)
        #expect(r.status == 202)
        let stopping = Task { try await h.stopServer() }
        var answer: TestResponse?
        var failure: (any Error)?
        do {
            try await ServerHarness.eventually("draining") { h.server.state == .draining }
            answer = try await upgrade(port: h.port, path: "/v1/stream", headers: [("Authorization", "Bearer \(h.alice)")])
        } catch { failure = error }
        gate.withLock { $0 = true }   // the drain ends (also when the checks above failed)
        try await stopping.value
        let rt = h.runtime
        try await offThread { rt.shutdown() }
        if let failure { throw failure }
        let refused = try #require(answer)
        #expect(refused.status == 503)
        #expect(refused.errorCode == "draining")
        #expect(refused.header("Retry-After") == "5")
        unlink(h.tokenPath)
    }
}
