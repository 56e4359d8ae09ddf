/// The users the runtime knows, keyed by the exact bytes of their id, each created exactly
/// once even under racing first requests.
final class UserRegistry: @unchecked Sendable {
    private let shards: [Locked<[ExactID: UserState]>]
    let perUserLimit: Int
    let events: EventBus
    let clock: any RuntimeClock
    let timers: Watchdog?

    init(perUserLimit: Int, events: EventBus, clock: any RuntimeClock, timers: Watchdog?, shardCount: Int = 32) {
        self.perUserLimit = perUserLimit
        self.events = events
        self.clock = clock
        self.timers = timers
        shards = (0..<shardCount).map { _ in Locked([:]) }
    }

    private func shard(_ key: ExactID) -> Locked<[ExactID: UserState]> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// The user's state, created on first use.
    func state(for user: String) -> UserState {
        let key = ExactID(user)
        return shard(key).withLock { map in
            if let s = map[key] { return s }
            let s = UserState(userID: user, perUserLimit: perUserLimit, stream: events.stream(for: user),
                              clock: clock, timers: timers)
            map[key] = s
            return s
        }
    }

    func existing(_ user: String) -> UserState? {
        let key = ExactID(user)
        return shard(key).withLock { $0[key] }
    }

    /// Removes the user if present (its state is returned for cleanup).
    func remove(_ user: String) -> UserState? {
        let key = ExactID(user)
        return shard(key).withLock { map in
            let s = map.removeValue(forKey: key)
            s?.lock.withLock { s?.removed = true }
            return s
        }
    }

    var all: [UserState] { shards.flatMap { $0.withLock { Array($0.values) } } }
    var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }
}
