import Synchronization
/// One user's ordered event stream: assigns `seq` (strictly increasing, no gaps), keeps a replay
/// buffer bounded by count and bytes, and wakes subscribers. Subscribers are cursors into the
/// buffer, so appending never blocks on a slow subscriber: one that falls behind the buffer gets
/// a `stream_gap`.
public final class UserStream: @unchecked Sendable {
    public let userID: String
    /// Most events retained for replay.
    let capacity: Int
    /// Most bytes (`Event.replayBytes`) retained for replay; the newest event is always kept.
    let maxBytes: Int
    /// The seq of this stream's first event.
    private let firstSeq: UInt64
    private let lock = Lock()
    // Guarded by `lock` (so the runtime's dynamic exclusivity checks add nothing but cost).
    @exclusivity(unchecked) private var ring: ReplayRing
    @exclusivity(unchecked) private var nextSeq: UInt64
    @exclusivity(unchecked) private var lastTimestamp: Int64 = 0
    // Weak: a subscription dropped without cancel() is released (and unregisters in its deinit),
    // never kept alive by the stream it watches.
    @exclusivity(unchecked) private var wakers: [ObjectIdentifier: WeakWaker] = [:]

    /// A stream whose first event gets seq `firstSeq` (above every seq its user had before).
    init(userID: String, capacity: Int, maxBytes: Int = EventBus.defaultReplayBytes, firstSeq: UInt64 = 1) {
        self.userID = userID
        self.capacity = max(1, capacity)
        self.maxBytes = max(0, maxBytes)
        nextSeq = max(1, firstSeq)
        self.firstSeq = nextSeq
        ring = ReplayRing(maxCount: self.capacity, maxBytes: self.maxBytes, firstSeq: nextSeq)
    }

    /// The seq the next event will get.
    public var nextSequence: UInt64 { lock.withLock { nextSeq } }

    /// The seq of the newest event (one below the first seq while the stream is empty).
    var lastSequence: UInt64 { lock.withLock { nextSeq - 1 } }

    /// Events appended to this stream (seqs are gapless from `firstSeq`).
    var appendedCount: UInt64 { lock.withLock { nextSeq - firstSeq } }

    /// Events and estimated bytes in the replay buffer now.
    var retained: (count: Int, bytes: Int) { lock.withLock { (ring.count, ring.bytes) } }

    /// Appends `event`, assigning its seq, and wakes every subscriber.
    ///
    /// Wakes run under the lock: a wake only flips a flag or queues the subscription on the
    /// delivery pool (it never runs a callback or blocks), and waking in place spares the
    /// per-event array of wakers that waking after unlocking would need.
    @discardableResult
    func append(_ event: consuming Event) -> UInt64 {
        // The isolation check, measured on every event: an event naming another user (by exact
        // bytes) never enters this stream; it is counted (the isolation report shows the count).
        guard event.userID.sameBytes(userID) else {
            IsolationCounters.crossUserEventsRefused.add(1, ordering: .relaxed)
            return 0
        }
        IsolationCounters.eventsChecked.add(1, ordering: .relaxed)
        let cost = event.replayBytes
        lock.lock()
        defer { lock.unlock() }
        let seq = nextSeq
        nextSeq += 1
        event.seq = seq
        // Time never runs backwards along the stream: readings taken just before the lock (or
        // a wall clock stepped back) would otherwise date a later event earlier.
        if event.timestampMillis < lastTimestamp { event.timestampMillis = lastTimestamp } else { lastTimestamp = event.timestampMillis }
        ring.append(event, bytes: cost)   // moved, not copied
        if !wakers.isEmpty {
            for w in wakers.values { w.waker?.wake() }
        }
        return seq
    }

    /// What a subscriber at `cursor` (the next seq it wants) can read now.
    enum ReadResult {
        case events([Event], next: UInt64)
        case gap(from: UInt64, to: UInt64, next: UInt64)
        case nothing
    }

    /// Like `ReadResult`, for `read(from:max:into:)` (the events are in the caller's buffer).
    enum BatchResult {
        case events(next: UInt64)
        case gap(from: UInt64, to: UInt64, next: UInt64)
        case nothing
    }

    func read(from cursor: UInt64, max: Int = 256) -> ReadResult {
        var out = ContiguousArray<Event>()
        switch read(from: cursor, max: max, into: &out) {
        case .nothing: return .nothing
        case .gap(let from, let to, let next): return .gap(from: from, to: to, next: next)
        case .events(let next): return .events(Array(out), next: next)
        }
    }

    /// Appends up to `max` events from `cursor` on to `out` (a buffer the caller reuses, so
    /// delivery allocates nothing per batch), or reports the gap before the oldest retained.
    func read(from cursor: UInt64, max: Int, into out: inout ContiguousArray<Event>) -> BatchResult {
        lock.withLock {
            guard cursor < nextSeq else { return .nothing }
            let oldest = ring.count > 0 ? ring.oldestSeq : nextSeq
            if cursor < oldest { return .gap(from: cursor, to: oldest - 1, next: oldest) }
            let n = ring.copy(from: cursor, limit: max, into: &out)
            return .events(next: cursor + UInt64(n))
        }
    }

    func register(_ waker: any StreamWaker) {
        lock.withLock { wakers[ObjectIdentifier(waker)] = WeakWaker(waker: waker) }
    }

    func unregister(_ waker: any StreamWaker) {
        _ = lock.withLock { wakers.removeValue(forKey: ObjectIdentifier(waker)) }
    }

    /// Number of live subscribers.
    public var subscriberCount: Int {
        lock.withLock {
            var n = 0
            for w in wakers.values where w.waker != nil { n += 1 }
            return n
        }
    }
}

struct WeakWaker {
    weak var waker: (any StreamWaker)?
}

/// Something that waits for a stream to grow. `wake` is called with the stream's lock held: it
/// must not block, call back into the stream, or run subscriber code.
protocol StreamWaker: AnyObject, Sendable {
    func wake()
}

/// Process-wide counts behind the isolation report.
enum IsolationCounters {
    /// Events checked at append (their user id equals the stream's, byte for byte).
    static let eventsChecked = Atomic<UInt64>(0)
    /// Events that named another user than the stream's and were refused.
    static let crossUserEventsRefused = Atomic<UInt64>(0)
}
