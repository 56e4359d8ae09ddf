import Foundation
import Logging
import MCP

/// Wraps a transport and remembers which client requests are still unanswered, so a server
/// whose input ended (a client that closed stdin right after its last request) can answer what
/// it already received before it stops.
///
/// Counting at the transport is exact: a request is recorded before the server sees it, and
/// settled when its response (result or error) is sent, or when the client cancels it
/// (`notifications/cancelled`: no response is sent then).
actor DrainingTransport: Transport {
    private let inner: any Transport
    nonisolated let logger: Logger
    /// Ids (as JSON text) of requests received and not yet answered or cancelled.
    private var unanswered: Set<String> = []

    init(_ inner: any Transport) {
        self.inner = inner
        self.logger = Logger(label: "agentrt.mcp.draining", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    func connect() async throws { try await inner.connect() }

    func disconnect() async { await inner.disconnect() }

    func send(_ data: Data) async throws {
        try await inner.send(data)
        for m in Self.messages(in: data) where m["method"] == nil && (m["result"] != nil || m["error"] != nil) {
            if let id = m["id"].flatMap(Self.key) { unanswered.remove(id) }
        }
    }

    func receive() -> AsyncThrowingStream<Data, any Error> {
        let inner = inner
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await data in await inner.receive() {
                        self.note(received: data)
                        continuation.yield(data)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Requests received and not yet answered.
    var unansweredCount: Int { unanswered.count }

    /// Waits until every received request is answered or `limit` passed; whether all were.
    /// Polls every 10 ms: this runs once, while the server stops.
    func waitUntilAnswered(limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while !unanswered.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return unanswered.isEmpty
    }

    private func note(received data: Data) {
        for m in Self.messages(in: data) {
            guard let method = m["method"] as? String else { continue }
            if let id = m["id"].flatMap(Self.key) {
                unanswered.insert(id)
            } else if method == CancelledNotification.name,
                      let params = m["params"] as? [String: Any], let id = params["requestId"].flatMap(Self.key) {
                unanswered.remove(id)
            }
        }
    }

    /// The JSON-RPC objects of one message (a batch is an array of them).
    private static func messages(in data: Data) -> [[String: Any]] {
        guard let any = try? JSONSerialization.jsonObject(with: data) else { return [] }
        if let one = any as? [String: Any] { return [one] }
        return (any as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
    }

    /// An id as comparable text: `1` and `"1"` are different ids.
    private static func key(_ id: Any) -> String? {
        if let s = id as? String { return "s:" + s }
        if let n = id as? NSNumber { return "n:" + n.stringValue }
        return nil
    }
}
