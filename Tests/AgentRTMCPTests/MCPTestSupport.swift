import AgentRTCore
import AgentRTMCP
import AgentRTNative
import Foundation
import MCP

/// The example C plugins, compiled with `cc` once per test process into a temporary folder.
enum PluginFixtures {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("agentrt-mcp-\(getpid())-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: PluginFixtures.directory) }
        return url
    }()

    /// `Tests/AgentRTNativeTests/Fixtures/exec/<name>.c` built as a shared library.
    static func execFixture(_ name: String) async throws -> String {
        try await build(key: "exec:\(name)",
                        source: repository.appendingPathComponent("Tests/AgentRTNativeTests/Fixtures/exec/\(name).c").path,
                        output: directory.appendingPathComponent("lib\(name).so").path)
    }

    private static let builds = Locked<[String: Task<String, any Error>]>([:])

    /// `plugins/<relative>.c` built as a shared library, e.g. `example("c-basics/basics")`.
    static func example(_ relative: String) async throws -> String {
        let name = URL(fileURLWithPath: relative).lastPathComponent
        return try await build(key: relative, source: repository.appendingPathComponent("plugins/\(relative).c").path,
                               output: directory.appendingPathComponent("lib\(name).so").path)
    }

    private static func build(key: String, source: String, output: String) async throws -> String {
        let include = repository.appendingPathComponent("include").path
        let task = builds.withLock { tasks -> Task<String, any Error> in
            if let t = tasks[key] { return t }
            let t = Task<String, any Error> {
                let status = try await run("/usr/bin/env", ["cc", "-std=c99", "-shared", "-fPIC", "-fvisibility=hidden",
                                                             "-I", include, source, "-o", output])
                guard status == 0 else { throw FixtureError("cc failed to build \(source) (status \(status))") }
                return output
            }
            tasks[key] = t
            return t
        }
        return try await task.value
    }

    /// Runs a program to completion; its exit status (waits on its termination handler, no
    /// cooperative thread blocked).
    static func run(_ executable: String, _ arguments: [String]) async throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        return try await withCheckedThrowingContinuation { k in
            p.terminationHandler = { k.resume(returning: $0.terminationStatus) }
            do { try p.run() } catch { k.resume(throwing: error) }
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The built `agentrt` executable: searched upwards from the test bundle (the build folder).
enum AgentRTBinary {
    static let path: String? = {
        var candidates: [URL] = []
        if let a0 = CommandLine.arguments.first { candidates.append(URL(fileURLWithPath: a0).standardizedFileURL) }
        for b in Bundle.allBundles { candidates.append(URL(fileURLWithPath: b.bundlePath)) }
        for c in candidates {
            var dir = c
            for _ in 0..<6 {
                let exe = dir.appendingPathComponent("agentrt").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: exe, isDirectory: &isDir), !isDir.boolValue,
                   FileManager.default.isExecutableFile(atPath: exe) { return exe }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()
}

/// A runtime with plugins loaded, served by `AgentRTMCPService` to an SDK client over the
/// in-memory transport pair.
final class MCPHarness: Sendable {
    let runtime: Runtime
    let client: Client
    let server: Server
    let user: String
    /// Every progress and log notification the client received, in order.
    let progress = Locked<[ProgressNotification.Parameters]>([])
    let logs = Locked<[LogMessageNotification.Parameters]>([])

    private init(runtime: Runtime, client: Client, server: Server, user: String) {
        self.runtime = runtime
        self.client = client
        self.server = server
        self.user = user
    }

    static func start(plugins: [String], user: String = "alice", configure: (inout Runtime.Configuration) -> Void = { _ in },
                      setUp: (Runtime) throws -> Void = { _ in }) async throws -> MCPHarness {
        var config = Runtime.Configuration()
        config.logLevel = 5
        configure(&config)
        let runtime = Runtime(configuration: config)
        for p in plugins { _ = try runtime.load(path: try await PluginFixtures.example(p)) }
        try setUp(runtime)
        let service = AgentRTMCPService(runtime: runtime, user: MCPUser(userID: user))
        let server = await service.makeServer()
        let (clientSide, serverSide) = await InMemoryTransport.createConnectedPair()
        try await server.start(transport: serverSide)
        let client = Client(name: "agentrt-tests", version: "1.0")
        let h = MCPHarness(runtime: runtime, client: client, server: server, user: user)
        await client.onNotification(ProgressNotification.self) { m in h.progress.withLock { $0.append(m.params) } }
        await client.onNotification(LogMessageNotification.self) { m in h.logs.withLock { $0.append(m.params) } }
        _ = try await client.connect(transport: clientSide)
        return h
    }

    func stop() async {
        await client.disconnect()
        await server.stop()
        runtime.shutdown()
    }

    /// The whole `tools/call` result (structuredContent included).
    func call(_ name: String, _ arguments: [String: Value] = [:], progressToken: ProgressToken? = nil) async throws
        -> CallTool.Result {
        try await client.callTool(name: name, arguments: arguments, meta: progressToken.map { Metadata(progressToken: $0) })
            .value
    }
}

extension CallTool.Result {
    /// The first text block.
    var text: String? {
        for c in content { if case .text(let t, _, _) = c { return t } }
        return nil
    }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass (a generous bound, not a
/// timing assertion); returns whether it held.
func waitUntil(seconds: Double = 10, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
