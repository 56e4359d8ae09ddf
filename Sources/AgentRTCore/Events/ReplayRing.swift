/// The replay buffer of one user's stream: the newest events, bounded both by count and by
/// (estimated) bytes. The oldest events are evicted first; the newest is always kept, even when
/// it alone is over the byte bound, so a subscriber that is caught up never sees a gap.
///
/// A circular buffer of power-of-two slots (indexing is a mask, not a division) that grows by
/// doubling as events accumulate, so a quiet user costs a few slots rather than `maxCount`.
/// Slots are raw memory holding initialized events only between `head` and `head + count`:
/// appending moves the event in (no copy of the old slot, no optional wrapper) and evicting
/// destroys it in place, so an evicted event's memory is released at once. Noncopyable, so the
/// storage has one owner (the `UserStream`, which guards it with its lock) and is freed in deinit.
struct ReplayRing: ~Copyable {
    let maxCount: Int
    let maxBytes: Int
    private var events: UnsafeMutablePointer<Event>?
    private var costs: UnsafeMutablePointer<Int>?
    private var capacity = 0          // slots, a power of two (0 before the first event)
    private var head = 0              // index of the oldest retained event
    private(set) var count = 0
    private(set) var bytes = 0
    /// Seq of the oldest retained event (meaningful only while `count > 0`).
    private(set) var oldestSeq: UInt64

    /// An empty ring whose first event will have seq `firstSeq`.
    init(maxCount: Int, maxBytes: Int, firstSeq: UInt64) {
        self.maxCount = max(1, maxCount)
        self.maxBytes = max(0, maxBytes)
        oldestSeq = firstSeq
    }

    deinit {
        guard let events, let costs else { return }
        for i in 0..<count { (events + ((head + i) & (capacity - 1))).deinitialize(count: 1) }
        events.deallocate()
        costs.deallocate()
    }

    /// Appends `event` (its seq must follow the newest retained one) costing `cost` bytes, then
    /// evicts the oldest until both bounds hold or only the new event is left.
    mutating func append(_ event: consuming Event, bytes cost: Int) {
        if count == 0 { oldestSeq = event.seq }
        if count == maxCount {
            evictOldest()
        } else if count == capacity {
            grow()
        }
        let i = (head + count) & (capacity - 1)
        (events! + i).initialize(to: event)
        costs![i] = cost
        count += 1
        bytes += cost
        while count > 1 && bytes > maxBytes { evictOldest() }
    }

    /// Copies up to `limit` events starting at seq `from` (which must be retained) into `out`.
    func copy(from seq: UInt64, limit: Int, into out: inout ContiguousArray<Event>) -> Int {
        let start = Int(seq - oldestSeq)
        let n = Swift.min(count - start, limit)
        guard n > 0, let events else { return 0 }
        let mask = capacity - 1
        for i in 0..<n { out.append(events[(head + start + i) & mask]) }
        return n
    }

    private mutating func evictOldest() {
        guard count > 0, let events, let costs else { return }
        (events + head).deinitialize(count: 1)
        bytes -= costs[head]
        head = (head + 1) & (capacity - 1)
        count -= 1
        oldestSeq &+= 1
    }

    /// Doubles the slots (at least 8), moving the retained events to the start of new storage.
    private mutating func grow() {
        // Small first: an idle user typically keeps a couple of events (a run's start and end).
        let size = Swift.max(2, capacity * 2)
        let nextEvents = UnsafeMutablePointer<Event>.allocate(capacity: size)
        let nextCosts = UnsafeMutablePointer<Int>.allocate(capacity: size)
        if let events, let costs {
            for i in 0..<count {
                let j = (head + i) & (capacity - 1)
                (nextEvents + i).moveInitialize(from: events + j, count: 1)
                nextCosts[i] = costs[j]
            }
            events.deallocate()
            costs.deallocate()
        }
        events = nextEvents
        costs = nextCosts
        capacity = size
        head = 0
    }
}
