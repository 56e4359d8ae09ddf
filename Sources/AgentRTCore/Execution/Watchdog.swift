/// Something the watchdog watches: a running call with a deadline and maybe a heartbeat timeout.
protocol Watched: AnyObject, Sendable {
    /// Called by the watchdog thread when an entry's time came; returns the next time to look
    /// (monotonic nanos) or nil when the call needs no more watching.
    func watchdogFired(now: UInt64) -> UInt64?
    /// Heap index, owned by the watchdog (guarded by its lock).
    var watchdogSlot: Int { get set }
}

/// One thread that owns every deadline: cooperative cancel at the deadline, abandonment at
/// deadline + grace, heartbeat death. Entries live in an indexed min-heap so a call that
/// finishes removes its entry at once (no growth at 200k calls/s with 30 s deadlines).
final class Watchdog: @unchecked Sendable {
    private let lock = Lock()
    private let cond = ConditionVariable()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var heap: [(time: UInt64, item: any Watched)] = []
    @exclusivity(unchecked) private var stopped = false
    /// When the sleeping thread wakes on its own (0 while awake, .max while idle).
    @exclusivity(unchecked) private var sleepingUntil: UInt64 = 0
    /// True while the thread runs an item's `watchdogFired` (for `settle`).
    @exclusivity(unchecked) private var firing = false
    @exclusivity(unchecked) private var thread: NativeThread?
    let clock: any RuntimeClock

    init(clock: any RuntimeClock = SystemClock()) {
        self.clock = clock
        thread = NativeThread(name: "agentrt-watchdog") { [self] in self.loop() }
    }

    /// Whether the caller is the watchdog's thread (host callbacks must never run there).
    var isWatchdogThread: Bool { thread?.isCurrent ?? false }

    /// Blocks until every entry due at the clock's current time has been handled (for tests
    /// driving a manual clock: advance, then settle, then look). Gives up after `limit` real
    /// nanoseconds and returns false.
    @discardableResult
    func settle(limit: UInt64 = 10_000_000_000) -> Bool {
        let giveUp = MonotonicTime.nanos() &+ limit
        let c = ConditionVariable()
        lock.lock()
        defer { lock.unlock() }
        while !stopped && (firing || (heap.first.map { $0.time <= clock.nowNanos() } ?? false)) {
            settleWaiters.append(c)
            cond.signal()
            if !c.wait(lock, untilNanos: min(giveUp, MonotonicTime.nanos() &+ 1_000_000)) && MonotonicTime.nanos() >= giveUp {
                return false
            }
        }
        return true
    }
    // Guarded by `lock`.
    @exclusivity(unchecked) private var settleWaiters: [ConditionVariable] = []

    /// Watches `item` from `time` on.
    func schedule(_ item: any Watched, at time: UInt64) {
        var wake = false
        lock.withLock {
            if item.watchdogSlot >= 0 {
                updateLocked(item.watchdogSlot, time)
            } else {
                heap.append((time, item))
                item.watchdogSlot = heap.count - 1
                siftUp(heap.count - 1)
            }
            // The thread never sleeps past `sleepingUntil` (at most one tick away), so only a time
            // before that needs a wake-up: typical 30 s deadlines cost no context switch.
            wake = time < sleepingUntil
        }
        if wake { cond.signal() }
    }

    /// The longest the thread sleeps while anything is watched; deadlines further away than this
    /// are picked up at a tick instead of by waking the thread on every schedule.
    static let tickNanos: UInt64 = 20_000_000

    /// Stops watching `item` (a finished call).
    func remove(_ item: any Watched) {
        lock.withLock {
            let i = item.watchdogSlot
            guard i >= 0, i < heap.count, heap[i].item === item else { return }
            removeLocked(i)
        }
    }

    var count: Int { lock.withLock { heap.count } }

    /// Stops the thread. Safe from any thread, including the watchdog's own (a runtime whose last
    /// reference drops there), where it does not wait for itself.
    func stop() {
        lock.withLock { stopped = true }
        cond.broadcast()
        guard let t = thread else { return }
        if t.isCurrent { t.detach() } else { t.join() }
    }

    private func loop() {
        lock.lock()
        while !stopped {
            // Only the time is kept across the wait: holding the item would keep a finished call
            // (and its runtime) alive until its deadline.
            guard let topTime = heap.first?.time else {
                wakeSettlers()
                sleepingUntil = .max
                cond.wait(lock)
                continue
            }
            let now = clock.nowNanos()
            if topTime > now {
                wakeSettlers()
                sleepingUntil = min(topTime, now &+ Self.tickNanos)
                _ = clock.wait(cond, lock, untilNanos: sleepingUntil)
                sleepingUntil = 0
                continue
            }
            var item: (any Watched)? = heap[0].item
            removeLocked(0)
            firing = true
            lock.unlock()
            // Fired outside the lock: it may cancel contexts and publish events.
            let next = item!.watchdogFired(now: now)
            if next == nil { item = nil }  // a last reference is dropped outside the lock
            lock.lock()
            firing = false
            if let next, let it = item {
                if it.watchdogSlot < 0 {
                    heap.append((next, it))
                    it.watchdogSlot = heap.count - 1
                    siftUp(heap.count - 1)
                } else if next < heap[it.watchdogSlot].time {
                    updateLocked(it.watchdogSlot, next)
                }
            }
            item = nil  // the heap holds it now (not a last reference)
        }
        wakeSettlers()
        lock.unlock()
    }

    private func wakeSettlers() {
        for c in settleWaiters { c.broadcast() }
        settleWaiters.removeAll()
    }

    // MARK: indexed heap (lock held)

    private func updateLocked(_ i: Int, _ time: UInt64) {
        let item = heap[i].item
        heap[i].time = time
        siftUp(i)
        siftDown(item.watchdogSlot)
    }

    private func removeLocked(_ i: Int) {
        heap[i].item.watchdogSlot = -1
        let last = heap.count - 1
        if i != last {
            let moved = heap[last].item
            heap[i] = heap[last]
            moved.watchdogSlot = i
            heap.removeLast()
            siftUp(i)
            siftDown(moved.watchdogSlot)
        } else {
            heap.removeLast()
        }
    }

    private func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].item.watchdogSlot = a
        heap[b].item.watchdogSlot = b
    }

    private func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let p = (i - 1) / 2
            if heap[p].time <= heap[i].time { break }
            swapAt(p, i)
            i = p
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && heap[l].time < heap[m].time { m = l }
            if r < heap.count && heap[r].time < heap[m].time { m = r }
            if m == i { return }
            swapAt(i, m)
            i = m
        }
    }
}
