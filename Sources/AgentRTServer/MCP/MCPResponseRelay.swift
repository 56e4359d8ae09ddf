import Foundation

/// One streamed `/mcp` response (the SSE answer to a POSTed request, or the GET stream) on its
/// way to the HTTP response body.
///
/// Two producers feed it in order: the SDK transport's stream (priming event, the response,
/// and for GET the server's notifications), pumped in by `MCPSession`, and the progress
/// notifications `MCPRoutingTransport` sends straight to the request they belong to. A
/// progress notification is pushed while the server sends it, before the request's response
/// is even handed to the SDK, so it always reaches the client before the response.
///
/// Unbounded: what one request produces is bounded by its run (the runtime's events of one
/// run), and a client that stops reading is found out by the keepalive write and dropped.
final class MCPResponseRelay: Sendable {
    let chunks: AsyncStream<Data>
    private let continuation: AsyncStream<Data>.Continuation

    init() {
        (chunks, continuation) = AsyncStream<Data>.makeStream()
    }

    /// Queues SSE bytes for the client (a no-op once finished).
    func push(_ sse: Data) { continuation.yield(sse) }

    /// Ends the response once what is queued was written.
    func finish() { continuation.finish() }

    /// Copies `stream` (the SDK's SSE bytes) into the relay, then finishes it.
    func pump(_ stream: AsyncThrowingStream<Data, any Error>) -> Task<Void, Never> {
        Task {
            do {
                for try await chunk in stream { push(chunk) }
            } catch {}
            finish()
        }
    }

    /// Writes an SSE comment every `interval` until cancelled: proxies keep the connection, and
    /// a client that vanished is noticed (the write fails) instead of holding its stream.
    func keepalive(every interval: Duration) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                push(Self.keepaliveComment)
            }
        }
    }

    static let keepaliveComment = Data(": keepalive\n\n".utf8)

    /// A JSON-RPC message as one SSE event, as the SDK frames them (`event: message`; no id:
    /// progress is not replayed on resumption). Encoded JSON holds no raw newline.
    static func event(_ message: Data) -> Data {
        var d = Data("event: message\ndata: ".utf8)
        d.append(message)
        d.append(contentsOf: Array("\n\n".utf8))
        return d
    }
}
