import AgentRTCore

/// A minimal WebSocket client (RFC 6455) over `TestSocket`: masked text frames out; text,
/// ping (answered with pong) and close frames in.
final class TestWebSocket: @unchecked Sendable {
    enum Message: Sendable {
        case text(String)
        case ping
        case close(code: Int, reason: String)
    }

    let socket: TestSocket
    /// Pings received so far.
    private(set) var pings = 0

    /// Opens `path`; throws `Rejected` with the HTTP status when the server refuses the upgrade.
    init(port: Int, path: String, token: String?, receiveBuffer: Int? = nil) throws {
        socket = try TestSocket(port: port, receiveBuffer: receiveBuffer)
        var h = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        h += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let token { h += "Authorization: Bearer \(token)\r\n" }
        try socket.send(h + "\r\n")
        let (status, _) = try TestHTTP.readHead(socket)
        guard status == 101 else { throw Rejected(status: status) }
    }

    struct Rejected: Error { let status: Int }

    static func open(port: Int, path: String = "/v1/stream", token: String?, receiveBuffer: Int? = nil) async throws -> TestWebSocket {
        try await offThread { try TestWebSocket(port: port, path: path, token: token, receiveBuffer: receiveBuffer) }
    }

    func send(_ text: String) throws { try sendFrame(opcode: 1, Array(text.utf8)) }

    func send(json: JSONValue) async throws {
        let text = json.serialized()
        try await offThread { try self.send(text) }
    }

    private func sendFrame(opcode: UInt8, _ payload: [UInt8]) throws {
        var f: [UInt8] = [0x80 | opcode]
        let n = payload.count
        if n < 126 { f.append(0x80 | UInt8(n)) }
        else if n < 65536 { f += [0x80 | 126, UInt8(n >> 8), UInt8(n & 255)] }
        else { f.append(0x80 | 127); for s in stride(from: 56, through: 0, by: -8) { f.append(UInt8((n >> s) & 255)) } }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        f += mask
        for (i, b) in payload.enumerated() { f.append(b ^ mask[i & 3]) }
        try socket.send(f)
    }

    /// The next message (pings are answered and returned too).
    func next() throws -> Message {
        var text: [UInt8] = []
        while true {
            let h = try socket.read(2)
            let fin = h[0] & 0x80 != 0, opcode = h[0] & 0x0F
            var len = Int(h[1] & 0x7F)
            if len == 126 { let b = try socket.read(2); len = Int(b[0]) << 8 | Int(b[1]) }
            else if len == 127 { len = try socket.read(8).reduce(0) { $0 << 8 | Int($1) } }
            let payload = len > 0 ? try socket.read(len) : []
            switch opcode {
            case 0x9:
                pings += 1
                try sendFrame(opcode: 0xA, payload)
                return .ping
            case 0xA: continue
            case 0x8:
                let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
                let reason = payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : ""
                try? sendFrame(opcode: 0x8, Array(payload.prefix(2)))
                return .close(code: code, reason: reason)
            default:
                text += payload
                if fin { return .text(String(decoding: text, as: UTF8.self)) }
            }
        }
    }

    /// JSON messages until `stop` says so (inclusive), skipping pings; throws on close.
    func messages(until stop: @escaping @Sendable (JSONValue) -> Bool) async throws -> [JSONValue] {
        try await offThread {
            var out: [JSONValue] = []
            while true {
                switch try self.next() {
                case .ping: continue
                case .close(let code, let reason):
                    throw TestSocket.Failure(description: "closed \(code) \(reason) after \(out.count) messages")
                case .text(let t):
                    let v = (try? JSONValue.parse(t)) ?? .null
                    out.append(v)
                    if stop(v) { return out }
                }
            }
        }
    }

    /// Messages until the server closes; returns them with the close code and reason.
    func untilClose() async throws -> (messages: [JSONValue], code: Int, reason: String) {
        try await offThread {
            var out: [JSONValue] = []
            while true {
                switch try self.next() {
                case .ping: continue
                case .close(let code, let reason): return (out, code, reason)
                case .text(let t): out.append((try? JSONValue.parse(t)) ?? .null)
                }
            }
        }
    }

    /// Waits for `count` pings (anything else in between is skipped).
    func waitForPings(_ count: Int) async throws {
        try await offThread {
            while self.pings < count { _ = try self.next() }
        }
    }
}
