/// Stats per agent and per user, and the isolation report (GUARDS.md).
extension Runtime {
    /// Stats of one agent, if registered.
    public func stats(plugin: String, agent: String) -> CallStats.Snapshot? { entry(plugin, agent)?.stats.snapshot() }

    /// Stats of one user, if known.
    public func stats(user: String) -> CallStats.Snapshot? { users.existing(user)?.stats.snapshot() }

    /// Everything as one JSON document: agents (with breaker state), tools, users, late activity.
    public func statsJSON() -> JSONValue {
        var agentsObj = JSONObject()
        for d in agentDescriptors {
            guard case .object(var o) = entry(d.plugin, d.name)!.stats.snapshot().json else { continue }
            o["breaker"] = .string(breaker(plugin: d.plugin, agent: d.name).currentState.rawValue)
            agentsObj[d.qualifiedName] = .object(o)
        }
        var usersObj = JSONObject()
        for u in users.all.sorted(by: { $0.userID < $1.userID }) { usersObj[u.userID] = u.stats.snapshot().json }
        var late = JSONObject()
        late["events_dropped"] = .int(Int64(counters.lateEvents.load(ordering: .relaxed)))
        late["results_discarded"] = .int(Int64(counters.lateResults.load(ordering: .relaxed)))
        late["tool_calls_refused"] = .int(Int64(counters.lateToolCalls.load(ordering: .relaxed)))
        late["zombies_returned"] = .int(Int64(counters.zombiesReturned.load(ordering: .relaxed)))
        return .object(JSONObject([
            ("agents", .object(agentsObj)), ("users", .object(usersObj)), ("late", .object(late)),
            ("workers", .int(Int64(pool.threadCount))), ("global_in_flight", .int(Int64(global.held))),
        ]))
    }

    /// Active users, their sessions and in-flight runs, and a check that no run or session is
    /// shared between users.
    public func isolationReport() -> JSONValue {
        var runOwners: [String: String] = [:]
        var shared: [JSONValue] = []
        var usersArr: [JSONValue] = []
        for u in users.all.sorted(by: { $0.userID < $1.userID }) {
            let (runs, sessions, wrongUser): ([String], [String], [String]) = u.lock.withLock {
                let wrong = u.inFlight.calls.filter { !$0.context.userID.sameBytes(u.userID) }.map(\.runID)
                return (u.inFlight.runIDs.sorted(), Array(Set(u.instances.keys.map(\.sessionID))).sorted(), wrong)
            }
            for r in runs {
                // The same user may hold one id twice (a caller-given id reused): not a leak.
                if let other = runOwners[r], !other.sameBytes(u.userID) { shared.append(.string("run \(r) is held by \(other) and \(u.userID)")) }
                runOwners[r] = u.userID
            }
            for r in wrongUser { shared.append(.string("run \(r) in \(u.userID)'s table belongs to another user")) }
            usersArr.append(.object(JSONObject([
                ("user_id", .string(u.userID)), ("sessions", .array(sessions.map { .string($0) })),
                ("in_flight_runs", .array(runs.map { .string($0) })),
            ])))
        }
        return .object(JSONObject([
            ("active_users", .int(Int64(usersArr.count))), ("users", .array(usersArr)),
            // Measured, not asserted: every event is checked against its stream's user at
            // append, every in-flight table against its calls' users here (process-wide counts).
            ("events_checked", .int(Int64(IsolationCounters.eventsChecked.load(ordering: .relaxed)))),
            ("cross_user_events_refused", .int(Int64(IsolationCounters.crossUserEventsRefused.load(ordering: .relaxed)))),
            ("violations", .array(shared)),
        ]))
    }
}
