import ArgumentParser
import AgentRTCore

@main
struct AgentRTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agentrt",
        abstract: "A native agent runtime: loads C and Swift agent plugins and runs them per user, behind guards.",
        discussion: """
            Plugins are shared libraries exporting the C ABI in include/agentrt/plugin.h. Examples:

              agentrt load plugins/build/libbasics.so
              agentrt run plugins/build/libbasics.so --agent greet --user alice
              agentrt call plugins/build/libbasics.so add --user alice --args '{"a":2,"b":3}'
            """,
        version: "agentrt \(AgentRTVersion.string) (plugin ABI \(AgentRTVersion.abiMajor).\(AgentRTVersion.abiMinor))",
        subcommands: [LoadCommand.self, RunCommand.self, ToolsCommand.self, CallCommand.self, BenchCommand.self])
}

/// Exit statuses of the CLI (documented in the README).
enum CLIExit {
    /// A plugin was refused by the loader.
    static let loadFailed: Int32 = 3
}

/// Parses durations like `30s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument {
    let duration: Duration
    init?(argument: String) {
        let s = argument.trimmingCharacters(in: " ")
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let v = Double(s.dropLast(suffix.count)), v >= 0 else { return nil }
            duration = .nanoseconds(Int64(v * scale * 1e9))
            return
        }
        guard let v = Double(s), v >= 0 else { return nil }
        duration = .nanoseconds(Int64(v * 1e9))
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
