import AgentRTCore
import Logging
import Synchronization
import Testing
@testable import AgentRTServer
#if canImport(Glibc)
import Glibc
#endif

/// A real `AgentServer` over a real `Runtime` on an ephemeral loopback port, with closure
/// agents and a token file of three users (alice, bob, and the admin root).
final class ServerHarness: @unchecked Sendable {
    let runtime: Runtime
    let server: AgentServer
    let port: Int
    let tokenPath: String
    let alice: String
    let bob: String
    let admin: String
    private let task: Task<Void, any Error>

    /// Agents registered on every harness runtime (plugin `t`):
    /// - `echo`: result = input
    /// - `fail`: agent_error "it broke"
    /// - `slow`: runs until cancelled, or for `{"ms":N}` milliseconds, then returns `{"slept":true}`
    /// - `chatty`: emits `{"n":N,"size":S,"pause_us":P}` custom events of S bytes (P µs apart),
    ///   then returns `{"sent":N}`
    /// - `typed`: input schema requires an integer `x`
    static func start(_ configureServer: (inout ServerConfiguration) -> Void = { _ in },
                      runtime configureRuntime: (inout Runtime.Configuration) -> Void = { _ in }) async throws -> ServerHarness {
        var rc = Runtime.Configuration()
        rc.logLevel = 5
        rc.callerSpinIterations = 0
        rc.workerSpinIterations = 200
        rc.idleUserExpiry = nil
        configureRuntime(&rc)
        let runtime = Runtime(configuration: rc)
        try registerAgents(runtime)

        let dir = "/tmp/agentrt-server-tests"
        mkdir(dir, 0o700)
        let path = "\(dir)/tokens-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).txt"
        let alice = try TokenIssuer.add(path: path, userID: "alice", role: .user)
        let bob = try TokenIssuer.add(path: path, userID: "bob", role: .user)
        let admin = try TokenIssuer.add(path: path, userID: "root", role: .admin)

        var sc = ServerConfiguration()
        sc.port = 0
        sc.drainGrace = .seconds(10)
        configureServer(&sc)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let server = AgentServer(runtime: runtime, tokens: try TokenStore(path: path), configuration: sc, logger: logger)
        let task = Task { try await server.run(signals: []) }
        guard let port = await server.waitUntilListening() else {
            _ = try await task.value
            throw TestSocket.Failure(description: "the server did not start")
        }
        return ServerHarness(runtime: runtime, server: server, port: port, tokenPath: path, alice: alice, bob: bob,
                             admin: admin, task: task)
    }

    private init(runtime: Runtime, server: AgentServer, port: Int, tokenPath: String, alice: String, bob: String,
                 admin: String, task: Task<Void, any Error>) {
        self.runtime = runtime
        self.server = server
        self.port = port
        self.tokenPath = tokenPath
        self.alice = alice
        self.bob = bob
        self.admin = admin
        self.task = task
    }

    /// Graceful shutdown of the server only; waits for `run()` to return.
    func stopServer() async throws {
        await server.shutdown()
        try await task.value
    }

    /// Graceful shutdown, then the runtime's.
    func stop() async throws {
        try await stopServer()
        let rt = runtime
        try await offThread { rt.shutdown() }   // blocks until its calls ended: not on the cooperative pool
        unlink(tokenPath)
    }

    static func registerAgents(_ rt: Runtime) throws {
        func add(_ name: String, schema: JSONValue? = nil, _ body: @escaping @Sendable (AgentCall, String) -> HostStatus) throws {
            try rt.register(agent: AgentDescriptor(plugin: "t", name: name, inputSchema: schema, threadSafe: true),
                            implementation: ClosureAgent(body))
        }
        try add("echo") { call, input in call.setResult(input) }
        try add("fail") { call, _ in
            _ = call.setError("it broke")
            return .agentError
        }
        try add("slow") { call, input in
            let ms = (try? JSONValue.parse(input))?["ms"]?.numberValue?.int64 ?? 60_000
            var waited: Int64 = 0
            while !call.context.isCancelled && waited < ms {
                usleep(1000)
                waited += 1
            }
            if call.context.isCancelled { return .cancelled }
            return call.setResult("{\"slept\":true}")
        }
        try add("chatty") { call, input in
            let v = try? JSONValue.parse(input)
            let n = v?["n"]?.numberValue?.int64 ?? 10
            let size = Int(v?["size"]?.numberValue?.int64 ?? 16)
            let pause = useconds_t(v?["pause_us"]?.numberValue?.int64 ?? 0)
            let pad = String(repeating: "x", count: size)
            for i in 0..<n {
                if call.context.isCancelled { return .cancelled }
                _ = call.emit(type: "tick", data: "{\"i\":\(i),\"pad\":\"\(pad)\"}")
                if pause > 0 { usleep(pause) }
            }
            return call.setResult("{\"sent\":\(n)}")
        }
        let schema: JSONValue = ["type": "object", "required": ["x"], "properties": ["x": ["type": "integer"]]]
        try add("typed", schema: schema) { call, input in call.setResult(input) }
    }

    // MARK: helpers

    func get(_ path: String, token: String?, headers: [(String, String)] = []) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "GET", path, token: token, headers: headers)
    }

    func post(_ path: String, token: String?, body: String? = nil) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "POST", path, token: token, body: body ?? "")
    }

    /// POST /v1/runs; returns the response.
    func startRun(_ agent: String, token: String, input: String = "{}", wait: Bool = false) async throws -> TestResponse {
        try await post("/v1/runs", token: token, body: "{\"agent\":\"\(agent)\",\"input\":\(input),\"wait\":\(wait)}")
    }

    /// Polls `GET /v1/runs/{id}` until its state is not running (up to 60 s: sanitizer builds are slow).
    func waitFinished(_ runID: String, token: String) async throws -> TestResponse {
        for _ in 0..<6000 {
            let r = try await get("/v1/runs/\(runID)", token: token)
            if r.status != 200 || r.json["state"]?.stringValue != "running" { return r }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSocket.Failure(description: "run \(runID) did not finish")
    }

    /// Polls until `condition` holds (up to 60 s: sanitizer builds are slow).
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<6000 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestSocket.Failure(description: "timed out waiting for \(what)")
    }
}

extension ServerHarness {
    /// Runs `body` against a fresh server and stops the server afterwards, also when `body` throws.
    static func with(_ configureServer: (inout ServerConfiguration) -> Void = { _ in },
                     runtime configureRuntime: (inout Runtime.Configuration) -> Void = { _ in },
                     _ body: (ServerHarness) async throws -> Void) async throws {
        let h = try await start(configureServer, runtime: configureRuntime)
        do { try await body(h) } catch {
            try? await h.stop()
            throw error
        }
        try await h.stop()
    }
}

/// Whether this process runs under ThreadSanitizer (its runtime is linked in). The tests that
/// push tens of megabytes through a socket nobody reads take minutes there, so they skip it.
let underThreadSanitizer: Bool = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil

/// The tests that push megabytes through a socket nobody reads depend on the kernel's socket
/// buffers filling while the machine is otherwise idle enough to drain the rest; in a parallel
/// run of the whole suite on 2 cores they can stall. They run when asked, alone
/// (`.ci/run`: `AGENTRT_SOCKET_TESTS=1 swift test --skip-build --filter AgentRTServerTests`).
let socketStressAlone: Bool = {
    guard let v = getenv("AGENTRT_SOCKET_TESTS") else { return false }
    return String(cString: v) == "1"
}()
