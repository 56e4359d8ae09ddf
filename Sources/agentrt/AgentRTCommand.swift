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
        subcommands: [LoadCommand.self, RunCommand.self, ToolsCommand.self, CallCommand.self, MCPCommand.self,
                      ServeCommand.self, TokenCommand.self, BenchCommand.self])
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
        // Finite, non-negative and at most 30 days ("inf", "nan" and huge values are refused
        // as invalid values instead of trapping in the conversion).
        func make(_ v: Double?, _ scale: Double) -> Duration? {
            guard let v, v.isFinite, v >= 0 else { return nil }
            let nanos = v * scale * 1e9
            guard nanos <= 30 * 86_400 * 1e9 else { return nil }
            return .nanoseconds(Int64(nanos))
        }
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let d = make(Double(s.dropLast(suffix.count)), scale) else { return nil }
            duration = d
            return
        }
        guard let d = make(Double(s), 1) else { return nil }
        duration = d
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// `--log-level trace|debug|info|warn|error|off`.
struct LogLevelArgument: ExpressibleByArgument {
    let level: Int32
    init(level: Int32) { self.level = level }
    init?(argument: String) {
        guard let l = LogLine.level(named: argument) else { return nil }
        level = l
    }
    var defaultValueDescription: String { LogLine.names[Int(level)] }
    static var allValueStrings: [String] { LogLine.names }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
