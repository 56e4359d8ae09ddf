import ArgumentParser
import AgentRTCore
import AgentRTMCP
import AgentRTNative

/// `agentrt mcp`: the loaded plugins' tools and agents as an MCP server on stdio, for one user.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the plugins' tools and agents to an MCP client over stdio, for one user.",
        discussion: """
            Speaks the Model Context Protocol (newline-delimited JSON-RPC) on stdin/stdout; stdout carries \
            nothing but protocol (plugins' stdout and all logs go to stderr). Tools are named plugin.tool, \
            agents plugin.agent.NAME. Exits when stdin closes. Example client config:
              {"command": "agentrt", "args": ["mcp", "plugins/build/libtextkit.so", "--user", "alice"]}
            """)

    @Argument(help: "The plugins to load (shared libraries).")
    var plugins: [String] = []

    @Option(help: "The user id every call runs for.")
    var user: String

    @Option(help: "The session (conversation) id of the calls.")
    var session: String?

    @Option(help: "Calls the user may have in flight at once.")
    var perUserLimit = 4

    @Option(help: "Lowest log level written to stderr: trace, debug, info, warn, error or off.")
    var logLevel: LogLevelArgument = LogLevelArgument(level: 3)

    @OptionGroup var isolationOptions: IsolationOptions

    func validate() throws {
        if plugins.isEmpty { throw ValidationError("give at least one plugin to serve") }
        if perUserLimit < 1 { throw ValidationError("--per-user-limit must be at least 1") }
    }

    func run() async throws {
        let output = CLIOutput.fd   // before any plugin code runs: fd 1 now goes to stderr
        var config = Runtime.Configuration()
        config.perUserLimit = perUserLimit
        config.logLevel = logLevel.level
        NativeHost.processLogLevel.withLock { $0 = logLevel.level }
        let runtime = Runtime(configuration: config)
        // At exit every run ends, every open session closes and plugins get on_shutdown.
        defer { runtime.shutdown() }
        for path in plugins {
            do {
                RunGuard.begin("loading \(path)")
                defer { RunGuard.end() }
                _ = try runtime.loadPlugin(path: path, options: isolationOptions.loadOptions)
            } catch {
                printError("agentrt: cannot load \(path): [\(error.code.rawValue)] \(error.message)")
                throw ExitCode(CLIExit.loadFailed)
            }
        }
        let service = AgentRTMCPService(runtime: runtime, user: MCPUser(userID: user, sessionID: session))
        RunGuard.begin("a tool or agent called over MCP")
        defer { RunGuard.end() }
        do {
            try await service.serveStdio(input: 0, output: output)
        } catch {
            printError("agentrt: mcp: \(error)")
            throw ExitCode(ErrorCode.internal.exitStatus)
        }
    }
}
