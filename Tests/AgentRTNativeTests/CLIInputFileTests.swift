import AgentRTCore
import Foundation
import Testing

// `agentrt run --input @FILE` and `agentrt call --args @FILE` read the file's bytes: invalid
// UTF-8 is refused naming the file and the byte offset (it used to become U+FFFD silently),
// and malformed JSON gets the parser's message with its byte offset.

private func agentrt(_ arguments: [String]) async throws -> ExecProcessResult {
    let executable = try #require(BuildProducts.agentrt, "the agentrt executable was not found; run `swift build` first")
    let r = try await ExecFixtures.runProcess(executable, arguments, limit: .seconds(120))
    #expect(!r.timedOut, "agentrt \(arguments.joined(separator: " ")) did not finish in time")
    return r
}

/// Writes `bytes` to a fresh file and returns its path.
private func file(_ bytes: [UInt8]) throws -> String {
    let url = ExecFixtures.directory.appendingPathComponent("input-\(UUID().uuidString).json")
    try Data(bytes).write(to: url)
    return url.path
}

@Suite("CLI @FILE arguments")
struct CLIInputFileTests {
    @Test("run --input @FILE with invalid UTF-8 is refused naming the file and the byte offset")
    func runRefusesInvalidUTF8() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let path = try file(Array(#"{"x":"ok"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        let r = try await agentrt(["run", basics, "--agent", "echo", "--user", "alice", "--input", "@" + path,
                                   "--format", "jsonl"])
        #expect(r.status != 0, "status \(r.status)\n\(r.stderr)")
        #expect(r.stderr.contains(path) && r.stderr.contains("not valid UTF-8") && r.stderr.contains("byte 8"),
                "\(r.stderr)")
        #expect(!r.stdout.contains("agent_started"), "the agent must not run: \(r.stdout)")
    }

    @Test("run --input @FILE with malformed JSON gets the parser's message and offset")
    func runReportsTheParserMessage() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let path = try file(Array(#"{"x":1,"x":2}"#.utf8))
        let r = try await agentrt(["run", basics, "--agent", "echo", "--user", "alice", "--input", "@" + path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("invalid JSON at byte 7: duplicate key \"x\""), "\(r.stderr)")
    }

    @Test("run --input @FILE with valid UTF-8 JSON runs the agent with exactly those bytes")
    func runAcceptsAFile() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let path = try file(Array(#"{"x":"é😀"}"#.utf8))
        let r = try await agentrt(["run", basics, "--agent", "echo", "--user", "alice", "--input", "@" + path,
                                   "--format", "jsonl"])
        #expect(r.status == 0, "\(r.stderr)")
        let last = r.lines.last.flatMap { try? JSONValue.parse($0) }
        #expect(last?["data"]?["result"]?["x"]?.stringValue == "é😀", "\(r.stdout)")
    }

    @Test("call --args @FILE reads the arguments from a file and refuses invalid UTF-8")
    func callReadsAFile() async throws {
        let basics = try await ExecFixtures.example("c-basics/basics")
        let ok = try await agentrt(["call", basics, "add", "--user", "alice", "--args", "@" + (try file(Array(#"{"a":2,"b":40}"#.utf8)))])
        #expect(ok.status == 0 && ok.lines.last == "42", "\(ok.stdout)\n\(ok.stderr)")
        let badPath = try file([0x7B, 0xFF, 0x7D])
        let bad = try await agentrt(["call", basics, "add", "--user", "alice", "--args", "@" + badPath])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains(badPath) && bad.stderr.contains("byte 1"), "\(bad.stderr)")
        let missing = try await agentrt(["call", basics, "add", "--user", "alice", "--args", "@/no/such/file.json"])
        #expect(missing.status != 0 && missing.stderr.contains("/no/such/file.json"), "\(missing.stderr)")
    }
}
