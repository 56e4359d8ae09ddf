import Synchronization

/// The process's per-user streams.
///
/// A user's seq only increases for the life of the bus, even across `dropStream`: the bus keeps
/// one number, the highest seq any dropped stream had used, and a new stream starts above it.
/// So a client resuming after a user's removal with the last seq it saw is never mistaken for
/// one that is ahead (which would mean silence until the new stream caught up); it gets a
/// `stream_gap` for the seqs the new stream never had, then the new events. This costs nothing
/// per event and keeps no memory per dropped user.
public final class EventBus: @unchecked Sendable {
    /// Default of `replayBytes`: 1 MiB per user.
    public static let defaultReplayBytes = 1 << 20

    /// Events kept per user for resume; a subscriber further behind gets `stream_gap`.
    public let replayCapacity: Int
    /// Bytes (`Event.replayBytes`) kept per user for resume: the oldest events are evicted
    /// until both this and `replayCapacity` hold (the newest event is always kept).
    public let replayBytes: Int
    /// The threads that run callback subscriptions.
    let deliveryPool: DeliveryPool
    private let shards: [Locked<Shard>]
    /// The highest seq used by any stream this bus dropped; new streams start above it.
    private let retiredSeqFloor = Atomic<UInt64>(0)

    public convenience init(replayCapacity: Int = 1024, replayBytes: Int = EventBus.defaultReplayBytes) {
        self.init(replayCapacity: replayCapacity, replayBytes: replayBytes, deliveryPool: .shared)
    }

    /// A bus delivering callbacks on `deliveryPool` (tests use a pool of their own).
    init(replayCapacity: Int, replayBytes: Int, deliveryPool: DeliveryPool) {
        self.replayCapacity = replayCapacity
        self.replayBytes = replayBytes
        self.deliveryPool = deliveryPool
        shards = (0..<16).map { _ in Locked(Shard()) }
    }

    /// Some users' streams, and how many events the streams this shard dropped had.
    private struct Shard {
        // Keyed by the exact bytes of the user id (never canonical equivalence: see ExactID).
        var streams: [ExactID: UserStream] = [:]
        var droppedEvents: UInt64 = 0
    }

    private func shard(_ key: ExactID) -> Locked<Shard> {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    /// The stream of `userID`, created on first use.
    public func stream(for userID: String) -> UserStream {
        let key = ExactID(userID)
        return shard(key).withLock { sh in
            if let s = sh.streams[key] { return s }
            // Under the shard lock: a drop of this user's previous stream (same shard) has
            // already raised the floor.
            let first = retiredSeqFloor.load(ordering: .acquiring) + 1
            let s = UserStream(userID: userID, capacity: replayCapacity, maxBytes: replayBytes, firstSeq: first)
            sh.streams[key] = s
            return s
        }
    }

    /// Publishes an event on its user's stream; returns its seq.
    @discardableResult
    public func publish(_ event: consuming Event) -> UInt64 {
        let stream = stream(for: event.userID)
        return stream.append(event)
    }

    /// Subscribes to `userID`'s events as an `AsyncSequence`, starting after `afterSeq` (replay
    /// from the buffer) or, when nil, with the next event.
    public func subscribe(userID: String, afterSeq: UInt64? = nil) -> EventSubscription {
        EventSubscription(stream: stream(for: userID), after: afterSeq)
    }

    /// Subscribes with a callback, invoked in seq order on a thread of the shared delivery pool
    /// (never on the emitter's thread, never concurrently with itself). A slow callback delays
    /// only its own subscription (see `DeliveryPool` for the exact guarantee). Delivery stops at
    /// `cancel()` or when the returned subscription is released.
    public func subscribe(userID: String, afterSeq: UInt64? = nil,
                          _ deliver: @escaping @Sendable (Event) -> Void) -> CallbackSubscription {
        CallbackSubscription(stream: stream(for: userID), after: afterSeq, pool: deliveryPool, deliver: deliver)
    }

    /// Drops `userID`'s stream if nobody subscribes to it (its user was removed). A later event
    /// for the user starts a new stream, numbered above every seq this one used.
    @discardableResult
    public func dropStream(for userID: String) -> Bool {
        let key = ExactID(userID)
        return shard(key).withLock { sh in
            guard let s = sh.streams[key], s.subscriberCount == 0 else { return false }
            sh.streams.removeValue(forKey: key)
            sh.droppedEvents += s.appendedCount
            raiseFloor(to: s.lastSequence)
            return true
        }
    }

    private func raiseFloor(to seq: UInt64) {
        var current = retiredSeqFloor.load(ordering: .relaxed)
        while seq > current {
            let (exchanged, original) = retiredSeqFloor.compareExchange(
                expected: current, desired: seq, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }

    /// Drops every stream (the runtime shut down); later streams still number above them.
    public func dropAllStreams() {
        for sh in shards {
            sh.withLock { sh in
                for s in sh.streams.values {
                    sh.droppedEvents += s.appendedCount
                    raiseFloor(to: s.lastSequence)
                }
                sh.streams.removeAll()
            }
        }
    }

    /// Number of users with a stream.
    public var streamCount: Int { shards.reduce(0) { n, s in n + s.withLock { $0.streams.count } } }

    /// Events appended to users' streams over the life of the bus (a metric: `/metrics` reports
    /// it as events emitted). Read from the streams' own seq counters at the call, so emitting
    /// pays nothing for it; O(users). Never decreases: each shard's total is read under its lock,
    /// and a stream's count moves to its shard's `droppedEvents` when it is dropped.
    public var eventsEmitted: UInt64 {
        shards.reduce(0) { n, sh in
            n + sh.withLock { s in s.streams.values.reduce(s.droppedEvents) { $0 + $1.appendedCount } }
        }
    }
}
