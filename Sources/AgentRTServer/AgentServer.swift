import AgentRTCore
import AgentRTMCP
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import UnixSignals

/// `agentrt serve`: HTTP, SSE and WebSocket over one `Runtime`. A thin face: it turns requests
/// into `RunRequest`s and the runtime's per-user streams into frames; every guard, limit and
/// isolation rule is the runtime's.
///
/// Lifecycle (`State`): `created` → `running` (listening) → `draining` (a signal or `shutdown()`:
/// readyz and new runs answer 503, streams close with 1001, runs in flight get `drainGrace` to
/// finish and are then cancelled) → `stopped`.
public final class AgentServer: Sendable {
    public enum State: Sendable, Equatable { case created, running(port: Int), draining, stopped }

    public let runtime: Runtime
    public let configuration: ServerConfiguration
    public let counters = ServerCounters()
    let tokens: TokenStore
    let serverState: ServerState
    let logger: Logger
    /// The sessions of `/mcp` (closed at the end of the drain).
    let mcpSessions: MCPSessions
    /// One registry for both routers (HTTP and WebSocket upgrades).
    let metrics: ServerMetrics
    private let lifecycle = Locked<Lifecycle>(Lifecycle())

    private struct Lifecycle {
        var state: State = .created
        var group: ServiceGroup?
        var shutdownRequested = false
        var portWaiters: [CheckedContinuation<Int?, Never>] = []
    }

    public init(runtime: Runtime, tokens: TokenStore, configuration: ServerConfiguration = ServerConfiguration(),
                logger: Logger = Logger(label: "agentrt.serve")) {
        runtime.runRecords.enable()   // GET /v1/runs/{id} answers from them
        self.runtime = runtime
        self.tokens = tokens
        self.configuration = configuration
        self.logger = logger
        let state = ServerState()
        serverState = state
        // MCP agent runs count as the server's runs: the drain waits for them, then cancels them.
        mcpSessions = MCPSessions(
            limits: .init(maxSessions: configuration.mcpMaxSessions, maxSessionsPerUser: configuration.mcpMaxSessionsPerUser,
                          idleTimeout: configuration.mcpIdleTimeout),
            runtime: runtime,
            observer: MCPRunObserver(admit: { state.beginRun($0, userID: $1) }, ended: { state.endRun($0) }),
            validation: MCPOriginPolicy.pipeline(listenHost: configuration.host, allowedOrigins: configuration.mcpAllowedOrigins))
        metrics = ServerMetrics(runtime: runtime, state: serverState, counters: counters)
    }

    public var state: State { lifecycle.withLock { $0.state } }

    /// The router of every endpoint (also used by tests without a socket).
    func makeRouter() -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.add(middleware: ErrorBodyMiddleware())
        let auth = Authenticator(tokens: tokens)
        let metrics = self.metrics
        LivePage.register(on: router)
        OpenAPIDocument.register(on: router)
        metrics.register(on: router)
        CatalogAPI(runtime: runtime, state: serverState, auth: auth).register(on: router)
        RunsAPI(runtime: runtime, state: serverState, auth: auth, configuration: configuration, metrics: metrics)
            .register(on: router)
        EventsSSE(runtime: runtime, state: serverState, auth: auth, configuration: configuration, metrics: counters)
            .register(on: router)
        StreamWebSocket(runtime: runtime, state: serverState, auth: auth, configuration: configuration, metrics: counters,
                        serverMetrics: metrics).register(on: router)
        MCPEndpoint(state: serverState, auth: auth, configuration: configuration, sessions: mcpSessions).register(on: router)
        return router
    }

    /// Listens and serves until `shutdown()` or one of `signals`, then drains and returns.
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let router = makeRouter()
        let ws = WebSocketServerConfiguration(
            maxFrameSize: max(1 << 16, configuration.maxBodyBytes),
            autoPing: .enabled(timePeriod: configuration.pingInterval),
            closeTimeout: .seconds(5))
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: makeWebSocketRouter(), configuration: .init(ws: ws)),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agentrt"),
            onServerRunning: { [self] channel in self.listening(port: channel.localAddress?.port) },
            logger: logger)
        let drain = DrainService(server: self)
        let sweeper = MCPSweeperService(sessions: mcpSessions)
        let group = ServiceGroup(configuration: .init(services: [app, drain, sweeper], gracefulShutdownSignals: signals,
                                                      logger: logger))
        let stopAtOnce: Bool = lifecycle.withLock {
            $0.group = group
            return $0.shutdownRequested
        }
        if stopAtOnce { await group.triggerGracefulShutdown() }
        defer { stopped() }
        try await group.run()
    }

    /// The port once listening (nil if the server stopped first).
    public func waitUntilListening() async -> Int? {
        await withCheckedContinuation { (c: CheckedContinuation<Int?, Never>) in
            let now: Int?? = lifecycle.withLock { l in
                switch l.state {
                case .running(let port): return .some(port)
                case .stopped: return .some(nil)
                case .created, .draining:
                    l.portWaiters.append(c)
                    return .none
                }
            }
            if let now { c.resume(returning: now) }
        }
    }

    /// Starts a graceful shutdown (as SIGTERM does); `run()` returns once it is done.
    public func shutdown() async {
        let group: ServiceGroup? = lifecycle.withLock {
            $0.shutdownRequested = true
            return $0.group
        }
        await group?.triggerGracefulShutdown()
    }

    private func listening(port: Int?) {
        let waiters: [CheckedContinuation<Int?, Never>] = lifecycle.withLock { l in
            if let port, l.state == .created { l.state = .running(port: port) }
            defer { l.portWaiters.removeAll() }
            return l.portWaiters
        }
        for w in waiters { w.resume(returning: port) }
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port ?? -1)"])
    }

    private func stopped() {
        let waiters: [CheckedContinuation<Int?, Never>] = lifecycle.withLock { l in
            l.state = .stopped
            defer { l.portWaiters.removeAll() }
            return l.portWaiters
        }
        for w in waiters { w.resume(returning: nil) }
    }

    /// The drain: refuse new work, close streams, let runs finish within the grace, cancel the rest.
    func drain() async {
        lifecycle.withLock { $0.state = .draining }
        let inFlight = serverState.beginDrain()
        logger.info("draining", metadata: ["runs_in_flight": "\(inFlight.count)"])
        if await !serverState.waitForRuns(timeout: configuration.drainGrace) {
            let left = serverState.inFlightRuns()
            logger.warning("cancelling runs still in flight at the grace", metadata: ["runs": "\(left.count)"])
            for r in left { runtime.cancel(runID: r.runID, userID: r.userID, reason: "the server is shutting down") }
            // Cancelled runs end within the runtime's grace (abandoned after it); allow that and a margin.
            _ = await serverState.waitForRuns(timeout: runtime.configuration.grace * 2 + .seconds(1))
        }
        // The MCP sessions' last responses go out, then every session closes.
        await mcpSessions.closeAll(grace: .seconds(2))
    }
}

/// Runs beside the HTTP server; at graceful shutdown it drains before the server stops
/// (a service group stops its services in reverse order, and this one comes last).
struct DrainService: Service {
    let server: AgentServer

    func run() async throws {
        try? await gracefulShutdown()
        await server.drain()
    }
}
