import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A unit of work for the pool (an agent call). A class so a hand-off allocates nothing.
public protocol WorkItem: AnyObject, Sendable {
    /// Runs on a pool thread.
    func runOnWorker()
    /// The worker thread ended (pthread_exit, cancellation) while running this item. Called once,
    /// on a thread other than the dead one or at least after it can no longer run the item; the item
    /// must release what it holds. Default: nothing.
    ///
    /// The unwinding released nothing and ran no `defer`: locks the dead thread held stay locked
    /// (do not block on them here), and the item object itself stays allocated (the unwound
    /// frames' references are never released), so anything it references stays alive until it
    /// drops it here.
    func workerThreadExited()
}

extension WorkItem {
    public func workerThreadExited() {}
}

/// Dedicated native threads that run plugin code, never Swift's cooperative pool.
///
/// The hand-off is the floor of every guarded call, so it is built for speed: a worker that
/// just finished spins briefly for the next item before it parks on a condition variable, and
/// only one worker spins at a time so an idle pool costs nothing. When every worker is busy
/// (hung or abandoned calls hold theirs) the pool grows, up to `maxThreads`, so hung calls never
/// stop other users' calls; workers beyond `initialThreads` exit after `idleTimeout` without work.
///
/// Every item starts on a thread in the same state (`ThreadHygiene.workerBaseline()` captured at
/// init): whatever a plugin did to the FP environment, signal mask, locale or cancellation
/// settings is undone after its item. A worker that dies inside an item (the plugin called
/// `pthread_exit`, or was cancelled) is replaced and its item told (`workerThreadExited`).
///
/// ## Wake-up invariant
/// A *looker* is a worker that is not running an item and not blocked in `cond.wait`: it is
/// starting, spinning or about to take `lock`, and it will examine the queue before it can park
/// or exit. A signalled worker counts as a looker from the moment it is signalled. So
/// `lookers = available - parked + wakeups`. Whenever `lock` is free:
///
///     pending <= lookers   or   (wakeups == parked and no thread could be added)
///
/// i.e. every queued item has a looker of its own, or no parked worker is left to wake.
/// Only `enqueueLocked` adds work, and it restores the invariant before it unlocks (signal a
/// parked worker not yet signalled, else start a thread). Taking an item lowers `pending` and
/// `lookers` by one each; a worker parks or exits only after finding the queue empty; a worker
/// finishing an item adds a looker. Nothing else changes these counts, so no item ever waits
/// while a worker sits parked (the lost wake-up of issue 9, where a spinner took one of two items
/// and nobody woke a parked worker for the other).
///
/// `wakeups` never overstates: a signal sent while no worker is blocked can only happen while
/// more workers are returning from `wait` than `wakeups` counts, and each return consumes at
/// most one. Spurious and timed-out returns look at the queue like signalled ones.
public final class WorkerPool: @unchecked Sendable {
    public let maxThreads: Int
    public let initialThreads: Int
    let spinIterations: Int
    let idleTimeoutNanos: UInt64
    /// The state every item starts in; restored after every item.
    let baseline: ThreadHygiene
    private let lock = Lock()
    private let cond = ConditionVariable()
    // Guarded by `lock`.
    private var queue: [(any WorkItem)?] = []   // taken slots are cleared so nothing stays retained
    private var queueHead = 0
    private var threads = 0         // workers alive
    private var available = 0       // workers not running an item (starting, spinning, looking, parked)
    private var parked = 0          // workers inside `cond.wait` (until they hold `lock` again)
    private var wakeups = 0         // signals not yet consumed by a worker returning from `wait`
    private var replaced = 0
    private var retired = 0
    private var shuttingDown = false

    /// Mirrors the queue length for the spinner, which polls it without the lock.
    private let queued = Atomic<Int>(0)
    /// 1 while a worker spins (at most one does).
    private let spinners = Atomic<Int>(0)

    /// - Parameters:
    ///   - initialThreads: threads started at once; the pool never shrinks below them.
    ///   - maxThreads: the most threads the pool grows to (hung calls each hold one).
    ///   - spinIterations: how long an idle worker polls before parking (0 disables spinning).
    ///   - idleTimeout: how long a worker beyond `initialThreads` waits for work before it exits.
    public init(initialThreads: Int = 2, maxThreads: Int = 1024, spinIterations: Int = 4000,
                idleTimeout: Duration = .seconds(10)) {
        self.maxThreads = max(1, maxThreads)
        self.initialThreads = min(max(1, initialThreads), self.maxThreads)
        self.spinIterations = spinIterations
        self.idleTimeoutNanos = UInt64(max(0, idleTimeout.nanoseconds))
        self.baseline = ThreadHygiene.workerBaseline()
        lock.withLock {
            for _ in 0..<self.initialThreads { startThreadLocked() }
        }
    }

    /// Threads currently alive.
    public var threadCount: Int { lock.withLock { threads } }
    /// Workers that died inside an item and were replaced.
    public var threadsReplaced: Int { lock.withLock { replaced } }
    /// Surplus workers that exited after `idleTimeout` without work.
    public var threadsRetired: Int { lock.withLock { retired } }

    /// The accounting, for tests.
    struct Counts: Equatable, CustomStringConvertible {
        var threads, available, parked, wakeups, pending: Int
        var description: String {
            "threads \(threads) available \(available) parked \(parked) wakeups \(wakeups) pending \(pending)"
        }
    }
    var counts: Counts {
        lock.withLock {
            Counts(threads: threads, available: available, parked: parked, wakeups: wakeups,
                   pending: queue.count - queueHead)
        }
    }

    /// Queues `item` for a worker. Never blocks on the item.
    public func submit(_ item: any WorkItem) {
        lock.lock()
        enqueueLocked(item)
        lock.unlock()
    }

    /// Appends `item` and restores the wake-up invariant (see the type's documentation).
    func enqueueLocked(_ item: any WorkItem) {
        queue.append(item)
        queued.add(1, ordering: .releasing)
        let pending = queue.count - queueHead
        let lookers = available - parked + wakeups
        guard pending > lookers else { return }
        if wakeups < parked {
            // Signalled under the lock, so the count and the signal cannot be reordered.
            wakeups += 1
            cond.signal()
        } else if threads < maxThreads {
            // Every idle worker is already looking or woken: grow rather than queue behind a
            // possibly hung call.
            startThreadLocked()
        }
    }

    /// Starts a worker (a looker until it takes an item).
    func startThreadLocked() {
        threads += 1
        available += 1
        // Detached: a worker ends on its own (at shutdown, once idle) and is never joined, so a
        // dropped runtime leaks no thread resources even while a hung call still holds a worker.
        let started = NativeThread.start(name: "agentrt-worker", stackSize: 8 << 20) { [self] in self.workerLoop() }
        if let started {
            started.detach()
        } else {
            // The system refused a thread (limits): the queue waits for the workers there are.
            threads -= 1
            available -= 1
        }
    }

    private func takeLocked() -> (any WorkItem)? {
        guard queueHead < queue.count else { return nil }
        let item = queue[queueHead]
        queue[queueHead] = nil
        queueHead += 1
        if queueHead > 64 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        queued.subtract(1, ordering: .relaxed)
        available -= 1
        return item!
    }

    private func workerLoop() {
        let slot = WorkerSlot.install(pool: self)
        baseline.restore()
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), nil)
        while let item = nextItem() {
            run(item, in: slot)
            lock.withLock { available += 1 }
        }
        slot.uninstall()
    }

    /// Runs `item` with the baseline state and restores it afterwards. The pool's own code runs
    /// with cancellation disabled, so a cancel can only strike inside the item (where the slot
    /// notices the thread's end), never while the worker holds `lock` or waits on `cond`.
    @inline(__always)
    private func run(_ item: any WorkItem, in slot: WorkerSlot) {
        slot.current = item
        baseline.restoreCancelState()
        item.runOnWorker()
        baseline.restore()
        pthread_setcancelstate(Int32(PTHREAD_CANCEL_DISABLE), nil)
        slot.current = nil
    }

    /// The next item for this worker, or nil when it should exit (shutdown, or a surplus worker
    /// idle for `idleTimeout`).
    private func nextItem() -> (any WorkItem)? {
        if let item = spinForItem() { return item }
        lock.lock()
        defer { lock.unlock() }
        var idleDeadline: UInt64? = nil
        while true {
            if let item = takeLocked() { return item }
            if shuttingDown {
                retireLocked()
                return nil
            }
            if threads > initialThreads {
                let now = MonotonicTime.nanos()
                let deadline = idleDeadline ?? now &+ idleTimeoutNanos
                idleDeadline = deadline
                if now >= deadline {
                    retireLocked()
                    retired += 1
                    return nil
                }
                parkLocked(until: deadline)
            } else {
                parkLocked(until: nil)
            }
        }
    }

    /// Polls for an item for `spinIterations` (only one worker spins at a time); nil if none came.
    private func spinForItem() -> (any WorkItem)? {
        guard spinIterations > 0,
              spinners.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged else { return nil }
        defer { spinners.store(0, ordering: .releasing) }
        var i = 0
        while i < spinIterations {
            if queued.load(ordering: .acquiring) > 0 {
                lock.lock()
                let item = takeLocked()
                lock.unlock()
                if let item { return item }
            }
            spinPause()
            i += 1
        }
        return nil
    }

    /// Waits on `cond` (to `deadline` if given); returns with `lock` held, as a looker.
    private func parkLocked(until deadline: UInt64?) {
        parked += 1
        if let deadline { cond.wait(lock, untilNanos: deadline) } else { cond.wait(lock) }
        parked -= 1
        if wakeups > 0 { wakeups -= 1 }
    }

    private func retireLocked() {
        threads -= 1
        available -= 1
    }

    /// Called (through the slot) when a worker's thread ended inside `item`: replaces the worker
    /// and queues the item's notice for a live worker. Runs on the dying thread, in a thread-local
    /// destructor, so it only takes the lock, starts a thread and appends.
    func workerDied(running item: any WorkItem) {
        let notice = ThreadExitNotice(item)
        lock.lock()
        threads -= 1            // it was running an item: counted in `threads`, not in `available`
        replaced += 1
        startThreadLocked()     // the replacement keeps the pool at its size
        enqueueLocked(notice)   // the replacement is a looker, so normally no signal is needed
        lock.unlock()
    }

    /// Stops idle workers once the queue is empty (busy ones finish their item first).
    public func shutdown() {
        lock.withLock { shuttingDown = true }
        cond.broadcast()
    }
}

/// A short delay for spin loops (an opaque call the optimiser cannot remove).
@inline(never)
func spinPause() {}
