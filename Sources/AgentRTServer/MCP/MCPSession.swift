import AgentRTCore
import AgentRTMCP
import Foundation
import Logging
import MCP

/// One MCP session of `/mcp`: an SDK server (with agentrt's handlers, `AgentRTMCPService`) on the
/// SDK's stateful HTTP transport, bound to the user whose token created it. Every tool and agent
/// call of the session runs as that user.
///
/// Lifecycle (`State`): `open` → `closed` (DELETE, idle expiry, server shutdown): the SDK
/// transport is terminated (its streams end, later requests get 404), the server stops and the
/// session's agent runs still in flight are cancelled (nobody could receive their results).
final class MCPSession: @unchecked Sendable {
    enum State: Sendable, Equatable { case open, closed }

    /// What a request got: a plain response, or an SSE stream to copy to the client.
    enum Answer: Sendable {
        case plain(MCP.HTTPResponse)
        case stream(headers: [String: String], relay: MCPResponseRelay)
    }

    let id: String
    let userID: String
    let service: AgentRTMCPService
    private let server: MCP.Server
    private let transport: StatefulHTTPServerTransport
    private let routing: MCPRoutingTransport

    private let lock = Lock()
    // Guarded by `lock`.
    private var state: State = .open
    /// HTTP requests being handled, streams still open included: a session with one is not idle.
    private var active = 0
    private var lastActivity = ContinuousClock.now

    private init(id: String, userID: String, service: AgentRTMCPService, server: MCP.Server,
                 transport: StatefulHTTPServerTransport, routing: MCPRoutingTransport) {
        self.id = id
        self.userID = userID
        self.service = service
        self.server = server
        self.transport = transport
        self.routing = routing
    }

    /// A started session with id `id` (the SDK transport announces it in `Mcp-Session-Id`).
    static func start(id: String, userID: String, runtime: Runtime, observer: MCPRunObserver?,
                      validation: any HTTPRequestValidationPipeline) async throws -> MCPSession {
        let transport = StatefulHTTPServerTransport(sessionIDGenerator: FixedSessionID(id: id),
                                                    validationPipeline: validation)
        let routing = MCPRoutingTransport(transport)
        let service = AgentRTMCPService(runtime: runtime, user: MCPUser(userID: userID), observer: observer)
        let server = await service.makeServer()
        try await server.start(transport: routing)
        return MCPSession(id: id, userID: userID, service: service, server: server, transport: transport,
                          routing: routing)
    }

    var currentState: State { lock.withLock { state } }

    /// Handles one `/mcp` request of this session (or the `initialize` that creates it).
    func handle(_ request: MCP.HTTPRequest) async -> Answer {
        let admitted: Bool = lock.withLock {
            guard state == .open else { return false }
            active += 1
            lastActivity = .now
            return true
        }
        guard admitted else { return .plain(MCPEndpoint.sessionNotFound) }
        let kind = request.method.uppercased() == "POST" ? MCPMessageKind(request.body) : .other
        var relay: MCPResponseRelay?
        if case .request(let rid, _, let token) = kind {
            // Before the SDK sees the request: its handler may send progress at once.
            let r = MCPResponseRelay()
            await routing.register(request: rid, progressToken: token, relay: r)
            relay = r
        }
        let response = await transport.handleRequest(request)
        if case .stream(let sse, let headers) = response {
            let r = relay ?? MCPResponseRelay()
            _ = r.pump(sse)
            return .stream(headers: headers, relay: r)
        }
        if case .request(let rid, _, _) = kind { await routing.forget(request: rid) }
        if case .notification(_, let cancelled?) = kind, response.statusCode == 202 {
            await routing.cancelled(request: cancelled)
        }
        ended()
        return .plain(response)
    }

    /// A request's streamed response was written (or its client went away).
    func ended() {
        lock.withLock {
            active -= 1
            lastActivity = .now
        }
    }

    /// Whether nothing is in progress and nothing happened for `timeout`.
    func isIdle(now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        lock.withLock { state == .open && active == 0 && now - lastActivity >= timeout }
    }

    /// Requests whose response is still to come on a stream.
    var unansweredStreams: Int {
        get async { await routing.unansweredStreams }
    }

    /// Closes the session (idempotent); see `State`.
    func close(reason: String) async {
        let first: Bool = lock.withLock {
            guard state == .open else { return false }
            state = .closed
            return true
        }
        guard first else { return }
        service.cancelRuns(reason: reason)
        await transport.disconnect()
        await server.stop()
    }
}

/// Gives the SDK transport the id the session table chose (unique, random).
private struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}
