import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The few threads that run every callback subscription's callbacks (instead of a thread per
/// subscription), so 10,000 subscriptions cost at most `maxThreads` threads.
///
/// A subscription with events to deliver is queued once (FIFO, intrusive: no allocation per
/// wake); a worker takes it and delivers its events in seq order (see `DeliveryTask` for the
/// per-subscription state machine that keeps one subscription on one worker at a time).
///
/// Guarantee to other subscriptions when a callback is slow or blocks:
/// - A run delivers at most one slice (`sliceEvents` events or `sliceNanos`, checked after each
///   callback) while other subscriptions wait, then goes to the back of the queue; events that
///   arrive meanwhile stay in the replay buffer (a subscriber pushed past it gets `stream_gap`).
/// - A worker inside one run for longer than `stallNanos` counts as blocked. While work is queued
///   and no worker is idle, a watcher thread adds a worker whenever fewer than `baseWorkers` are
///   unblocked, up to `maxThreads - 1` workers (the watcher is the last thread). So with `b`
///   blocked callbacks, `min(baseWorkers, maxThreads - 1 - b)` workers keep serving the others,
///   and a newly queued subscription waits at most about `stallNanos` for a worker to appear.
///   Only when `maxThreads - 1` callbacks are blocked at once do the others wait for one to return.
/// - Workers above `baseWorkers` exit after `idleRetireNanos` without work.
final class DeliveryPool: @unchecked Sendable {
    /// No pool ever runs more threads than this (workers plus the watcher).
    static let hardThreadCap = 16

    /// The process-wide pool every `EventBus` uses by default. Its threads start on first use.
    static let shared = DeliveryPool(name: "agentrt-events", watcherName: "agentrt-evwatch")

    let name: String
    let watcherName: String
    /// Workers plus the watcher.
    let maxThreads: Int
    /// Workers started on demand and kept while idle: two per core, within `maxThreads - 1`.
    let baseWorkers: Int
    let stallNanos: UInt64
    let idleRetireNanos: UInt64
    /// Events (or nanoseconds) one run delivers before yielding to queued subscriptions.
    let sliceEvents: Int
    let sliceNanos: UInt64

    private let lock = Lock()
    private let workAvailable = ConditionVariable()
    private let watcherWake = ConditionVariable()
    /// Broadcast (with `lock`) when a closed subscription's last run ends; `cancel` waits on it.
    private let runEnded = ConditionVariable()
    // Guarded by `lock`.
    private var head: DeliveryTask?
    private var tail: DeliveryTask?
    private var workers: [WorkerSlot] = []
    private var idleWorkers = 0
    private var pendingSignals = 0     // idle workers already signalled but not yet awake
    private var watcherStarted = false
    private var watcherParked = false
    private var stopping = false
    /// Queued subscriptions, readable without the lock (a run checks it to decide to yield).
    private let queued = Atomic<Int>(0)
    /// Threads of this pool alive now (for tests and stats).
    private let liveThreadCount = Atomic<Int>(0)

    /// What the watcher knows about one worker.
    private final class WorkerSlot: @unchecked Sendable {   // guarded by the pool's lock
        /// Monotonic time the current run started; 0 while the worker looks for work.
        var runStartedAt: UInt64 = 0
    }

    init(name: String, watcherName: String, maxThreads: Int = DeliveryPool.hardThreadCap,
         baseWorkers: Int? = nil, stall: Duration = .milliseconds(10), idleRetire: Duration = .seconds(2),
         sliceEvents: Int = 256, slice: Duration = .milliseconds(2)) {
        self.name = name
        self.watcherName = watcherName
        self.maxThreads = min(max(2, maxThreads), Self.hardThreadCap)
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        self.baseWorkers = min(max(1, baseWorkers ?? 2 * cores), self.maxThreads - 1)
        stallNanos = UInt64(max(1, stall.nanoseconds))
        idleRetireNanos = UInt64(max(1, idleRetire.nanoseconds))
        self.sliceEvents = max(1, sliceEvents)
        sliceNanos = UInt64(max(1, slice.nanoseconds))
    }

    /// Threads of this pool running now.
    var threadCount: Int { liveThreadCount.load(ordering: .acquiring) }

    /// Whether another subscription waits for a worker (a running one then yields after its slice).
    var hasQueuedWork: Bool { queued.load(ordering: .relaxed) > 0 }

    /// Queues `task` (its state was just set to scheduled, so it is queued at most once).
    /// Called with the stream's lock held: only takes the pool lock, never blocks otherwise.
    func enqueue(_ task: DeliveryTask) {
        lock.lock()
        defer { lock.unlock() }
        if let t = tail { t.queueNext = task } else { head = task }
        tail = task
        queued.add(1, ordering: .relaxed)
        if idleWorkers > pendingSignals {
            pendingSignals += 1
            workAvailable.signal()
        } else if workers.count < baseWorkers && !stopping {
            startWorkerLocked()
        } else if watcherParked {
            watcherParked = false
            watcherWake.signal()
        }
    }

    /// Waits until `task` has left `closing` (its last run ended). See `DeliveryTask.close`.
    func waitUntilRunEnds(_ task: DeliveryTask) {
        lock.lock()
        while task.isClosing { runEnded.wait(lock) }
        lock.unlock()
    }

    /// Marks `task` closed after its last run and wakes whoever waits in `waitUntilRunEnds`.
    func finishClosing(_ task: DeliveryTask) {
        lock.withLock { task.markClosed() }
        runEnded.broadcast()
    }

    /// Stops the threads once the queue is empty (pools other than `shared`, in tests).
    func shutdown() {
        lock.withLock { stopping = true }
        workAvailable.broadcast()
        watcherWake.broadcast()
    }

    // MARK: threads

    private func startWorkerLocked() {
        let slot = WorkerSlot()
        workers.append(slot)
        liveThreadCount.add(1, ordering: .acquiringAndReleasing)
        NativeThread(name: name, stackSize: 8 << 20) { [self] in self.workerLoop(slot) }.detach()
        if !watcherStarted {
            watcherStarted = true
            liveThreadCount.add(1, ordering: .acquiringAndReleasing)
            NativeThread(name: watcherName) { [self] in self.watcherLoop() }.detach()
        }
    }

    private func workerLoop(_ slot: WorkerSlot) {
        Self.nameThread(name)
        var scratch = ContiguousArray<Event>()
        scratch.reserveCapacity(sliceEvents)
        // The task is released at the end of each iteration, with no lock held (releasing the
        // last reference runs deinit code).
        while let task = nextTask(slot) {
            task.run(scratch: &scratch)
        }
        liveThreadCount.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// The next queued task, waiting for one; nil when this worker should exit.
    private func nextTask(_ slot: WorkerSlot) -> DeliveryTask? {
        lock.lock()
        defer { lock.unlock() }
        slot.runStartedAt = 0
        while true {
            if let task = head {
                head = task.queueNext
                task.queueNext = nil
                if head == nil { tail = nil }
                queued.subtract(1, ordering: .relaxed)
                slot.runStartedAt = MonotonicTime.nanos()
                return task
            }
            if stopping || (idleTimedOut() && workers.count > baseWorkers) {
                workers.removeAll { $0 === slot }
                return nil
            }
        }
    }

    /// Waits (lock held) for work for up to `idleRetireNanos`; true if none came.
    private func idleTimedOut() -> Bool {
        idleWorkers += 1
        let signalled = workAvailable.wait(lock, untilNanos: MonotonicTime.nanos() &+ idleRetireNanos)
        idleWorkers -= 1
        if pendingSignals > 0 { pendingSignals -= 1 }
        return !signalled && head == nil
    }

    /// Adds workers while queued work waits behind blocked callbacks (see the type's doc).
    private func watcherLoop() {
        Self.nameThread(watcherName)
        lock.lock()
        while !stopping {
            if head == nil || idleWorkers > pendingSignals {
                watcherParked = true
                watcherWake.wait(lock)
                watcherParked = false
                continue
            }
            let deadline = MonotonicTime.nanos() &+ stallNanos
            while !stopping && MonotonicTime.nanos() < deadline { watcherWake.wait(lock, untilNanos: deadline) }
            guard !stopping, head != nil, idleWorkers <= pendingSignals else { continue }
            let now = MonotonicTime.nanos()
            var blocked = 0
            for w in workers where w.runStartedAt != 0 && now &- w.runStartedAt >= stallNanos { blocked += 1 }
            if workers.count - blocked < baseWorkers && workers.count < maxThreads - 1 { startWorkerLocked() }
        }
        lock.unlock()
        liveThreadCount.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// Names the calling thread (as `ps -L` and /proc/self/task/*/comm show it). Through
    /// /proc because Glibc's Swift overlay does not export `pthread_setname_np`.
    private static func nameThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
