import AgentRTCore

/// A minimal MCP client over Streamable HTTP on raw sockets (the SDK's `HTTPClientTransport`
/// reads no SSE on Linux): `initialize`, then requests whose SSE answer is read message by
/// message, notifications, GET and DELETE. One request per connection.
final class TestMCPSession: @unchecked Sendable {
    let port: Int
    let token: String
    let sessionID: String
    private let nextID = Locked(100)

    static let sseAccept = ("Accept", "application/json, text/event-stream")
    static let version = ("MCP-Protocol-Version", "2025-11-25")

    private init(port: Int, token: String, sessionID: String) {
        self.port = port
        self.token = token
        self.sessionID = sessionID
    }

    /// `initialize` (then `notifications/initialized`); throws unless it succeeded.
    static func open(port: Int, token: String, headers: [(String, String)] = []) async throws -> TestMCPSession {
        let stream = try await TestMCPStream.post(port: port, token: token, headers: [sseAccept] + headers, body: initializeBody)
        guard stream.status == 200, let id = stream.header("mcp-session-id") else {
            throw TestSocket.Failure(description: "initialize: \(stream.status) \(try await stream.rest())")
        }
        let messages = try await stream.messages(untilResponseTo: 1)
        guard messages.last?["result"]?["protocolVersion"] != nil else {
            throw TestSocket.Failure(description: "initialize answered \(messages)")
        }
        let s = TestMCPSession(port: port, token: token, sessionID: id)
        let ack = try await s.notify(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        guard ack.status == 202 else { throw TestSocket.Failure(description: "initialized: \(ack.status)") }
        return s
    }

    static let initializeBody = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"agentrt-tests","version":"1"}}}"#

    func newID() -> Int { nextID.withLock { $0 += 1; return $0 } }

    var headers: [(String, String)] { [Self.sseAccept, Self.version, ("Mcp-Session-Id", sessionID)] }

    /// POSTs a request and returns its open answer (status and SSE stream).
    func post(_ body: String, token: String? = nil, sessionID: String? = nil) async throws -> TestMCPStream {
        try await TestMCPStream.post(port: port, token: token ?? self.token,
                                     headers: [Self.sseAccept, Self.version, ("Mcp-Session-Id", sessionID ?? self.sessionID)],
                                     body: body)
    }

    /// A `tools/call` request body (with `_meta.progressToken` when given).
    static func callBody(id: Int, tool: String, arguments: String = "{}", progressToken: String? = nil) -> String {
        let meta = progressToken.map { #","_meta":{"progressToken":"\#($0)"}"# } ?? ""
        return #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"\#(tool)","arguments":\#(arguments)\#(meta)}}"#
    }

    /// Calls `tool` and reads its answer to the end: every message (progress first), the last the response.
    func call(_ tool: String, arguments: String = "{}", progressToken: String? = nil) async throws -> [JSONValue] {
        let id = newID()
        let stream = try await post(Self.callBody(id: id, tool: tool, arguments: arguments, progressToken: progressToken))
        guard stream.status == 200 else { throw TestSocket.Failure(description: "tools/call: \(stream.status)") }
        return try await stream.messages(untilResponseTo: id)
    }

    /// `tools/list`: the listed tool names.
    func toolNames() async throws -> [String] {
        let id = newID()
        let stream = try await post(#"{"jsonrpc":"2.0","id":\#(id),"method":"tools/list"}"#)
        let response = try await stream.messages(untilResponseTo: id).last
        return response?["result"]?["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    /// POSTs a notification (or anything answered without a stream).
    func notify(_ body: String, token: String? = nil) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "POST", "/mcp", token: token ?? self.token, headers: headers, body: body)
    }

    func delete(token: String? = nil) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "DELETE", "/mcp", token: token ?? self.token,
                                   headers: [Self.version, ("Mcp-Session-Id", sessionID)])
    }
}

/// One open `/mcp` answer: its status and headers, then its SSE messages as they come.
final class TestMCPStream: @unchecked Sendable {
    let socket: TestSocket
    let status: Int
    let headers: [(String, String)]
    private let chunks: ChunkedReader?
    private var text = ""

    private init(socket: TestSocket, status: Int, headers: [(String, String)]) {
        self.socket = socket
        self.status = status
        self.headers = headers
        let chunked = headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }
        chunks = chunked ? ChunkedReader(socket: socket) : nil
    }

    static func post(port: Int, token: String?, headers: [(String, String)], body: String) async throws -> TestMCPStream {
        try await offThread {
            let s = try TestSocket(port: port)
            try s.send(TestHTTP.head("POST", "/mcp", token: token, headers: headers, bodyBytes: body.utf8.count) + body)
            let (status, h) = try TestHTTP.readHead(s)
            return TestMCPStream(socket: s, status: status, headers: h)
        }
    }

    static func get(port: Int, token: String, sessionID: String) async throws -> TestMCPStream {
        try await offThread {
            let s = try TestSocket(port: port)
            try s.send(TestHTTP.head("GET", "/mcp", token: token,
                                     headers: [("Accept", "text/event-stream"), ("Mcp-Session-Id", sessionID)], bodyBytes: nil))
            let (status, h) = try TestHTTP.readHead(s)
            return TestMCPStream(socket: s, status: status, headers: h)
        }
    }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    /// The next SSE event's data (priming events and comments skipped); nil at the end.
    func nextMessage() throws -> JSONValue? {
        while true {
            if let range = text.firstRange(of: "\n\n") {
                let block = text[..<range.lowerBound]
                text = String(text[range.upperBound...])
                for line in block.split(separator: "\n") where line.hasPrefix("data: ") {
                    if let v = try? JSONValue.parse(String(line.dropFirst(6))) { return v }
                }
                continue
            }
            guard let chunks, let c = try chunks.next() else { return nil }
            text += String(decoding: c, as: UTF8.self)
        }
    }

    /// Messages up to and including the response to `id` (throws if the stream ends first).
    func messages(untilResponseTo id: Int) async throws -> [JSONValue] {
        try await offThread {
            var out: [JSONValue] = []
            while let m = try self.nextMessage() {
                out.append(m)
                if m["id"]?.numberValue?.int64 == Int64(id), m["method"] == nil { return out }
            }
            throw TestSocket.Failure(description: "the stream ended without the response to \(id): \(out)")
        }
    }

    /// Every message until the stream ends.
    func messagesToEnd() async throws -> [JSONValue] {
        try await offThread {
            var out: [JSONValue] = []
            while let m = try self.nextMessage() { out.append(m) }
            return out
        }
    }

    /// The rest of a plain (non-stream) body.
    func rest() async throws -> String {
        try await offThread {
            if let len = self.header("content-length").flatMap(Int.init) {
                return String(decoding: try self.socket.read(len), as: UTF8.self)
            }
            return String(decoding: try self.socket.readToEnd(), as: UTF8.self)
        }
    }
}
