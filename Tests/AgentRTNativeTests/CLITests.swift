import AgentRTCore
import Foundation
import Testing

// The built `agentrt` executable, run as a user runs it (Foundation.Process), against example
// plugins compiled from plugins/ by the test with the plugin author's command line.

private func agentrtExecutable() throws -> String {
    try #require(BuildProducts.agentrt,
                 "the agentrt executable was not found next to the test bundle; run `swift build` first (\(BuildProducts.searched))")
}

private func agentrt(_ arguments: [String]) async throws -> ExecProcessResult {
    let r = try await ExecFixtures.runProcess(try agentrtExecutable(), arguments, limit: .seconds(120))
    #expect(!r.timedOut, "agentrt \(arguments.joined(separator: " ")) did not finish in time")
    return r
}

private func describe(_ r: ExecProcessResult) -> String {
    "status \(r.status)\n--- stdout\n\(r.stdout.prefix(4000))\n--- stderr\n\(r.stderr.prefix(4000))"
}

@Suite("CLI")
struct CLITests {
    @Test("--version, --help and load --help exit 0")
    func versionAndHelp() async throws {
        let version = try await agentrt(["--version"])
        #expect(version.status == 0, "\(describe(version))")
        #expect(version.stdout.contains("agentrt"), "\(describe(version))")
        #expect(version.stdout.contains("ABI 1."), "\(describe(version))")

        let help = try await agentrt(["--help"])
        #expect(help.status == 0, "\(describe(help))")
        for sub in ["load", "run", "call", "tools"] {
            #expect(help.stdout.contains(sub), "--help does not mention \(sub): \(describe(help))")
        }

        let loadHelp = try await agentrt(["load", "--help"])
        #expect(loadHelp.status == 0, "\(describe(loadHelp))")
        #expect(loadHelp.stdout.contains("--json"), "\(describe(loadHelp))")
    }

    @Test("load prints a plugin's agents and tools, as text and as JSON")
    func load() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let text = try await agentrt(["load", basics])
        #expect(text.status == 0, "\(describe(text))")
        for word in ["basics", "echo", "greet", "basics.add", "basics.scale", "int64_t add(int64_t a, int64_t b)"] {
            #expect(text.stdout.contains(word), "\"\(word)\" missing: \(describe(text))")
        }

        let json = try await agentrt(["load", "--json", basics])
        #expect(json.status == 0, "\(describe(json))")
        let doc = try #require(try? JSONValue.parse(json.stdout), "not JSON: \(describe(json))")
        let plugin = try #require(doc["plugins"]?.arrayValue?.first, "\(describe(json))")
        #expect(plugin["name"]?.stringValue == "basics")
        let agents = Set(plugin["agents"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        let tools = Set(plugin["tools"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? [])
        #expect(agents.isSuperset(of: ["echo", "greet"]), "agents: \(agents)")
        #expect(tools.isSuperset(of: ["basics.add", "basics.scale"]), "tools: \(tools)")
        #expect(doc["errors"]?.arrayValue?.isEmpty == true)
    }

    @Test("load of a missing file exits 3 with the reason on stderr")
    func loadMissingFile() async throws {
        let missing = ExecFixtures.directory.appendingPathComponent("no-such-plugin.so").path
        let r = try await agentrt(["load", missing])
        #expect(r.status == 3, "\(describe(r))")
        #expect(r.stderr.contains(missing), "stderr names the file: \(describe(r))")
        #expect(r.stderr.contains("cannot"), "\(describe(r))")
        #expect(!r.stdout.contains("agents ("), "\(describe(r))")
    }

    @Test("run --format jsonl prints agent_started … agent_completed and exits 0")
    func runJSONLines() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let r = try await agentrt(["run", basics, "--agent", "echo", "--user", "alice", "--input", #"{"x":1}"#,
                                   "--format", "jsonl"])
        #expect(r.status == 0, "\(describe(r))")
        let events = r.lines.compactMap { try? JSONValue.parse($0) }
        #expect(events.count == r.lines.count, "every line is JSON: \(describe(r))")
        #expect(events.first?["type"]?.stringValue == "agent_started", "\(describe(r))")
        #expect(events.last?["type"]?.stringValue == "agent_completed", "\(describe(r))")
        #expect(events.last?["data"]?["result"]?["x"]?.int64Value == 1, "\(describe(r))")
        #expect(events.allSatisfy { $0["user_id"]?.stringValue == "alice" && $0["v"]?.int64Value == 1 })
    }

    @Test("run of a stubborn agent with --timeout 200ms --grace 100ms exits 14 (timeout)")
    func runTimeout() async throws {
        let guards = try await ExecFixtures.example("c-guards/guards")
        let r = try await agentrt(["run", guards, "--agent", "stubborn", "--user", "alice", "--input", #"{"ms":3000}"#,
                                   "--timeout", "200ms", "--grace", "100ms", "--format", "jsonl"])
        #expect(r.status == 14, "\(describe(r))")
        #expect(r.stderr.contains("timeout"), "\(describe(r))")
        let last = r.lines.last.flatMap { try? JSONValue.parse($0) }
        #expect(last?["type"]?.stringValue == "agent_failed", "\(describe(r))")
        #expect(last?["data"]?["error"]?["code"]?.stringValue == "timeout", "\(describe(r))")
    }

    @Test("run flaky --repeat 12 trips the breaker and exits 12 (circuit_open)")
    func runCircuitOpen() async throws {
        let guards = try await ExecFixtures.example("c-guards/guards")
        let r = try await agentrt(["run", guards, "--agent", "flaky", "--user", "alice", "--input", #"{"fail":true}"#,
                                   "--repeat", "12", "--format", "jsonl"])
        #expect(r.status == 12, "\(describe(r))")
        #expect(r.stderr.contains("circuit_open"), "\(describe(r))")
        let lines = r.lines.compactMap { try? JSONValue.parse($0) }
        #expect(lines.filter { $0["type"]?.stringValue == "agent_failed" }.count >= 10, "\(describe(r))")
        // The refused runs end in the stream too: an agent_failed marked refused, code circuit_open.
        #expect(lines.last?["type"]?.stringValue == "agent_failed", "\(describe(r))")
        #expect(lines.last?["data"]?["refused"] == true, "\(describe(r))")
        #expect(lines.last?["data"]?["error"]?["code"]?.stringValue == "circuit_open", "\(describe(r))")
    }

    @Test("call basics add prints 42; bad arguments exit 22")
    func callTool() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let ok = try await agentrt(["call", basics, "add", "--user", "alice", "--args", #"{"a":2,"b":40}"#])
        #expect(ok.status == 0, "\(describe(ok))")
        #expect(ok.lines.last == "42", "\(describe(ok))")

        let bad = try await agentrt(["call", basics, "add", "--user", "alice", "--args", #"{"a":"two","b":40}"#])
        #expect(bad.status == 22, "\(describe(bad))")
        #expect(bad.stderr.contains("bad_arguments"), "\(describe(bad))")
    }

    /// Whether the built agentrt is a ThreadSanitizer build (where the bench would take minutes).
    static let agentrtUsesTSan: Bool = {
        guard let path = BuildProducts.agentrt, let data = FileManager.default.contents(atPath: path) else { return false }
        return data.range(of: Data("__tsan_init".utf8)) != nil
    }()

    @Test("bench --quick completes and reports every row (smoke test; no time is asserted)",
          .enabled(if: !CLITests.agentrtUsesTSan, "the bench measures nothing useful under ThreadSanitizer"))
    func benchSmoke() async throws {
        let r = try await agentrt(["bench", "--quick", "--rounds", "1", "--json"])
        #expect(r.status == 0, "\(describe(r))")
        let doc = try JSONValue.parse(r.stdout)
        let rows = try #require(doc["rows"]?.arrayValue, "\(describe(r))")
        let names = rows.compactMap { $0["name"]?.stringValue }
        for expected in ["direct call", "prepared ffi_call", "DispatchQueue + semaphore", "pthread condvar",
                         "guarded call, no subscriber", "guarded call, one subscriber", "JSON tool call",
                         "typed tool call", "emit into the bus", "emit delivered", "session open + close",
                         "throughput, 1 concurrent", "throughput, 10 concurrent", "throughput, 100 concurrent",
                         "throughput, 1000 concurrent", "sustained load", "heap per idle user session"] {
            #expect(names.contains { $0.contains(expected) }, "row \(expected) missing from \(names)")
        }
        // Every row measured something, and guarded rows carry their ratio to the baseline.
        for row in rows {
            // "(per call)" rows are differences of two runs (with and without N tool calls): on a
            // loaded machine a single quick round can come out at 0; they must still be present.
            let derived = row["name"]?.stringValue?.contains("(per call)") == true
            let measured = row["median_ns"]?.doubleValue ?? row["bytes"]?.doubleValue
            #expect(measured != nil, "row \(row.serialized()) has no figure")
            if derived { continue }
            #expect((measured ?? 0) > 0, "row \(row.serialized()) measured nothing")
            if row["baseline"] != nil { #expect(row["ratio"]?.doubleValue != nil, "\(row.serialized())") }
        }
    }
}
