import AgentRTCore
import MCP

/// The runtime as an MCP server for one user: `tools/list` offers every tool of the loaded
/// plugins and every agent (names: `MCPToolName`), `tools/call` runs them through every guard
/// for that user.
///
/// Transport-neutral: `makeServer()` gives an SDK `Server` with the handlers installed, to be
/// started on any transport — stdio for `agentrt mcp` (`serve(transport:)`), the Streamable
/// HTTP transport for `/mcp` on `agentrt serve` (one service per MCP session, with the user the
/// bearer token names).
public final class AgentRTMCPService: Sendable {
    public let runtime: Runtime
    public let user: MCPUser
    /// The agent runs in flight of every server this service made.
    let runs: MCPRunTracker

    /// `observer`: told of each agent run before it starts and when it ended (nil: none).
    public init(runtime: Runtime, user: MCPUser, observer: MCPRunObserver? = nil) {
        self.runtime = runtime
        self.user = user
        self.runs = MCPRunTracker(observer: observer)
    }

    /// The ids of the agent runs in flight (started by servers of this service).
    public var runsInFlight: [String] { runs.runIDs }

    /// Cancels the agent runs in flight (the connection they were for is gone); how many.
    @discardableResult
    public func cancelRuns(reason: String) -> Int { runs.cancelAll(runtime: runtime, reason: reason) }

    /// The `_meta` key of an agent's `tools/call` result that holds the run id (the run can be
    /// looked up with it, e.g. `GET /v1/runs/{id}` on `agentrt serve`).
    public static let runIDMetaKey = "agentrt/run_id"

    /// What `initialize` tells the client about this server.
    public static let serverName = "agentrt"
    static let instructions = """
        agentrt tools are named plugin.tool; agents are offered as tools named plugin.agent.NAME \
        (long-running: send a progressToken to receive the run's events as progress, \
        notifications/cancelled cancels the run).
        """

    /// A server with the handlers installed, not yet started.
    public func makeServer() async -> Server {
        let server = Server(name: Self.serverName, version: AgentRTVersion.string, title: "agentrt",
                            instructions: Self.instructions,
                            capabilities: .init(logging: .init(), tools: .init(listChanged: false)))
        let notifier = MCPNotifier()
        notifier.attach(server)
        let catalog = MCPToolCatalog(runtime: runtime)
        let tools = MCPToolCall(runtime: runtime, user: user)
        let agents = MCPAgentRun(runtime: runtime, user: user, notifier: notifier, runs: runs)
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: catalog.tools())
        }
        await server.withMethodHandler(CallTool.self) { params in
            switch catalog.resolve(params.name) {
            case .unknown(let why):
                return MCPStructuredResult.error(why)
            case .tool(let d):
                let result = await tools.call(d, arguments: params.arguments)
                // A tool call cannot be stopped midway (it ends by its deadline); a cancelled
                // request still gets no response, as the spec asks.
                try Task.checkCancellation()
                return result
            case .agent(let d):
                return try await agents.run(d, arguments: params.arguments, progressToken: params._meta?.progressToken)
            }
        }
        // The only log line sent (a run cancelled) is `info`: a client that asks for `notice`
        // or higher no longer gets it.
        await server.withMethodHandler(SetLoggingLevel.self) { params in
            notifier.setMinimumLevel(params.level)
            return Empty()
        }
        return server
    }

    /// Serves on `transport` until the client goes away (the transport's input ends); then
    /// answers the calls already received (each is bounded by its deadline; at most `drain`
    /// is waited) and stops the server. The runtime is the caller's to shut down: its
    /// `shutdown()` cancels whatever still runs.
    public func serve(transport: any Transport, drain: Duration = .seconds(10)) async throws {
        let draining = DrainingTransport(transport)
        let server = await makeServer()
        try await server.start(transport: draining)
        await server.waitUntilCompleted()
        _ = await draining.waitUntilAnswered(limit: drain)
        await server.stop()
    }
}
