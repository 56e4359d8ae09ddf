import Foundation
import Testing
@testable import AgentRTServer

/// docs/openapi.json is the served document, byte for byte (regenerate it from
/// `OpenAPIDocument.json` when an endpoint changes: `curl -s localhost:8480/openapi.json > docs/openapi.json`).
@Suite("OpenAPI file")
struct OpenAPIFileTests {
    @Test("docs/openapi.json equals the document the server serves")
    func committedFileMatches() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: repo.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(file == OpenAPIDocument.json + "\n", "docs/openapi.json is stale")
    }
}
