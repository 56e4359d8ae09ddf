import ArgumentParser
import AgentRTCore
import AgentRTNative
import AgentRTServer
import Logging

/// `agentrt serve`: loads plugins and serves them to many users over HTTP, SSE and WebSocket.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve agents to many users over HTTP, Server-Sent Events and WebSocket.",
        discussion: """
            Every request needs `Authorization: Bearer TOKEN` (SSE and WebSocket also take ?access_token=); make tokens with `agentrt token add`. The token file is re-read when it changes.

            Endpoints: GET /healthz, GET /readyz, GET /v1/agents, GET /v1/tools, POST /v1/runs, GET /v1/runs/{id}, POST /v1/runs/{id}/cancel, GET /v1/events (SSE), GET /v1/stream (WebSocket), POST/GET/DELETE /mcp (MCP Streamable HTTP; the token's user owns the session); admin tokens also GET /v1/stats and /v1/users. Without a token: GET / (a live page), GET /openapi.json, GET /metrics (Prometheus; no user ids).

            SIGTERM or SIGINT drains: new runs get 503, streams close (WebSocket 1001), runs in flight get --drain-grace to finish and are then cancelled; the exit status is 0.
            """)

    @Argument(help: "Plugin shared libraries (.so).")
    var plugins: [String] = []

    @Option(help: "HOST:PORT to listen on (port 0 picks a free one).")
    var listen = "127.0.0.1:8480"

    @Option(help: "The token file (`user role sha256hex` lines; see `agentrt token add`).")
    var tokens: String

    @Option(help: "Largest request body or WebSocket message, e.g. 1MiB or 64KiB.")
    var maxBody = "1MiB"

    @Option(help: "Calls one user may have in flight.")
    var perUserLimit: Int = 4

    @Option(help: "Calls in flight across all users.")
    var globalLimit: Int = 1024

    @Option(help: "Default run deadline, e.g. 30s (a run may ask for less or more with timeout_ms).")
    var timeout: DurationArgument?

    @Option(help: "Time between the cooperative cancel and abandonment.")
    var grace: DurationArgument?

    @Option(help: "Declare an agent dead after this long without a heartbeat, e.g. 10s (0 or unset: off).")
    var heartbeatTimeout: DurationArgument?

    @Option(help: "At shutdown, how long runs in flight may take before they are cancelled.")
    var drainGrace: DurationArgument?

    @Option(help: "SSE keepalive comment period.")
    var keepalive: DurationArgument?

    @Option(help: "WebSocket send buffer per connection, in frames.")
    var sendBufferFrames: Int = 1024

    @Option(help: "MCP sessions (/mcp) held at once, in all.")
    var mcpMaxSessions: Int = 256

    @Option(help: "MCP sessions one user may hold at once.")
    var mcpMaxSessionsPerUser: Int = 16

    @Option(help: "An MCP session without a request for this long is closed, e.g. 30m.")
    var mcpIdleTimeout: DurationArgument?

    @Option(help: "A browser origin allowed on /mcp, e.g. https://app.example.com (repeatable; loopback pages of a loopback listener always are).")
    var mcpAllowOrigin: [String] = []

    @Option(help: "WebSocket send buffer per connection, in bytes, e.g. 8MiB.")
    var sendBufferBytes = "8MiB"

    @Option(help: "Lowest log level: trace, debug, info, warn, error or off.")
    var logLevel: LogLevelArgument = LogLevelArgument(level: 2)

    @OptionGroup var isolationOptions: IsolationOptions

    @Option(help: "Log lines as text or json (stderr).")
    var logFormat: String = "text"

    func validate() throws {
        guard Self.parseListen(listen) != nil else { throw ValidationError("--listen must be HOST:PORT") }
        guard ByteSize.parse(maxBody) != nil else { throw ValidationError("--max-body must be a size such as 1MiB") }
        guard ServerLogHandler.Format(rawValue: logFormat) != nil else { throw ValidationError("--log-format is text or json") }
        if perUserLimit < 1 || globalLimit < 1 { throw ValidationError("limits must be at least 1") }
        if sendBufferFrames < 1 { throw ValidationError("--send-buffer-frames must be at least 1") }
        if mcpMaxSessions < 1 || mcpMaxSessionsPerUser < 1 { throw ValidationError("MCP session limits must be at least 1") }
        if let t = mcpIdleTimeout, t.duration <= .zero { throw ValidationError("--mcp-idle-timeout must be more than 0") }
        guard ByteSize.parse(sendBufferBytes) != nil else { throw ValidationError("--send-buffer-bytes must be a size such as 8MiB") }
    }

    static func parseListen(_ s: String) -> (String, Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        let format = ServerLogHandler.Format(rawValue: logFormat)!
        let level: Logger.Level = [.trace, .debug, .info, .warning, .error, .critical][Int(min(logLevel.level, 5))]
        LoggingSystem.bootstrap { label in ServerLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "agentrt.serve")
        CLIOutput.claim()   // before any plugin code runs: fd 1 now goes to stderr

        let store: TokenStore
        do { store = try TokenStore(path: tokens) } catch {
            printError("agentrt serve: \(error)")
            throw ExitCode(1)
        }
        if let p = store.problem { logger.warning("token file line skipped", metadata: ["where": "\(p)"]) }

        var config = Runtime.Configuration()
        config.perUserLimit = perUserLimit
        config.globalLimit = globalLimit
        config.logLevel = logLevel.level
        if let timeout { config.defaultTimeout = timeout.duration }
        if let grace { config.grace = grace.duration }
        if let heartbeatTimeout, heartbeatTimeout.duration > .zero { config.defaultHeartbeatTimeout = heartbeatTimeout.duration }
        NativeHost.processLogLevel.withLock { $0 = logLevel.level }
        let runtime = Runtime(configuration: config)
        defer { runtime.shutdown() }
        runtime.logSink.withLock { sink in
            sink = { lvl, line in
                let l: Logger.Level = [.trace, .debug, .info, .warning, .error][Int(min(max(lvl, 0), 4))]
                logger.log(level: l, "\(line)", metadata: ["source": "runtime"])
            }
        }
        for path in plugins {
            do {
                RunGuard.begin("loading \(path)")
                defer { RunGuard.end() }
                let p = try runtime.loadPlugin(path: path, options: isolationOptions.loadOptions)
                logger.info("plugin loaded", metadata: ["plugin": "\(p.name)", "path": "\(path)", "isolation": "\(p.isolation.rawValue)"])
            } catch {
                printError("agentrt: cannot load \(path): [\(error.code.rawValue)] \(error.message)")
                throw ExitCode(CLIExit.loadFailed)
            }
        }

        var sc = ServerConfiguration()
        (sc.host, sc.port) = Self.parseListen(listen)!
        sc.maxBodyBytes = ByteSize.parse(maxBody)!
        sc.sendBufferFrames = sendBufferFrames
        sc.sendBufferBytes = ByteSize.parse(sendBufferBytes)!
        if let drainGrace { sc.drainGrace = drainGrace.duration }
        if let keepalive { sc.keepaliveInterval = keepalive.duration }
        sc.mcpMaxSessions = mcpMaxSessions
        sc.mcpMaxSessionsPerUser = mcpMaxSessionsPerUser
        if let mcpIdleTimeout { sc.mcpIdleTimeout = mcpIdleTimeout.duration }
        sc.mcpAllowedOrigins = mcpAllowOrigin
        let server = AgentServer(runtime: runtime, tokens: store, configuration: sc, logger: logger)
        try await server.run()
        logger.info("stopped")
    }
}

/// `agentrt token add`: issues a token for a user of `agentrt serve`.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage the tokens of `agentrt serve`.", subcommands: [Add.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Print a fresh random token once and append its user, role and SHA-256 to the token file (created 0600).")

        @Option(help: "The token file.")
        var tokens: String

        @Option(help: "The user the token acts as.")
        var user: String

        @Option(help: "user, or admin (may also read /v1/stats and /v1/users).")
        var role: String = "user"

        func run() throws {
            guard let r = Principal.Role(rawValue: role) else { throw ValidationError("--role is user or admin") }
            do {
                let token = try TokenIssuer.add(path: tokens, userID: user, role: r)
                CLIOutput.line(token)
            } catch {
                printError("agentrt token add: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
