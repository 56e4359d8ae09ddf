/// Settings of `AgentServer`: where it listens and the bounds that keep a slow or hostile client
/// from costing the server memory. Tests shorten the intervals.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); `AgentServer.port` tells which.
    public var port = 8480
    /// Largest request body (and WebSocket message) accepted; larger ones get 413.
    public var maxBodyBytes = 1 << 20
    /// A `: keepalive` comment on an SSE stream after this long without an event (proxies close
    /// quiet connections).
    public var keepaliveInterval: Duration = .seconds(15)
    /// WebSocket pings at this period.
    public var pingInterval: Duration = .seconds(15)
    /// Per-WebSocket send buffer: frames and bytes queued for a client that has not read them.
    /// A client past either is closed with 1008 and told the seq to resume from.
    public var sendBufferFrames = 1024
    public var sendBufferBytes = 8 << 20
    /// How long a full send buffer may stay full before its client counts as too slow (a burst,
    /// such as a replay, only waits for the client).
    public var slowConsumerPatience: Duration = .seconds(2)
    /// How long a WebSocket that is to close (slow consumer, shutdown) may take to flush its
    /// close frame before the connection is cut.
    public var closeGrace: Duration = .seconds(5)
    /// At shutdown, how long runs in flight may finish before they are cancelled.
    public var drainGrace: Duration = .seconds(10)
    /// Longest `timeout_ms` a run may ask for.
    public var maxRunTimeout: Duration = .seconds(24 * 3600)
    /// `/mcp`: MCP sessions held at once, in all and per user (an `initialize` past either is
    /// refused, 503 or 429), and how long a session may go without a request before it is closed.
    public var mcpMaxSessions = 256
    public var mcpMaxSessionsPerUser = 16
    public var mcpIdleTimeout: Duration = .seconds(30 * 60)
    /// Browser origins (`Origin` header) allowed on `/mcp` besides loopback pages of a loopback
    /// listener, e.g. `https://app.example.com`; requests without `Origin` always pass.
    public var mcpAllowedOrigins: [String] = []

    public init() {}
}

/// Parses sizes like `1MiB`, `512KiB`, `64k`, `1000` (bytes).
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let s = text.lowercased()
        let units: [(String, Int)] = [("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30),
                                      ("kb", 1000), ("mb", 1_000_000), ("gb", 1_000_000_000),
                                      ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let n = Int(s.dropLast(suffix.count)), n > 0, n <= Int(Int32.max) / scale else { return nil }
            return n * scale
        }
        guard let n = Int(s), n > 0 else { return nil }
        return n
    }
}
