import ArgumentParser
import AgentRTCore
import AgentRTNative
#if canImport(Glibc)
import Glibc
#endif

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load plugins and print what the runtime sees (or exactly why one is refused).",
        discussion: "Exit status 0 when every plugin loads, 3 when any is refused (its reason on stderr).")

    @Argument(help: "Plugin shared libraries (.so).")
    var plugins: [String]

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Option(help: "JSON config passed to each plugin's on_init.")
    var config = "{}"

    @OptionGroup var isolationOptions: IsolationOptions

    func validate() throws {
        if plugins.isEmpty { throw ValidationError("give at least one plugin path") }
        guard JSONValue.isValid(config) else { throw ValidationError("--config is not valid JSON") }
    }

    func run() throws {
        CLIOutput.claim()   // before any plugin code runs: fd 1 now goes to stderr
        var loaded: [JSONValue] = []
        var errors: [JSONValue] = []
        var c = Runtime.Configuration()
        c.idleUserExpiry = nil
        let runtime = Runtime(configuration: c)
        defer { runtime.shutdown() }
        var options = isolationOptions.loadOptions
        options.config = config
        for path in plugins {
            do {
                let p = try runtime.loadPlugin(path: path, options: options)
                if json { loaded.append(Descriptions.json(p)) } else { out(Descriptions.text(p)) }
            } catch {
                errors.append(.object(JSONObject([("path", .string(path)), ("code", .string(error.code.rawValue)),
                                                  ("message", .string(error.message))])))
                printError("agentrt: cannot load \(path): [\(error.code.rawValue)] \(error.message)")
            }
        }
        if json {
            out(JSONValue.object(JSONObject([("plugins", .array(loaded)), ("errors", .array(errors))])).prettyPrinted())
        }
        if !errors.isEmpty { throw ExitCode(CLIExit.loadFailed) }
    }
}

func printError(_ s: String) {
    var line = s + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
