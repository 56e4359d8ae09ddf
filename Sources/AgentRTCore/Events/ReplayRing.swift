/// The replay buffer of one user's stream: the newest events, bounded both by count and by
/// (estimated) bytes. The oldest events are evicted first; the newest is always kept, even when
/// it alone is over the byte bound, so a subscriber that is caught up never sees a gap.
///
/// A circular buffer that grows by doubling up to `maxCount` slots, so a quiet user costs a few
/// slots rather than `maxCount`. Evicted slots are set to nil at once: an evicted event's memory
/// is released when it leaves the bounds, not when its slot is reused. Not thread-safe: the
/// owning `UserStream` guards it with its lock.
struct ReplayRing {
    private struct Slot {
        var event: Event
        var bytes: Int
    }

    let maxCount: Int
    let maxBytes: Int
    private var slots: ContiguousArray<Slot?> = []
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

    /// Appends `event` (its seq must follow the newest retained one) costing `bytes`, then evicts
    /// the oldest until both bounds hold or only the new event is left.
    mutating func append(_ event: Event, bytes cost: Int) {
        if count == 0 { oldestSeq = event.seq }
        if count == slots.count {
            if slots.count < maxCount { grow() } else { evictOldest() }
        }
        slots[(head + count) % slots.count] = Slot(event: event, bytes: cost)
        count += 1
        bytes += cost
        while count > 1 && (count > maxCount || bytes > maxBytes) { evictOldest() }
    }

    /// Copies up to `limit` events starting at seq `from` (which must be retained) into `out`.
    func copy(from seq: UInt64, limit: Int, into out: inout ContiguousArray<Event>) -> Int {
        let start = Int(seq - oldestSeq)
        let n = Swift.min(count - start, limit)
        guard n > 0 else { return 0 }
        for i in 0..<n { out.append(slots[(head + start + i) % slots.count]!.event) }
        return n
    }

    private mutating func evictOldest() {
        guard count > 0, let slot = slots[head] else { return }
        slots[head] = nil
        bytes -= slot.bytes
        head = (head + 1) % slots.count
        count -= 1
        oldestSeq = slot.event.seq &+ 1
    }

    /// Doubles the slots (capped at `maxCount`), laying the retained events out from index 0.
    private mutating func grow() {
        let newSize = Swift.min(maxCount, Swift.max(8, slots.count * 2))
        var next = ContiguousArray<Slot?>(repeating: nil, count: newSize)
        for i in 0..<count { next[i] = slots[(head + i) % slots.count] }
        slots = next
        head = 0
    }
}
