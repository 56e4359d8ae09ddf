import AgentRTCore
import Testing

@Suite("Run records")
struct RunRecordsTests {
    static func record(_ id: String) -> RunRecord {
        RunRecord(runID: id, plugin: "p", agent: "a", sessionID: "", started: true, outcome: .success("1"),
                  duration: .milliseconds(1), finishedAtMillis: 0)
    }

    @Test("per user, bounded, oldest dropped first; lookups never cross users")
    func bounded() {
        let r = RunRecords(perUser: 3, maxUsers: 2)
        for i in 0..<5 { r.record(userID: "alice", Self.record("run\(i)")) }
        #expect(r.count(userID: "alice") == 3)
        #expect(r.record(runID: "run1", userID: "alice") == nil)
        #expect(r.record(runID: "run4", userID: "alice")?.resultJSON == "1")
        #expect(r.record(runID: "run4", userID: "bob") == nil)
        // Canonically equivalent but different bytes: a different user.
        r.record(userID: "\u{212B}", Self.record("x"))
        #expect(r.record(runID: "x", userID: "\u{00C5}") == nil)
        #expect(r.record(runID: "x", userID: "\u{212B}") != nil)
        // A third user evicts the one whose newest record is oldest (alice).
        r.record(userID: "carol", Self.record("c"))
        #expect(r.userCount == 2)
        #expect(r.count(userID: "alice") == 0)
        r.drop(userID: "carol")
        #expect(r.record(runID: "c", userID: "carol") == nil)
    }

    @Test("the runtime records outcomes and refusals, and drops them with the user")
    func runtimeHooks() async throws {
        var c = Runtime.Configuration()
        c.logLevel = 5
        c.idleUserExpiry = nil
        let rt = Runtime(configuration: c)
        rt.runRecords.enable()   // what a face that answers run lookups does (AgentServer does it)
        defer { rt.shutdown() }
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "ok"), implementation: ClosureAgent { call, _ in
            call.setResult("{\"v\":1}")
        })
        let ok = await rt.run(RunRequest(plugin: "t", agent: "ok", userID: "alice"))
        let rec = try #require(rt.runRecord(runID: ok.runID, userID: "alice"))
        #expect(rec.started && rec.resultJSON == "{\"v\":1}" && rec.agent == "ok")
        #expect(rt.runRecord(runID: ok.runID, userID: "bob") == nil)
        let refused = await rt.run(RunRequest(plugin: "t", agent: "missing", userID: "alice"))
        let r2 = try #require(rt.runRecord(runID: refused.runID, userID: "alice"))
        #expect(!r2.started && r2.error?.code == .notFound)
        #expect(rt.removeUser("alice"))
        #expect(rt.runRecord(runID: ok.runID, userID: "alice") == nil)
    }
}
