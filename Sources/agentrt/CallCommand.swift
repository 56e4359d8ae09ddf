import ArgumentParser
import AgentRTCore
import AgentRTNative

struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call one tool through the dispatcher for a user; print its events and result.",
        discussion: "Exit status 0 on a result, 17 when the tool itself failed (isError), 22 for bad arguments, 20 for an unknown tool.")

    @Argument(help: "The plugin that holds the tool.")
    var plugin: String

    @Argument(help: "The tool: NAME (in the plugin) or PLUGIN.NAME.")
    var tool: String

    @Option(help: "The user id the call runs for.")
    var user: String

    @Option(help: "Arguments as a JSON object, or @FILE to read them from a file.")
    var args = "{}"

    @Option(help: "Timeout of the call.")
    var timeout: DurationArgument?

    @Option(help: "Lowest log level written to stderr: trace, debug, info, warn, error or off.")
    var logLevel: LogLevelArgument = LogLevelArgument(level: 3)

    @OptionGroup var isolationOptions: IsolationOptions

    func run() throws {
        CLIOutput.claim()   // before any plugin code runs: fd 1 now goes to stderr
        var config = Runtime.Configuration()
        config.logLevel = logLevel.level
        NativeHost.processLogLevel.withLock { $0 = logLevel.level }
        let runtime = Runtime(configuration: config)
        // At exit every run ends, every open session closes and plugins get on_shutdown.
        defer { runtime.shutdown() }
        let p: LoadedPlugin
        do { p = try runtime.loadPlugin(path: plugin, options: isolationOptions.loadOptions) } catch {
            printError("agentrt: cannot load \(plugin): [\(error.code.rawValue)] \(error.message)")
            throw ExitCode(CLIExit.loadFailed)
        }
        let name = tool.contains(".") ? tool : "\(p.name).\(tool)"
        // Not checked as JSON here: the dispatcher refuses malformed arguments with its own event.
        let arguments = try JSONArgument.read(args, option: "--args", checkJSON: false)
        let sub = runtime.events.subscribe(userID: user)
        RunGuard.begin("tool \(name)")
        let result = runtime.callTool(userID: user, name: name, argumentsJSON: arguments, timeout: timeout?.duration)
        RunGuard.end()
        while let e = sub.poll() { out(e.json) }
        sub.cancel()
        switch result {
        case .success(let r):
            out(r.content)
            if r.isError {
                printError("agentrt: tool \(name) failed: \(r.content)")
                throw ExitCode(ErrorCode.agentError.exitStatus)
            }
        case .failure(let e):
            printError("agentrt: \(e.code.rawValue): \(e.message)")
            throw ExitCode(e.code.exitStatus)
        }
    }
}
