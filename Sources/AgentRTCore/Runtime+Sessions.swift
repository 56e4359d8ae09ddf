/// User sessions: list, reset, remove, idle expiry and emergency cleanup (GUARDS.md).
extension Runtime {
    /// A user with state in the runtime.
    public struct UserSummary: Sendable, Equatable {
        public let userID: String
        public let sessions: [String]
        public let inFlight: Int
    }

    /// Every user with state, sorted by id.
    public func listUsers() -> [UserSummary] {
        users.all.map { UserSummary(userID: $0.userID, sessions: $0.sessionIDs, inFlight: $0.inFlightCount) }
            .sorted { $0.userID < $1.userID }
    }

    /// Closes the agent instances of one session of a user (the next call opens fresh ones).
    /// Running calls keep their instance until they return; each instance is closed exactly once.
    @discardableResult
    public func resetSession(userID: String, sessionID: String) -> Int {
        guard let user = users.existing(userID) else { return 0 }
        let slots: [InstanceSlot] = user.lock.withLock {
            let key = ExactID(sessionID)
            let keys = user.instances.keys.filter { $0.session == key }
            return keys.compactMap { user.instances.removeValue(forKey: $0) }
        }
        close(slots)
        return slots.count
    }

    /// Removes a user: cancels its running calls and closes all its instances.
    @discardableResult
    public func removeUser(_ userID: String, reason: String = "the user's sessions were removed") -> Bool {
        guard let user = users.remove(userID) else { return false }
        cleanup(user, reason: reason)
        return true
    }

    /// Removes users idle for at least `idle` (no call in flight, none started since).
    @discardableResult
    public func expireIdleUsers(idle: Duration, now: UInt64? = nil) -> [String] {
        let now = now ?? clock.nowNanos()
        var expired: [String] = []
        for u in users.all {
            // A call that started after `now` was read is not idle (no wrap-around on the subtraction).
            let idleEnough = u.lock.withLock {
                u.inFlight.isEmpty && u.lastUsedNanos <= now && now - u.lastUsedNanos >= idle.nanoseconds
            }
            if idleEnough, let removed = users.remove(u.userID) {
                cleanup(removed, reason: "idle expiry")
                expired.append(u.userID)
            }
        }
        return expired
    }

    /// Emergency cleanup: every user removed, every running call cancelled, every instance closed
    /// once (now, or by the call still using it when it returns).
    @discardableResult
    public func removeAllUsers(reason: String = "emergency cleanup") -> Int {
        let all = users.all
        for u in all {
            if let removed = users.remove(u.userID) { cleanup(removed, reason: reason) }
        }
        return all.count
    }

    func cleanup(_ user: UserState, reason: String) {
        let (calls, slots): ([AgentCall], [InstanceSlot]) = user.lock.withLock {
            let s = Array(user.instances.values)
            user.instances.removeAll()
            return (Array(user.inFlight.calls), s)
        }
        runRecords.drop(userID: user.userID)   // RunRecords hook: a user's records go with the user
        for c in calls { c.context.cancel(.shutdown(reason: reason)) }  // each call's state machine takes it on
        close(slots)
        // Events of running calls still reach subscribers; an unwatched stream goes with its user.
        if calls.isEmpty { events.dropStream(for: user.userID) }
    }

    private func close(_ slots: [InstanceSlot]) {
        for s in slots {
            if let instance = s.markRemoved() { pool.submit(CloseInstanceItem(runtime: self, slot: s, instance: instance)) }
        }
    }

    /// Number of users with state (for tests and memory checks).
    public var userCount: Int { users.count }
}
