import AgentRTCore
import Hummingbird
import HummingbirdWebSocket

/// `GET /v1/stream`: the WebSocket face. Authenticated before the upgrade (401 otherwise; a
/// browser passes `?access_token=`); `?after_seq=N` starts with a replay, as a later
/// `{"type":"subscribe","after_seq":N}` does.
struct StreamWebSocket: Sendable {
    let runtime: Runtime
    let state: ServerState
    let auth: Authenticator
    let configuration: ServerConfiguration
    let metrics: ServerCounters
    let serverMetrics: ServerMetrics

    func register<Context: WebSocketRequestContext & RequestContext>(on router: Router<Context>) {
        let auth = self.auth
        let state = self.state
        router.ws("/v1/stream", shouldUpgrade: { request, _ in
            try Self.check(request, auth: auth, state: state)
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            try await serve(inbound, outbound, request: context.request)
        })
    }

    /// What an upgrade must pass: a token (401), a valid cursor (400), a server not draining (503).
    static func check(_ request: Request, auth: Authenticator, state: ServerState) throws(APIError) {
        _ = try auth.principal(request, allowQueryToken: true)
        _ = try cursor(request)
        if state.isDraining { throw APIError.draining }
    }

    static func cursor(_ request: Request) throws(APIError) -> UInt64? {
        guard let q = request.uri.queryParameters["after_seq"] else { return nil }
        guard let n = UInt64(q) else { throw APIError.badRequest("after_seq must be a non-negative integer") }
        return n
    }

    func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter, request: Request) async throws {
        guard let who = try? auth.principal(request, allowQueryToken: true) else { return }
        let session = WebSocketSession(principal: who, runtime: runtime, state: state, configuration: configuration,
                                       metrics: metrics, serverMetrics: serverMetrics)
        guard state.open(session) else {
            try await outbound.close(.goingAway, reason: "the server is shutting down")
            return
        }
        metrics.webSocketOpened()
        defer {
            session.stop()
            state.closed(session)
            metrics.webSocketClosed()
        }
        session.subscribe(after: try? Self.cursor(request))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await session.writeLoop(outbound) }
            group.addTask {
                defer { session.buffer.finish() }
                try? await session.readLoop(inbound)
            }
            // A writer blocked on a client that does not read cannot send its close frame: once
            // the connection is to close (overflow, shutdown), it gets `closeGrace`, then the
            // connection's tasks are cancelled, so a stuck client never holds up a shutdown.
            let grace = configuration.closeGrace
            group.addTask {
                await session.buffer.waitUntilNotOpen()
                try? await Task.sleep(for: grace)
            }
            // Whichever ends first ends the connection: the client left, the writer closed it,
            // or the close grace ran out.
            _ = await group.next()
            session.stop()
            group.cancelAll()
        }
    }
}

extension AgentServer {
    /// The router that decides WebSocket upgrades (the HTTP router answers everything else,
    /// plain GETs of `/v1/stream` too). A refusal here installs `UpgradeRefusalHandler`, so the
    /// client gets the refusal's status and body rather than hummingbird-websocket's bare 400.
    func makeWebSocketRouter() -> Router<UpgradeRequestContext> {
        let router = Router(context: UpgradeRequestContext.self)
        router.add(middleware: RefusedUpgradeMiddleware())
        router.add(middleware: ErrorBodyMiddleware())
        StreamWebSocket(runtime: runtime, state: serverState, auth: Authenticator(tokens: tokens), configuration: configuration,
                        metrics: counters, serverMetrics: metrics).register(on: router)
        return router
    }
}
