/// One user's ordered event stream: assigns `seq` (strictly increasing, no gaps), keeps a bounded
/// replay buffer, and wakes subscribers. Subscribers are cursors into the buffer, so appending
/// never blocks on a slow subscriber: one that falls behind the buffer gets a `stream_gap`.
public final class UserStream: @unchecked Sendable {
    public let userID: String
    let capacity: Int
    private let lock = Lock()
    // Guarded by `lock`.
    private var ring: [Event] = []
    private var head = 0                // index of the oldest event once the ring is full
    private var nextSeq: UInt64 = 1
    // Weak: a subscription dropped without cancel() is released and pruned, never leaked.
    private var wakers: [ObjectIdentifier: WeakWaker] = [:]

    init(userID: String, capacity: Int) {
        self.userID = userID
        self.capacity = max(1, capacity)
    }

    /// The seq the next event will get.
    public var nextSequence: UInt64 { lock.withLock { nextSeq } }

    /// Appends `event`, assigning its seq. Wakes subscribers outside the lock.
    @discardableResult
    func append(_ event: Event) -> UInt64 {
        var e = event
        let (seq, toWake): (UInt64, [any StreamWaker]) = lock.withLock {
            e.seq = nextSeq
            nextSeq += 1
            if ring.count < capacity {
                ring.append(e)
            } else {
                ring[head] = e
                head = (head + 1) % capacity
            }
            if wakers.isEmpty { return (e.seq, []) }
            var live: [any StreamWaker] = []
            live.reserveCapacity(wakers.count)
            var dead: [ObjectIdentifier] = []
            for (id, w) in wakers {
                if let waker = w.waker { live.append(waker) } else { dead.append(id) }
            }
            for id in dead { wakers.removeValue(forKey: id) }
            return (e.seq, live)
        }
        for w in toWake { w.wake() }
        return seq
    }

    /// What a subscriber at `cursor` (the next seq it wants) can read now.
    enum ReadResult {
        case events([Event], next: UInt64)
        case gap(from: UInt64, to: UInt64, next: UInt64)
        case nothing
    }

    func read(from cursor: UInt64, max: Int = 256) -> ReadResult {
        lock.withLock {
            guard cursor < nextSeq else { return .nothing }
            let oldest = nextSeq - UInt64(ring.count)
            if cursor < oldest { return .gap(from: cursor, to: oldest - 1, next: oldest) }
            let n = min(Int(nextSeq - cursor), max)
            var out: [Event] = []
            out.reserveCapacity(n)
            let startOffset = Int(cursor - oldest)
            for i in 0..<n {
                let idx = ring.count < capacity ? startOffset + i : (head + startOffset + i) % capacity
                out.append(ring[idx])
            }
            return .events(out, next: cursor + UInt64(n))
        }
    }

    func register(_ waker: any StreamWaker) -> UInt64 {
        lock.withLock { wakers[ObjectIdentifier(waker)] = WeakWaker(waker: waker); return nextSeq }
    }

    func unregister(_ waker: any StreamWaker) {
        _ = lock.withLock { wakers.removeValue(forKey: ObjectIdentifier(waker)) }
    }

    /// Number of live subscribers.
    public var subscriberCount: Int { lock.withLock { wakers.values.filter { $0.waker != nil }.count } }
}

struct WeakWaker {
    weak var waker: (any StreamWaker)?
}

/// Something that waits for a stream to grow.
protocol StreamWaker: AnyObject, Sendable {
    func wake()
}

/// The process's per-user streams.
public final class EventBus: @unchecked Sendable {
    /// Events kept per user for resume; a subscriber further behind gets `stream_gap`.
    public let replayCapacity: Int
    private let shards: [Locked<[String: UserStream]>]

    public init(replayCapacity: Int = 1024) {
        self.replayCapacity = replayCapacity
        shards = (0..<16).map { _ in Locked([:]) }
    }

    /// The stream of `userID`, created on first use.
    public func stream(for userID: String) -> UserStream {
        let shard = shards[Int(UInt(bitPattern: userID.hashValue) % UInt(shards.count))]
        return shard.withLock { map in
            if let s = map[userID] { return s }
            let s = UserStream(userID: userID, capacity: replayCapacity)
            map[userID] = s
            return s
        }
    }

    /// Publishes an event on its user's stream; returns its seq.
    @discardableResult
    public func publish(_ event: Event) -> UInt64 { stream(for: event.userID).append(event) }

    /// Subscribes to `userID`'s events as an `AsyncSequence`, starting after `afterSeq` (replay
    /// from the buffer) or, when nil, with the next event.
    public func subscribe(userID: String, afterSeq: UInt64? = nil) -> EventSubscription {
        EventSubscription(stream: stream(for: userID), after: afterSeq)
    }

    /// Subscribes with a callback invoked on a dedicated delivery thread, in seq order. The
    /// callback never runs on the emitter's thread, so a slow callback delays only itself.
    public func subscribe(userID: String, afterSeq: UInt64? = nil,
                          _ deliver: @escaping @Sendable (Event) -> Void) -> CallbackSubscription {
        CallbackSubscription(stream: stream(for: userID), after: afterSeq, deliver: deliver)
    }

    /// Drops `userID`'s stream if nobody subscribes to it (its user was removed). A later event
    /// for the user starts a new stream.
    @discardableResult
    public func dropStream(for userID: String) -> Bool {
        let shard = shards[Int(UInt(bitPattern: userID.hashValue) % UInt(shards.count))]
        return shard.withLock { map in
            guard let s = map[userID], s.subscriberCount == 0 else { return false }
            map.removeValue(forKey: userID)
            return true
        }
    }

    /// Drops every stream (the runtime shut down).
    public func dropAllStreams() {
        for s in shards { s.withLock { $0.removeAll() } }
    }

    /// Number of users with a stream.
    public var streamCount: Int { shards.reduce(0) { n, s in n + s.withLock { $0.count } } }
}
