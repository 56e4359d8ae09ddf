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

    func run() throws {
        let runtime = Runtime()
        let p: NativePlugin
        do { p = try runtime.load(path: plugin) } catch {
            printError("agentrt: cannot load \(plugin): [\(error.code.rawValue)] \(error.message)")
            throw ExitCode(CLIExit.loadFailed)
        }
        let name = tool.contains(".") ? tool : "\(p.name).\(tool)"
        // Not checked as JSON here: the dispatcher refuses malformed arguments with its own event.
        let arguments = try JSONArgument.read(args, option: "--args", checkJSON: false)
        let sub = runtime.events.subscribe(userID: user)
        let result = runtime.callTool(userID: user, name: name, argumentsJSON: arguments, timeout: timeout?.duration)
        while let e = sub.poll() { print(e.json) }
        sub.cancel()
        switch result {
        case .success(let r):
            print(r.content)
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
