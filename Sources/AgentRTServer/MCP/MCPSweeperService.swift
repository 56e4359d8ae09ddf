import ServiceLifecycle

/// Runs beside the HTTP server and closes idle MCP sessions until the graceful shutdown (the
/// drain closes the rest).
struct MCPSweeperService: Service {
    let sessions: MCPSessions

    func run() async throws {
        await cancelWhenGracefulShutdown { await sessions.sweepUntilCancelled() }
    }
}
