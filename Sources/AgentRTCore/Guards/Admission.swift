/// A FIFO-fair counting semaphore with bounded, cancellable waits that never leak a permit.
///
/// Waiters queue in arrival order; a released permit goes straight to the oldest waiter
/// (hand-over, so a newcomer cannot barge past it). A waiter that times out or is cancelled
/// removes itself under the lock; if a permit was handed to it in the same instant, it gives the
/// permit back, so cancelled waits never keep one (failsafe #393).
public final class FairSemaphore: @unchecked Sendable {
    public let limit: Int
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var inUse = 0
    @exclusivity(unchecked) private var waiters: [Waiter] = []

    final class Waiter: @unchecked Sendable {
        let cond = ConditionVariable()
        @exclusivity(unchecked) var granted = false
        @exclusivity(unchecked) var gone = false
        @exclusivity(unchecked) var continuation: CheckedContinuation<Bool, Never>?
    }

    /// Where waits read time; `timers` (the runtime's watchdog) fires async waits' timeouts.
    let clock: any RuntimeClock
    let timers: Watchdog?

    public init(limit: Int) {
        self.limit = max(1, limit)
        self.clock = SystemClock()
        self.timers = nil
    }

    init(limit: Int, clock: any RuntimeClock, timers: Watchdog?) {
        self.limit = max(1, limit)
        self.clock = clock
        self.timers = timers
    }

    /// Permits currently held.
    public var held: Int { lock.withLock { inUse } }
    /// Callers waiting for a permit.
    public var waiting: Int { lock.withLock { waiters.count } }

    /// Takes a permit if one is free and nobody waits; never blocks.
    @inline(__always)
    public func tryAcquire() -> Bool {
        lock.withLock {
            if inUse < limit && waiters.isEmpty { inUse += 1; return true }
            return false
        }
    }

    /// Takes a permit, waiting until `deadlineNanos` (monotonic) at most. Blocks the thread:
    /// for host threads and the C API, never for the cooperative pool.
    public func acquireBlocking(untilNanos deadline: UInt64) -> Bool {
        let w: Waiter? = lock.withLock {
            if inUse < limit && waiters.isEmpty { inUse += 1; return nil }
            let w = Waiter()
            waiters.append(w)
            return w
        }
        guard let w else { return true }
        lock.lock()
        defer { lock.unlock() }
        while !w.granted {
            if clock.nowNanos() >= deadline || !clock.wait(w.cond, lock, untilNanos: deadline) {
                if w.granted { return true }
                w.gone = true
                waiters.removeAll { $0 === w }
                return false
            }
        }
        return true
    }

    /// Takes a permit, waiting at most `timeout`; honours task cancellation. Never leaves a
    /// permit behind when it returns false.
    public func acquire(timeout: Duration, isCancelled: @escaping @Sendable () -> Bool = { false }) async -> Bool {
        if tryAcquire() { return true }
        if timeout <= .zero { return false }
        let w = Waiter()
        let deadline = clock.nowNanos() &+ timeout.nanoseconds
        let enqueued: Bool = lock.withLock {
            if inUse < limit && waiters.isEmpty { inUse += 1; return false }
            waiters.append(w)
            return true
        }
        if !enqueued { return true }
        let giveUp: @Sendable () -> Void = { [self] in self.abandon(w) }
        // The timer is an entry of the runtime's watchdog (the runtime's clock), or a task
        // sleeping on the pool; never a blocked thread.
        var timer: Task<Void, Never>? = nil
        let entry: OneShotTimer?
        if let timers {
            let e = OneShotTimer(giveUp)
            timers.schedule(e, at: deadline)
            entry = e
        } else {
            entry = nil
            let clock = self.clock
            timer = Task {
                let now = clock.nowNanos()
                if now < deadline { try? await Task.sleep(nanoseconds: deadline - now) }
                giveUp()
            }
        }
        let got = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resolved: Bool? = lock.withLock {
                    if w.granted { return true }
                    if w.gone { return false }
                    w.continuation = c
                    return nil
                }
                if let resolved { c.resume(returning: resolved) }
            }
        } onCancel: { giveUp() }
        timer?.cancel()
        if let entry { timers?.remove(entry) }
        if got && isCancelled() { release(); return false }
        return got
    }

    private func abandon(_ w: Waiter) {
        let c: CheckedContinuation<Bool, Never>? = lock.withLock {
            if w.granted || w.gone { return nil }
            w.gone = true
            waiters.removeAll { $0 === w }
            defer { w.continuation = nil }
            return w.continuation
        }
        c?.resume(returning: false)
    }

    /// Returns a permit; hands it to the oldest waiter if any.
    public func release() {
        var wakeCont: CheckedContinuation<Bool, Never>? = nil
        var wakeCond: ConditionVariable? = nil
        lock.withLock {
            precondition(inUse > 0, "FairSemaphore released more often than acquired")
            if waiters.isEmpty { inUse -= 1; return }
            let w = waiters.removeFirst()
            w.granted = true     // the permit moves to w; inUse stays
            if let c = w.continuation { wakeCont = c; w.continuation = nil } else { wakeCond = w.cond }
        }
        wakeCont?.resume(returning: true)
        wakeCond?.broadcast()
    }
}

/// A watchdog entry that runs an action once at its time.
final class OneShotTimer: Watched, @unchecked Sendable {
    let action: @Sendable () -> Void
    @exclusivity(unchecked) var watchdogSlot = -1
    init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    func watchdogFired(now: UInt64) -> UInt64? { action(); return nil }
}
