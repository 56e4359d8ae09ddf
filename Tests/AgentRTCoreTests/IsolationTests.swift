import Synchronization
import Testing
@testable import AgentRTCore

/// Session state that remembers whom it was opened for.
private struct Owner: Sendable { let user: String, session: String }

private final class OwnedSessions: AgentImplementation, @unchecked Sendable {
    let opens = Shared<Int>(0)
    var hasSessionHooks: Bool { true }
    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        opens.add(1, ordering: .relaxed)
        return AgentInstance(value: Owner(user: userID, session: sessionID))
    }
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        let owner = instance.value as! Owner
        for k in 0..<2 {
            _ = call.emit(type: "mine", data: "{\"user\":\"\(call.context.userID)\",\"owner\":\"\(owner.user)\",\"k\":\(k)}")
        }
        if owner.user != call.context.userID || owner.session != call.context.sessionID { return call.setResult("\"CROSSED\"") }
        return call.setResult("\"\(owner.user)/\(owner.session)\"")
    }
}

@Suite("Isolation between users")
struct IsolationTests {
    @Test("1,000 users running at once each see only their own events, results and sessions",
          .timeLimit(.minutes(1)))
    func thousandUsers() async throws {
        let users = (0..<1000).map { "user-\($0)" }
        let rt = CoreTestKit.runtime {
            $0.globalLimit = 4096
            $0.maxWorkers = 16
            $0.replayCapacity = 64
        }
        let impl = OwnedSessions()
        try rt.register(agent: AgentDescriptor(plugin: "t", name: "own", hasSessionHooks: true), implementation: impl)
        let subs = Dictionary(uniqueKeysWithValues: users.map { ($0, rt.events.subscribe(userID: $0)) })
        let runsByUser = Locked<[String: Set<String>]>([:])
        let results = Recorder<(String, RunResult)>()
        var midReport: JSONValue? = nil
        var midTables: [(table: String, run: String, owner: String)] = []
        for round in 0..<3 {
            for (i, u) in users.enumerated() {
                let id = rt.runDetached(RunRequest(plugin: "t", agent: "own", userID: u, sessionID: "s-\(round % 2)")) {
                    results.append((u, $0))
                }
                runsByUser.withLock { _ = $0[u, default: []].insert(id) }
                if round == 1 && i == 500 {
                    // Mid-flight: what every user's in-flight table holds, and what the report says.
                    midReport = rt.isolationReport()
                    for state in rt.users.all {
                        state.lock.withLock {
                            for call in state.inFlight.calls { midTables.append((state.userID, call.runID, call.context.userID)) }
                        }
                    }
                }
            }
        }
        #expect(await CoreTestKit.eventually(.seconds(30)) { results.count == 3000 })
        // Every run in a user's table is one of that user's runs, for a call of that user.
        let issued = runsByUser.withLock { $0 }
        for (table, run, owner) in midTables {
            #expect(table.utf8.elementsEqual(owner.utf8), "\(table)'s table holds run \(run) of \(owner)")
            #expect(issued[table]?.contains(run) == true, "\(table)'s table holds run \(run), which \(table) never started")
        }
        let mid = try #require(midReport)
        #expect(mid["cross_user_events_refused"] == 0)
        #expect(mid["violations"] == [])
        for entry in mid["users"]?.arrayValue ?? [] {
            let user = entry["user_id"]?.stringValue ?? ""
            for run in entry["in_flight_runs"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                #expect(issued[user]?.contains(run) == true, "the report lists run \(run) under \(user)")
            }
        }

        for (u, r) in results.all {
            #expect(r.resultJSON?.hasPrefix("\"\(u)/s-") == true, "\(u) got \(r.resultJSON ?? r.error!.description)")
        }
        let runs = runsByUser.withLock { $0 }
        var total = 0
        for u in users {
            let events = drainAll(subs[u]!)
            total += events.count
            #expect(events.count == 12, "\(u) saw \(events.count) events")
            for e in events {
                #expect(e.userID == u)
                #expect(runs[u]!.contains(e.runID), "\(u) saw run \(e.runID) of someone else")
                if e.kind == .custom {
                    let v = CoreTestKit.data(e)["value"]
                    #expect(v?["user"]?.stringValue == u && v?["owner"]?.stringValue == u)
                }
            }
            // The user's own stream, complete and in order: seq 1...12 with no gap.
            #expect(events.map(\.seq) == Array(1...12), "\(u)'s seqs: \(events.map(\.seq))")
        }
        #expect(total == 12_000)
        #expect(impl.opens.load(ordering: .relaxed) == 2000)
        let report = rt.isolationReport()
        #expect(report["cross_user_events_refused"] == 0)
        #expect(report["active_users"]?.int64Value == 1000)
        #expect(report["users"]?.arrayValue?.allSatisfy { $0["in_flight_runs"] == [] } == true)
        #expect(report["users"]?.arrayValue?.allSatisfy { $0["sessions"] == ["s-0", "s-1"] } == true)
        #expect(Set(runs.values.flatMap { $0 }).count == 3000)
    }

    @Test("runs and events of two users never mix under concurrent async load", .timeLimit(.minutes(1)))
    func twoUsersConcurrently() async throws {
        // On a manual clock the admission waits never run out, however loaded the machine is.
        let (rt, _) = CoreTestKit.manualRuntime { $0.perUserLimit = 8; $0.admissionWait = .seconds(10) }
        try CoreTestKit.agent(rt, "echo") { call, _ in
            _ = call.emit(type: "who", data: "\"\(call.context.userID)\"")
            return call.setResult("\"\(call.context.userID)\"")
        }
        let results = await withTaskGroup(of: (String, RunResult).self) { g in
            for i in 0..<200 {
                let u = i % 2 == 0 ? "ann" : "ben"
                g.addTask { (u, await rt.run(RunRequest(plugin: "t", agent: "echo", userID: u))) }
            }
            return await g.reduce(into: [(String, RunResult)]()) { $0.append($1) }
        }
        for (u, r) in results { #expect(r.resultJSON == "\"\(u)\"") }
        for u in ["ann", "ben"] {
            let events = CoreTestKit.events(rt, user: u)
            #expect(events.count == 300)
            #expect(events.allSatisfy { $0.userID == u })
            #expect(events.filter { $0.kind == .custom }.allSatisfy { CoreTestKit.data($0)["value"]?.stringValue == u })
            #expect(events.map(\.seq) == Array(1...300))
        }
    }

    /// Everything a subscription has ready now.
    private func drainAll(_ sub: EventSubscription) -> [Event] {
        var out: [Event] = []
        while let e = sub.poll() { out.append(e) }
        return out
    }
}
