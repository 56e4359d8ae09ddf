import Synchronization

/// Where the runtime reads time (monotonic nanoseconds) and how its threads wait for a time to
/// come. Every guard takes time from one clock: the watchdog (deadlines, grace, heartbeats), the
/// breaker, admission waits and idle-user expiry. Tests inject `ManualClock` (module
/// `AgentRTTesting`) and advance it instead of sleeping.
public protocol RuntimeClock: Sendable {
    /// Now, in monotonic nanoseconds.
    func nowNanos() -> UInt64
    /// Waits on `cond` (with `lock` held; returns with it held) until it is signalled or the
    /// clock reaches `deadline`. Returns false when the deadline passed. May return early
    /// (spuriously): callers re-check their condition and the time.
    func wait(_ cond: ConditionVariable, _ lock: Lock, untilNanos deadline: UInt64) -> Bool
}

extension RuntimeClock {
    /// Waits on `cond` until signalled (no deadline).
    func waitForever(_ cond: ConditionVariable, _ lock: Lock) { _ = wait(cond, lock, untilNanos: .max) }
}

/// The system's monotonic clock (`CLOCK_MONOTONIC`).
public struct SystemClock: RuntimeClock {
    public init() {}
    @inline(__always) public func nowNanos() -> UInt64 { MonotonicTime.nanos() }

    public func wait(_ cond: ConditionVariable, _ lock: Lock, untilNanos deadline: UInt64) -> Bool {
        if deadline == .max { cond.wait(lock); return true }
        if MonotonicTime.nanos() >= deadline { return false }
        return cond.wait(lock, untilNanos: deadline) || MonotonicTime.nanos() < deadline
    }
}

/// The part of a manual clock the runtime needs: waiters register, `advance` wakes them.
/// Public so `AgentRTTesting.ManualClock` (and users' own test clocks) can build on it.
open class ManualClockBase: RuntimeClock, @unchecked Sendable {
    private let now: Atomic<UInt64>
    private let registry = Lock()
    // Guarded by `registry`.
    private var waiters: [ObjectIdentifier: (ConditionVariable, Lock)] = [:]

    public init(startNanos: UInt64) { now = Atomic(startNanos) }

    public func nowNanos() -> UInt64 { now.load(ordering: .acquiring) }

    /// Moves time forward and wakes every thread waiting on this clock.
    public func advance(by d: Duration) {
        now.add(d.nanoseconds, ordering: .acquiringAndReleasing)
        wakeAll()
    }

    /// Sets the time (never backwards) and wakes every waiter.
    public func set(nanos: UInt64) {
        var cur = now.load(ordering: .acquiring)
        while cur < nanos {
            let (done, seen) = now.compareExchange(expected: cur, desired: nanos, ordering: .acquiringAndReleasing)
            if done { break }
            cur = seen
        }
        wakeAll()
    }

    private func wakeAll() {
        // Copied out first: the waiter's lock is taken after the registry lock is released
        // (waiters take their own lock, then the registry's), so the two never deadlock.
        let all = registry.withLock { Array(waiters.values) }
        for (c, l) in all { l.withLock { c.broadcast() } }
    }

    public func wait(_ cond: ConditionVariable, _ lock: Lock, untilNanos deadline: UInt64) -> Bool {
        let key = ObjectIdentifier(cond)
        registry.withLock { waiters[key] = (cond, lock) }
        defer { registry.withLock { _ = waiters.removeValue(forKey: key) } }
        // Read after registering: an advance that copied the registry before this waiter was in
        // it has already stored its new time, so this read sees it (no lost wake-up).
        if nowNanos() >= deadline { return false }
        cond.wait(lock)
        return nowNanos() < deadline
    }

    /// Threads currently waiting on this clock (for tests that wait for a thread to park).
    public var waiterCount: Int { registry.withLock { waiters.count } }
}
