import Foundation
import Testing

/// The real `agentrt mcp` over stdio pipes, as an MCP client spawns it.
@Suite("agentrt mcp over stdio")
struct MCPStdioTests {
    struct Exit {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `agentrt mcp ARGS`, writes `lines` to its stdin and closes it; waits for its exit
    /// (killed after 60 s, a bound that only a hang reaches).
    static func mcp(_ arguments: [String], lines: [String]) async throws -> Exit {
        let exe = try #require(AgentRTBinary.path, "the agentrt executable was not found next to the test bundle")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["mcp"] + arguments
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        let status: Int32 = try await withCheckedThrowingContinuation { k in
            p.terminationHandler = { k.resume(returning: $0.terminationStatus) }
            do {
                try p.run()
                // Everything at once, then EOF: the server must still answer what it received.
                input.fileHandleForWriting.write(Data(lines.map { $0 + "\n" }.joined().utf8))
                try input.fileHandleForWriting.close()
                let pid = p.processIdentifier
                Task.detached {
                    try? await Task.sleep(for: .seconds(60))
                    if p.isRunning && p.processIdentifier == pid { p.terminate() }
                }
            } catch { k.resume(throwing: error) }
        }
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Exit(status: status, stdout: out, stderr: err)
    }

    static let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"tests","version":"1"}}}"#
    static let initialized = #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#

    @Test("stdout carries only protocol (a plugin's printf goes to stderr); requests sent before EOF are answered; exit 0")
    func protocolOnlyAndCleanExit() async throws {
        let forgerPlugin = try await PluginFixtures.execFixture("exec_cli")
        let basics = try await PluginFixtures.example("c-basics/basics")
        let r = try await Self.mcp([forgerPlugin, basics, "--user", "alice"], lines: [
            Self.initialize, Self.initialized,
            #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"exec_cli.agent.forger","arguments":{}}}"#,
            #"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"basics.add","arguments":{"a":20,"b":22}}}"#,
        ])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        var responses: [Int: [String: Any]] = [:]
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["jsonrpc"] as? String == "2.0", "not JSON-RPC on stdout: \(line)")
            if let id = object?["id"] as? Int, let result = object?["result"] as? [String: Any] { responses[id] = result }
        }
        #expect(!r.stdout.contains("victim"), "the plugin's printf reached stdout")
        #expect(r.stderr.contains("victim"), "the plugin's printf should be on stderr")
        let forged = try #require(responses[2], "no answer to the agent call: \(r.stdout)")
        #expect((forged["structuredContent"] as? [String: Any])?["result"] as? String == "honest")
        let add = try #require(responses[3], "no answer to the tool call: \(r.stdout)")
        #expect((add["structuredContent"] as? [String: Any])?["result"] as? Int == 42)
    }

    @Test("a plugin that cannot be loaded ends agentrt mcp with status 3 and nothing on stdout")
    func loadFailure() async throws {
        let r = try await Self.mcp(["/nonexistent/libnothing.so", "--user", "alice"], lines: [Self.initialize])
        #expect(r.status == 3, "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("cannot load"))
    }
}
