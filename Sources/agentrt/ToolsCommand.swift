import ArgumentParser
import AgentRTCore
import AgentRTNative

struct ToolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tools", abstract: "List the tools of plugins with their JSON Schemas.")

    @Argument(help: "Plugin shared libraries (.so).")
    var plugins: [String]

    @Flag(help: "Print JSON (MCP-style tool descriptions).")
    var json = false

    func run() throws {
        CLIOutput.claim()   // before any plugin code runs: fd 1 now goes to stderr
        let runtime = Runtime()
        // At exit every run ends, every open session closes and plugins get on_shutdown.
        defer { runtime.shutdown() }
        for path in plugins {
            do { try runtime.load(path: path) } catch {
                printError("agentrt: cannot load \(path): [\(error.code.rawValue)] \(error.message)")
                throw ExitCode(CLIExit.loadFailed)
            }
        }
        let tools = runtime.tools.descriptors
        if json {
            out(JSONValue.object(JSONObject([("tools", .array(tools.map(Descriptions.json)))])).prettyPrinted())
        } else {
            if tools.isEmpty { out("(no tools)") }
            for t in tools { out(Descriptions.text(t, indent: ""), terminator: "") }
        }
    }
}
