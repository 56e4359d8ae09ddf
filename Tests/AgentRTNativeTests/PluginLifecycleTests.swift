import AgentRTCore
import Testing

@testable import AgentRTNative

/// plugin.h's lifecycle promises, kept at shutdown (issue 9, defect 5): every opened session is
/// closed exactly once and on_shutdown runs once per on_init, when the last runtime using the
/// plugin shuts down; a later load initialises it again.
@Suite("Plugin lifecycle")
struct PluginLifecycleTests {
    private typealias CountFn = @convention(c) (Int32) -> Int32

    @Test("shutdown closes every session once and runs on_shutdown once per init; a reload re-inits")
    func lifecycleAtShutdown() async throws {
        let path = try await ExecFixtures.fixture("exec_lifecycle")
        let count = unsafeBitCast(try ExecFixtures.symbol(path, "exec_lifecycle_count"), to: CountFn.self)
        func counts() -> [Int32] { (0..<4).map { count($0) } }   // inits, shutdowns, opens, closes
        let base = counts()

        let a = Runtime(), b = Runtime()
        _ = try a.load(path: path)
        _ = try b.load(path: path)   // the same plugin, used by two runtimes
        for u in 0..<5 {
            for s in 0..<3 {
                let r = a.runBlocking(RunRequest(plugin: "exec_lifecycle", agent: "chat", userID: "u\(u)", sessionID: "s\(s)"))
                #expect(r.isSuccess)
            }
        }
        #expect(b.runBlocking(RunRequest(plugin: "exec_lifecycle", agent: "chat", userID: "z")).isSuccess)
        var c = counts()
        #expect(c[0] - base[0] <= 1, "on_init ran more than once for one load")
        #expect(c[2] - base[2] == 16)

        a.shutdown()
        c = counts()
        #expect(c[3] - base[3] == 15, "every session of the first runtime closed exactly once")
        #expect(c[1] == base[1], "on_shutdown ran while another runtime still uses the plugin")
        a.shutdown()   // idempotent
        #expect(counts()[3] - base[3] == 15)

        b.shutdown()
        c = counts()
        #expect(c[3] - base[3] == 16)
        #expect(c[1] - base[1] == 1, "on_shutdown once, when the last runtime using the plugin shut down")

        // A later load initialises the plugin again (each init gets its one shutdown).
        let again = Runtime()
        _ = try again.load(path: path)
        #expect(counts()[0] - c[0] == 1)
        again.shutdown()
        #expect(counts()[1] - c[1] == 1)
    }
}
