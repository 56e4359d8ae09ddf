import ArgumentParser
import AgentRTCore
import AgentRTNative
#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an agent for a user through every guard, streaming its events.",
        discussion: """
            Events go to stdout (JSON lines, or a readable rendering on a terminal); the result is the data of the agent_completed event.

            On failure the exit status names the error code: 10 invalid_context, 11 overloaded, 12 circuit_open, 13 quarantined, 14 timeout, 15 no_heartbeat, 16 cancelled, 17 agent_error, 18 invalid_output, 20 not_found, 21 internal, 22 bad_arguments.

            With --users N, runs N users at once (each --repeat times) and prints a summary of outcomes and the isolation check (--stats adds per-agent and per-user stats).
            """)

    @Argument(help: "Plugin shared libraries; the agent is looked up in the first unless --agent is plugin.agent.")
    var plugins: [String]

    @Option(help: "The agent: NAME (in the first plugin) or PLUGIN.NAME.")
    var agent: String

    @Option(help: "The user id the call runs for.")
    var user: String

    @Option(help: "The session (conversation) id.")
    var session: String?

    @Option(help: "Input JSON, or @FILE to read it from a file.")
    var input = "{}"

    @Option(help: "Deadline, e.g. 30s or 500ms (default: the agent's, else 30s).")
    var timeout: DurationArgument?

    @Option(help: "Declare the agent dead after this long without a heartbeat (0 disables).")
    var heartbeatTimeout: DurationArgument?

    @Option(help: "Time between the cooperative cancel and abandonment.")
    var grace: DurationArgument?

    @Option(help: "Output format: jsonl or pretty (default: pretty on a terminal).")
    var format: OutputFormat?

    @Option(help: "Run this many users at once (user ids USER-1 … USER-N) and print a summary.")
    var users: Int = 1

    @Option(help: "Calls per user, one after the other.")
    var `repeat`: Int = 1

    @Option(help: "Calls one user may have in flight.")
    var perUserLimit: Int = 4

    @Flag(help: "Print the runtime's stats as JSON at the end.")
    var stats = false

    @Option(help: "Lowest log level written to stderr: trace, debug, info, warn, error or off.")
    var logLevel: LogLevelArgument = LogLevelArgument(level: 3)

    @OptionGroup var isolationOptions: IsolationOptions

    enum OutputFormat: String, ExpressibleByArgument { case jsonl, pretty }

    func validate() throws {
        if plugins.isEmpty { throw ValidationError("give the plugin that holds the agent") }
        if users < 1 { throw ValidationError("--users must be at least 1") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        _ = try readInput()   // a bad --input is a usage error of `run` (its own usage is shown)
    }

    func run() async throws {
        CLIOutput.claim()   // before any plugin code runs: fd 1 now goes to stderr
        var config = Runtime.Configuration()
        config.perUserLimit = perUserLimit
        config.logLevel = logLevel.level
        NativeHost.processLogLevel.withLock { $0 = logLevel.level }
        if let grace { config.grace = grace.duration }
        let runtime = Runtime(configuration: config)
        // At exit every run ends, every open session closes and plugins get on_shutdown.
        defer { runtime.shutdown() }
        var first: LoadedPlugin? = nil
        for path in plugins {
            do {
                RunGuard.begin("loading \(path)")
                defer { RunGuard.end() }
                let p = try runtime.loadPlugin(path: path, options: isolationOptions.loadOptions)
                if first == nil { first = p }
            } catch {
                printError("agentrt: cannot load \(path): [\(error.code.rawValue)] \(error.message)")
                throw ExitCode(CLIExit.loadFailed)
            }
        }
        let (pluginName, agentName): (String, String)
        if let dot = agent.firstIndex(of: "."), runtime.agentDescriptors.contains(where: { $0.qualifiedName == agent }) {
            (pluginName, agentName) = (String(agent[..<dot]), String(agent[agent.index(after: dot)...]))
        } else {
            (pluginName, agentName) = (first!.name, agent)
        }
        let inputJSON = try readInput()
        let request = RunRequest(plugin: pluginName, agent: agentName, userID: user, sessionID: session, input: inputJSON,
                                 timeout: timeout?.duration, heartbeatTimeout: heartbeatTimeout?.duration)
        if users > 1 {
            try await runMany(runtime, request)
            return
        }
        let pretty = (format ?? (isatty(1) != 0 ? .pretty : .jsonl)) == .pretty
        let subscription = runtime.events.subscribe(userID: user)
        var lastError: AgentRTError? = nil
        for _ in 0..<`repeat` {
            RunGuard.begin("\(request.plugin).\(request.agent)")
            let result = await runtime.run(request)
            RunGuard.end()
            lastError = result.error
            // Print this run's events, up to its terminal event (a refused call has none).
            while result.started, let e = await subscription.next() {
                out(pretty ? Pretty.render(e) : e.json)
                if e.kind.isTerminal { break }
            }
            if !result.started, let e = result.error {
                // A refused run's terminal event (and e.g. the breaker opening before it) is in
                // the stream; a refusal without one (an invalid user id) is printed here.
                var sawTerminal = false
                while let ev = subscription.poll() {
                    out(pretty ? Pretty.render(ev) : ev.json)
                    if ev.kind.isTerminal { sawTerminal = true }
                }
                if !sawTerminal {
                    out(pretty ? "✗ refused  \(e.code.rawValue): \(e.message)" : refusalJSON(e, runID: result.runID))
                }
            }
        }
        // Events published after the last terminal event (a breaker transition) are shown too.
        while let e = subscription.poll() { out(pretty ? Pretty.render(e) : e.json) }
        subscription.cancel()
        if stats { out(runtime.statsJSON().prettyPrinted()) }
        if let e = lastError {
            printError("agentrt: \(e.code.rawValue): \(e.message)")
            throw ExitCode(e.code.exitStatus)
        }
    }

    func refusalJSON(_ e: AgentRTError, runID: String) -> String {
        var o = JSONObject([("type", "refused"), ("code", .string(e.code.rawValue)), ("message", .string(e.message))])
        if !runID.isEmpty { o["run_id"] = .string(runID) }
        if let r = e.retryAtMillis { o["retry_at"] = .string(MonotonicTime.rfc3339(millis: r)) }
        return JSONValue.object(o).serialized()
    }

    func readInput() throws -> String {
        try JSONArgument.read(input, option: "--input", checkJSON: true)
    }

    func runMany(_ runtime: Runtime, _ base: RunRequest) async throws {
        let started = MonotonicTime.nanos()
        RunGuard.begin("\(base.plugin).\(base.agent)")
        let outcomes = await withTaskGroup(of: [String: Int].self) { group in
            for i in 1...users {
                var r = base
                r.userID = "\(user)-\(i)"
                let n = `repeat`
                group.addTask {
                    var counts: [String: Int] = [:]
                    for _ in 0..<n {
                        let res = await runtime.run(r)
                        counts[res.error?.code.rawValue ?? "ok", default: 0] += 1
                    }
                    return counts
                }
            }
            var total: [String: Int] = [:]
            for await c in group { total.merge(c, uniquingKeysWith: +) }
            return total
        }
        RunGuard.end()
        let seconds = Double(MonotonicTime.nanos() - started) / 1e9
        let calls = outcomes.values.reduce(0, +)
        out("\(users) users × \(`repeat`) calls = \(calls) calls in \(String(format3(seconds))) s (\(Int(Double(calls) / seconds)) calls/s)")
        for (k, v) in outcomes.sorted(by: { $0.key < $1.key }) { out("  \(k): \(v)") }
        let report = runtime.isolationReport()
        let refused = report["cross_user_events_refused"]?.int64Value ?? 0
        let violations = report["violations"]?.arrayValue ?? []
        out("isolation: \(report["events_checked"]?.int64Value ?? 0) events checked against their stream's user, "
              + "\(refused) naming another user refused, \(violations.count) runs in another user's table"
              + (violations.isEmpty ? "" : " \(JSONValue.array(violations).serialized())"))
        if stats { out(runtime.statsJSON().prettyPrinted()) }
        // Any failed call makes the whole command fail, with the most frequent failure's status.
        let failures = outcomes.filter { $0.key != "ok" }
        if let worst = failures.max(by: { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }) {
            let code = ErrorCode(rawValue: worst.key) ?? .internal
            printError("agentrt: \(failures.values.reduce(0, +)) of \(calls) calls failed (most often \(worst.key))")
            throw ExitCode(code.exitStatus)
        }
    }
}

func format3(_ v: Double) -> String {
    let ms = Int((v * 1000).rounded())
    let frac = String(ms % 1000)
    return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
}

/// A readable rendering of events for terminals.
enum Pretty {
    static func render(_ e: Event) -> String {
        let d = e.data
        let head = "[\(e.seq)] \(e.kind.rawValue)"
        switch e.kind {
        case .agentStarted: return "▶ \(head)  \(e.plugin).\(e.agent) run \(e.runID)  input \(d["input"]?.serialized() ?? "")"
        case .agentThinking: return "… \(head)  (\(d["kind"]?.stringValue ?? "")) \(d["text"]?.stringValue ?? "")"
        case .toolExecuting: return "⚙ \(head)  \(d["tool"]?.stringValue ?? "") \(d["arguments"]?.serialized() ?? "")"
        case .toolCompleted:
            let body = d["result"] ?? d["error"] ?? .null
            return "⚙ \(head)  \(d["tool"]?.stringValue ?? "") \(d["is_error"]?.boolValue == true ? "error" : "ok") \(body.serialized()) (\(d["duration_ms"]?.serialized() ?? "?") ms)"
        case .agentCompleted: return "✓ \(head)  result \(d["result"]?.serialized() ?? "") (\(d["duration_ms"]?.serialized() ?? "?") ms)"
        case .agentFailed:
            return "✗ \(head)  \(d["error"]?["code"]?.stringValue ?? ""): \(d["error"]?["message"]?.stringValue ?? "")"
        case .agentCancelled: return "✗ \(head)  \(d["reason"]?.stringValue ?? "")"
        case .circuitStateChanged:
            return "⚡ \(head)  \(d["key"]?.stringValue ?? "") \(d["from"]?.stringValue ?? "") → \(d["to"]?.stringValue ?? "")"
        case .streamGap, .sessionLost, .custom: return "• \(head)  \(d.serialized())"
        }
    }
}
