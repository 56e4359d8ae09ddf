/// The users the runtime knows, each created exactly once even under racing first requests.
final class UserRegistry: @unchecked Sendable {
    private let shards: [Locked<[String: UserState]>]
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

    private func shard(_ user: String) -> Locked<[String: UserState]> {
        shards[Int(UInt(bitPattern: user.hashValue) % UInt(shards.count))]
    }

    /// The user's state, created on first use.
    func state(for user: String) -> UserState {
        shard(user).withLock { map in
            if let s = map[user] { return s }
            let s = UserState(userID: user, perUserLimit: perUserLimit, stream: events.stream(for: user),
                              clock: clock, timers: timers)
            map[user] = s
            return s
        }
    }

    func existing(_ user: String) -> UserState? { shard(user).withLock { $0[user] } }

    /// Removes the user if present (its state is returned for cleanup).
    func remove(_ user: String) -> UserState? {
        shard(user).withLock { map in
            let s = map.removeValue(forKey: user)
            s?.lock.withLock { s?.removed = true }
            return s
        }
    }

    var all: [UserState] { shards.flatMap { $0.withLock { Array($0.values) } } }
    var count: Int { shards.reduce(0) { $0 + $1.withLock { $0.count } } }
}
