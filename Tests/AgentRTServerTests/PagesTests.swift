import AgentRTCore
import Testing
@testable import AgentRTServer

@Suite("Server page and OpenAPI document")
struct PagesTests {
    @Test("GET / serves the live page; GET /openapi.json a 3.1 document naming every route")
    func pageAndDocument() async throws {
        try await ServerHarness.with { h in
            let page = try await h.get("/", token: nil)
            #expect(page.status == 200)
            #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.body.contains("new WebSocket") && page.body.contains("after_seq"))
            let doc = try await h.get("/openapi.json", token: nil)
            #expect(doc.status == 200)
            #expect(doc.json["openapi"]?.stringValue == "3.1.0")
            let paths = doc.json["paths"]?.objectValue?.keys ?? []
            #expect(Set(paths) == ["/healthz", "/readyz", "/openapi.json", "/metrics", "/", "/v1/agents", "/v1/tools",
                                   "/v1/stats", "/v1/users", "/v1/runs", "/v1/runs/{id}", "/v1/runs/{id}/cancel",
                                   "/v1/events", "/v1/stream", "/mcp"])
            // Every documented GET without parameters is routed (not the router's 404).
            for p in paths where !p.contains("{") && p != "/v1/events" && doc.json["paths"]?[p]?["get"] != nil {
                let r = try await h.get(p, token: p == "/v1/stream" ? nil : h.admin)
                #expect(r.errorCode != "not_found" || r.status != 404, "\(p)")
            }
        }
    }
}
