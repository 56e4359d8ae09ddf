import ArgumentParser
import AgentRTCore
import AgentRTNative
import CFFI
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the guarded call path against its floor (direct call, ffi_call, hand-offs).",
        discussion: """
            Rows run interleaved, round after round, so machine drift affects all alike. Each guarded
            row is reported as a ratio to its baseline from the same run. Fast rows are timed in
            batches (a sample is a batch's mean); hand-off and guarded rows per call.
            """)

    @Flag(help: "A short run (the test suite's smoke test).")
    var quick = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Option(help: "The bench plugin (default: libAgentRTBenchPlugin.so next to this executable).")
    var benchPlugin: String?

    @Option(help: "Also benchmark your own agent: its plugin file (with --agent).")
    var plugin: String?

    @Option(help: "Your agent's name (with --plugin).")
    var agent: String?

    @Option(help: "Input JSON for your agent.")
    var input = "{}"

    @Option(help: "Rounds of interleaved batches.")
    var rounds: Int?

    @Option(help: "Only rows whose name contains this text (e.g. \"guarded call\").")
    var only: String?

    @Flag(help: "Also measure the guarded-call rows while another process keeps one core busy.")
    var busy = false

    @Option(help: "Only make this many guarded calls and exit (for instruction counts under callgrind).")
    var calls: Int?

    @Flag(help: "With --calls: hand each call to a worker instead of running it on this thread.")
    var handOff = false

    func validate() throws {
        if (plugin == nil) != (agent == nil) { throw ValidationError("--plugin and --agent go together") }
    }

    func run() throws {
        let path = try benchPlugin ?? locateBenchPlugin()
        let suite = try BenchSuite(benchPluginPath: path, quick: quick, rounds: rounds, userPlugin: plugin,
                                   userAgent: agent, userInput: input, only: only, busy: busy)
        if let calls {
            suite.callsOnly(calls, handOff: handOff)
            return
        }
        let rows = suite.runAll()
        if json { print(BenchReport.json(rows, quick: quick).prettyPrinted()) } else { print(BenchReport.table(rows)) }
    }

    func locateBenchPlugin() throws -> String {
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        if n > 0 {
            let dir = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                .split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let candidate = dir + "/libAgentRTBenchPlugin.so"
            if access(candidate, R_OK) == 0 { return candidate }
        }
        throw ValidationError("libAgentRTBenchPlugin.so not found next to agentrt; run `swift build` or pass --bench-plugin")
    }
}
