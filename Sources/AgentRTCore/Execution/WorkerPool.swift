import Synchronization

/// A unit of work for the pool (an agent call). A class so a hand-off allocates nothing.
public protocol WorkItem: AnyObject, Sendable {
    /// Runs on a pool thread.
    func runOnWorker()
}

/// Dedicated native threads that run plugin code, never Swift's cooperative pool.
///
/// The hand-off is the floor of every guarded call, so it is built for speed: a worker that
/// just finished spins briefly for the next item before it parks on a condition variable, and
/// only one worker spins at a time so an idle pool costs nothing. When every worker is busy
/// (hung or abandoned calls hold theirs) the pool grows, up to `maxThreads`, so hung calls never
/// stop other users' calls.
public final class WorkerPool: @unchecked Sendable {
    public let maxThreads: Int
    let spinIterations: Int
    private let lock = Lock()
    private let cond = ConditionVariable()
    // Guarded by `lock`.
    private var queue: [(any WorkItem)?] = []   // taken slots are cleared so nothing stays retained
    private var queueHead = 0
    private var threads = 0
    private var available = 0       // threads not running an item (spinning or parked)
    private var parked = 0
    private var shuttingDown = false

    private let queued = Atomic<Int>(0)
    private let spinners = Atomic<Int>(0)

    /// - Parameters:
    ///   - initialThreads: threads started at once.
    ///   - maxThreads: the most threads the pool grows to (hung calls each hold one).
    ///   - spinIterations: how long an idle worker polls before parking (0 disables spinning).
    public init(initialThreads: Int = 2, maxThreads: Int = 1024, spinIterations: Int = 4000) {
        self.maxThreads = max(1, maxThreads)
        self.spinIterations = spinIterations
        lock.withLock {
            for _ in 0..<max(1, initialThreads) { startThreadLocked() }
        }
    }

    /// Threads currently alive.
    public var threadCount: Int { lock.withLock { threads } }

    /// Queues `item` for a worker. Never blocks on the item.
    public func submit(_ item: any WorkItem) {
        var signal = false
        lock.lock()
        queue.append(item)
        queued.add(1, ordering: .releasing)
        let waiting = queue.count - queueHead
        if available < waiting && threads < maxThreads {
            // Every worker is busy: grow rather than queue behind a possibly hung call.
            startThreadLocked()
        } else if parked > 0 && spinners.load(ordering: .relaxed) == 0 {
            signal = true
        }
        lock.unlock()
        if signal { cond.signal() }
    }

    private func startThreadLocked() {
        threads += 1
        available += 1
        // Detached: a worker ends on its own (at shutdown, once idle) and is never joined, so a
        // dropped runtime leaks no thread resources even while a hung call still holds a worker.
        let t = NativeThread(name: "agentrt-worker", stackSize: 8 << 20) { [self] in self.workerLoop() }
        t.detach()
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
        while true {
            var item: (any WorkItem)? = nil
            // Spin phase: at most one spinner, polling an atomic; cheap to leave when work comes.
            if spinIterations > 0, spinners.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                var i = 0
                while i < spinIterations {
                    if queued.load(ordering: .acquiring) > 0 {
                        lock.lock()
                        item = takeLocked()
                        lock.unlock()
                        if item != nil { break }
                    }
                    spinPause()
                    i += 1
                }
                spinners.store(0, ordering: .releasing)
            }
            if item == nil {
                lock.lock()
                while true {
                    if let it = takeLocked() { item = it; break }
                    if shuttingDown { threads -= 1; available -= 1; lock.unlock(); return }
                    parked += 1
                    cond.wait(lock)
                    parked -= 1
                }
                lock.unlock()
            }
            item!.runOnWorker()
            item = nil
            lock.withLock { available += 1 }
        }
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
