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

    enum OutputFormat: String, ExpressibleByArgument { case jsonl, pretty }

    func validate() throws {
        if plugins.isEmpty { throw ValidationError("give the plugin that holds the agent") }
        if users < 1 { throw ValidationError("--users must be at least 1") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() async throws {
        var config = Runtime.Configuration()
        config.perUserLimit = perUserLimit
        if let grace { config.grace = grace.duration }
        let runtime = Runtime(configuration: config)
        var first: NativePlugin? = nil
        for path in plugins {
            do {
                let p = try runtime.load(path: path)
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
            let result = await runtime.run(request)
            lastError = result.error
            // Print this run's events, up to its terminal event (a refused call has none).
            while result.started, let e = await subscription.next() {
                print(pretty ? Pretty.render(e) : e.json)
                if e.kind.isTerminal { break }
            }
            if !result.started, let e = result.error {
                // Events published since the last terminal event (e.g. the breaker opening) first.
                while let ev = subscription.poll() { print(pretty ? Pretty.render(ev) : ev.json) }
                print(pretty ? "✗ refused  \(e.code.rawValue): \(e.message)" : refusalJSON(e, runID: result.runID))
            }
        }
        // Events published after the last terminal event (a breaker transition) are shown too.
        while let e = subscription.poll() { print(pretty ? Pretty.render(e) : e.json) }
        subscription.cancel()
        if stats { print(runtime.statsJSON().prettyPrinted()) }
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
        let seconds = Double(MonotonicTime.nanos() - started) / 1e9
        let calls = outcomes.values.reduce(0, +)
        print("\(users) users × \(`repeat`) calls = \(calls) calls in \(String(format3(seconds))) s (\(Int(Double(calls) / seconds)) calls/s)")
        for (k, v) in outcomes.sorted(by: { $0.key < $1.key }) { print("  \(k): \(v)") }
        let report = runtime.isolationReport()
        print("isolation: \(report["isolated"]?.boolValue == true ? "no run, event or session shared between users" : "VIOLATIONS \(report["violations"]!.serialized())")")
        if stats { print(runtime.statsJSON().prettyPrinted()) }
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
        case .streamGap, .custom: return "• \(head)  \(d.serialized())"
        }
    }
}
