import AgentRTCore

/// A minimal HTTP/1.1 client (one request per connection) and an SSE reader, over `TestSocket`.
struct TestResponse: Sendable {
    let status: Int
    let headers: [(String, String)]
    let body: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    /// `error.code` of an error body.
    var errorCode: String? { json["error"]?["code"]?.stringValue }
}

enum TestHTTP {
    static func request(port: Int, _ method: String, _ path: String, token: String? = nil,
                        headers: [(String, String)] = [], body: String? = nil) async throws -> TestResponse {
        try await offThread {
            let s = try TestSocket(port: port)
            try s.send(head(method, path, token: token, headers: headers, bodyBytes: body?.utf8.count) + (body ?? ""))
            return try readResponse(s)
        }
    }

    static func head(_ method: String, _ path: String, token: String?, headers: [(String, String)],
                     bodyBytes: Int?, close: Bool = true) -> String {
        var h = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if close { h += "Connection: close\r\n" }
        if let token { h += "Authorization: Bearer \(token)\r\n" }
        for (k, v) in headers { h += "\(k): \(v)\r\n" }
        if let bodyBytes { h += "Content-Type: application/json\r\nContent-Length: \(bodyBytes)\r\n" }
        return h + "\r\n"
    }

    static func readHead(_ s: TestSocket) throws -> (Int, [(String, String)]) {
        let status = try s.readLine()
        let parts = status.split(separator: " ")
        guard parts.count >= 2, let code = Int(parts[1]) else { throw TestSocket.Failure(description: "bad status line \(status)") }
        var headers: [(String, String)] = []
        while true {
            let line = try s.readLine()
            if line.isEmpty { break }
            if let colon = line.firstIndex(of: ":") {
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces))
            }
        }
        return (code, headers)
    }

    static func readResponse(_ s: TestSocket) throws -> TestResponse {
        let (code, headers) = try readHead(s)
        let find = { (n: String) in headers.first { $0.0.lowercased() == n }?.1 }
        var body: [UInt8] = []
        if find("transfer-encoding")?.lowercased() == "chunked" {
            let reader = ChunkedReader(socket: s)
            while let chunk = try reader.next() { body += chunk }
        } else if let len = find("content-length").flatMap(Int.init) {
            body = try s.read(len)
        } else {
            body = try s.readToEnd()
        }
        return TestResponse(status: code, headers: headers, body: String(decoding: body, as: UTF8.self))
    }
}

/// Reads a chunked body chunk by chunk.
final class ChunkedReader {
    let socket: TestSocket
    init(socket: TestSocket) { self.socket = socket }

    /// The next chunk; nil at the last (zero-length) chunk.
    func next() throws -> [UInt8]? {
        let sizeLine = try socket.readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw TestSocket.Failure(description: "bad chunk size \(sizeLine)")
        }
        if size == 0 { _ = try socket.readLine(); return nil }
        let data = try socket.read(size)
        _ = try socket.readLine()
        return data
    }
}

/// An open `GET /v1/events` stream, read frame by frame (on a thread of its own).
final class TestSSE: @unchecked Sendable {
    struct Frame: Sendable { var id: UInt64?; var event: String?; var data: String?; var comment: String? }

    let socket: TestSocket
    let status: Int
    let headers: [(String, String)]
    private let chunks: ChunkedReader?
    private var text = ""

    init(port: Int, path: String, token: String?, headers: [(String, String)] = []) throws {
        socket = try TestSocket(port: port)
        try socket.send(TestHTTP.head("GET", path, token: token, headers: headers, bodyBytes: nil))
        (status, self.headers) = try TestHTTP.readHead(socket)
        let chunked = self.headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased() == "chunked" }
        chunks = chunked ? ChunkedReader(socket: socket) : nil
    }

    static func open(port: Int, path: String, token: String?, headers: [(String, String)] = []) async throws -> TestSSE {
        try await offThread { try TestSSE(port: port, path: path, token: token, headers: headers) }
    }

    /// The next frame (an event or a comment); nil at the end of the stream.
    func nextFrame() throws -> Frame? {
        while true {
            if let range = text.firstRange(of: "\n\n") {
                let block = text[..<range.lowerBound]
                text = String(text[range.upperBound...])
                var f = Frame()
                for line in block.split(separator: "\n") {
                    if line.hasPrefix(":") { f.comment = String(line.dropFirst()).trimmingSpaces }
                    else if line.hasPrefix("id: ") { f.id = UInt64(line.dropFirst(4)) }
                    else if line.hasPrefix("event: ") { f.event = String(line.dropFirst(7)) }
                    else if line.hasPrefix("data: ") { f.data = String(line.dropFirst(6)) }
                }
                return f
            }
            guard let chunks, let c = try chunks.next() else { return nil }
            text += String(decoding: c, as: UTF8.self)
        }
    }

    /// Frames until `stop` says so (inclusive), on a thread.
    func frames(until stop: @escaping @Sendable (Frame) -> Bool) async throws -> [Frame] {
        try await offThread {
            var out: [Frame] = []
            while let f = try self.nextFrame() {
                out.append(f)
                if stop(f) { return out }
            }
            throw TestSocket.Failure(description: "the stream ended after \(out.count) frames")
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
