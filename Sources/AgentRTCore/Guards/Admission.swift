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
    private var inUse = 0
    private var waiters: [Waiter] = []

    final class Waiter: @unchecked Sendable {
        let cond = ConditionVariable()
        var granted = false
        var gone = false
        var continuation: CheckedContinuation<Bool, Never>?
    }

    public init(limit: Int) { self.limit = max(1, limit) }

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
            if MonotonicTime.nanos() >= deadline || !w.cond.wait(lock, untilNanos: deadline) {
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
        let deadline = MonotonicTime.nanos() &+ timeout.nanoseconds
        let enqueued: Bool = lock.withLock {
            if inUse < limit && waiters.isEmpty { inUse += 1; return false }
            waiters.append(w)
            return true
        }
        if !enqueued { return true }
        let giveUp: @Sendable () -> Void = { [self] in self.abandon(w) }
        // The timer is a task sleeping on the pool, not a blocked thread.
        let timer = Task {
            let now = MonotonicTime.nanos()
            if now < deadline { try? await Task.sleep(nanoseconds: deadline - now) }
            giveUp()
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
        timer.cancel()
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
