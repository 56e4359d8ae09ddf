import Foundation
import Logging
import MCP

/// The transport an MCP session's server speaks to: the SDK's `StatefulHTTPServerTransport`,
/// plus one routing rule the SDK lacks.
///
/// The SDK sends every notification to the session's GET stream. A progress notification
/// belongs to a request, though, and the spec lets the server send it on that request's own SSE
/// stream: there it reaches a client that never opened a GET stream (or has not yet), and it
/// arrives before the response. So a `notifications/progress` whose token came with a request
/// still waiting for its response goes to that request's stream (`MCPResponseRelay`);
/// everything else goes to the SDK transport as it is.
actor MCPRoutingTransport: Transport {
    let inner: StatefulHTTPServerTransport
    nonisolated let logger: Logger
    /// Request id key → the relay of its POST's SSE response, while unanswered.
    private var relays: [String: MCPResponseRelay] = [:]
    /// Progress token key → the request id key it came with.
    private var requestOfToken: [String: String] = [:]

    init(_ inner: StatefulHTTPServerTransport) {
        self.inner = inner
        self.logger = inner.logger
    }

    func connect() async throws { try await inner.connect() }

    func disconnect() async { await inner.disconnect() }

    func receive() -> AsyncThrowingStream<Data, any Error> {
        let inner = inner
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await data in await inner.receive() { continuation.yield(data) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func send(_ data: Data) async throws {
        if let token = MCPMessageKind.progressToken(ofNotification: data), let request = requestOfToken[token],
           let relay = relays[request] {
            relay.push(MCPResponseRelay.event(data))
            return
        }
        try await inner.send(data)
        if case .response(let id) = MCPMessageKind(data) { forget(request: id) }
    }

    /// Routes the progress of request `id` (token `progressToken`) to `relay` until it is answered.
    func register(request id: String, progressToken: String?, relay: MCPResponseRelay) {
        relays[id] = relay
        if let progressToken { requestOfToken[progressToken] = id }
    }

    /// The request got its response, was refused by the SDK, or was cancelled.
    func forget(request id: String) {
        relays.removeValue(forKey: id)
        requestOfToken = requestOfToken.filter { $0.value != id }
    }

    /// The client cancelled request `id`: no response will come (the spec), so its stream ends.
    func cancelled(request id: String) {
        relays[id]?.finish()
        forget(request: id)
    }

    /// Requests still waiting for their response on a stream.
    var unansweredStreams: Int { relays.count }
}
