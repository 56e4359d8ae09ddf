import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The delivery side of a `CallbackSubscription`: its cursor and its state on the pool.
///
/// States (an `Atomic`, so a wake costs one compare-and-swap):
/// - idle: nothing to do; a wake queues it (→ scheduled).
/// - scheduled: in the pool's queue exactly once; further wakes do nothing.
/// - running: a worker delivers; a wake → runningAndDirty so the worker reads again before
///   going idle (a wake during delivery is never lost).
/// - runningAndDirty: as running, woken meanwhile.
/// - closing: closed while a run was in progress; the worker stops after the current callback
///   and moves it to closed, waking `cancel()` callers.
/// - closed: final; a queued copy is dropped when a worker takes it.
///
/// `cursor` is touched only by the worker holding the task in running (the state's atomic
/// transitions and the pool's lock order those accesses).
final class DeliveryTask: StreamWaker, @unchecked Sendable {
    enum State: UInt8 {
        case idle, scheduled, running, runningAndDirty, closing, closed
    }

    /// Events read from the stream per batch (the worker's scratch buffer holds one batch).
    static let batch = 128

    let stream: UserStream
    let pool: DeliveryPool
    private let deliver: @Sendable (Event) -> Void
    private var cursor: UInt64
    private let state = Atomic<UInt8>(State.idle.rawValue)
    /// The worker thread inside a run (0 outside runs), so `cancel` from inside the callback
    /// can tell it must not wait for itself.
    private let runner = Atomic<UInt>(0)
    /// The next task in the pool's queue. Guarded by the pool's lock.
    var queueNext: DeliveryTask?

    init(stream: UserStream, cursor: UInt64, pool: DeliveryPool, deliver: @escaping @Sendable (Event) -> Void) {
        self.stream = stream
        self.cursor = cursor
        self.pool = pool
        self.deliver = deliver
    }

    private var current: State { State(rawValue: state.load(ordering: .acquiring))! }

    private func transition(_ from: State, _ to: State) -> (done: Bool, now: State) {
        let (done, original) = state.compareExchange(expected: from.rawValue, desired: to.rawValue,
                                                     ordering: .acquiringAndReleasing)
        return (done, done ? to : State(rawValue: original)!)
    }

    var isClosing: Bool { current == .closing }

    /// Called by the pool (its lock held) once the last run of a closing task ended.
    func markClosed() { state.store(State.closed.rawValue, ordering: .releasing) }

    /// Called by the stream (its lock held) after an append.
    func wake() {
        var s = current
        while true {
            switch s {
            case .idle:
                let r = transition(.idle, .scheduled)
                if r.done { pool.enqueue(self); return }
                s = r.now
            case .running:
                let r = transition(.running, .runningAndDirty)
                if r.done { return }
                s = r.now
            case .scheduled, .runningAndDirty, .closing, .closed:
                return
            }
        }
    }

    /// Closes the task; with `waitingForRun`, also waits for a run in progress to end unless
    /// the caller is that run's thread (a callback cancelling its own subscription).
    func close(waitingForRun: Bool) {
        var s = current
        loop: while true {
            switch s {
            case .idle, .scheduled:
                let r = transition(s, .closed)
                if r.done { return }
                s = r.now
            case .running, .runningAndDirty:
                let r = transition(s, .closing)
                if r.done { break loop }
                s = r.now
            case .closing:
                break loop
            case .closed:
                return
            }
        }
        guard waitingForRun, runner.load(ordering: .acquiring) != Self.threadID else { return }
        pool.waitUntilRunEnds(self)
    }

    private static var threadID: UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

    /// Delivers on a worker: everything available, then idle; or, when other subscriptions
    /// wait, at most one slice (the pool's `sliceEvents` or `sliceNanos`, checked after each
    /// callback), then back to the end of the queue.
    func run(scratch: inout ContiguousArray<Event>) {
        guard transition(.scheduled, .running).done else { return }   // closed while queued
        runner.store(Self.threadID, ordering: .releasing)
        let started = MonotonicTime.nanos()
        var delivered = 0
        /// Whether this run should give its worker to a queued subscription now.
        func sliceUsed() -> Bool {
            pool.hasQueuedWork && (delivered >= pool.sliceEvents || MonotonicTime.nanos() &- started >= pool.sliceNanos)
        }
        while true {
            switch stream.read(from: cursor, max: Self.batch, into: &scratch) {
            case .events:
                defer { scratch.removeAll(keepingCapacity: true) }
                for i in scratch.indices {
                    if isClosing { finishClosing(); return }
                    deliver(scratch[i])
                    cursor += 1
                    delivered += 1
                    if sliceUsed() { yield(); return }
                }
            case .gap(let from, let to, let next):
                if isClosing { finishClosing(); return }
                cursor = next
                deliver(EventSubscription.gapEvent(user: stream.userID, from: from, to: to))
                delivered += 1
                if sliceUsed() { yield(); return }
            case .nothing:
                switch leaveRun(to: .idle) {
                case .left, .closed: return
                case .again: continue
                }
            }
        }
    }

    /// Ends a run with events left: the rest stays in the replay buffer and the next run
    /// continues at `cursor`.
    private func yield() {
        if leaveRun(to: .scheduled) == .left { pool.enqueue(self) }
    }

    private enum Leave { case left, again, closed }

    /// Leaves running for `target` (idle or scheduled). A wake during the run turns going idle
    /// into another pass (`again`); a close during it ends the run (`closed`).
    private func leaveRun(to target: State) -> Leave {
        runner.store(0, ordering: .releasing)
        var s = current
        while true {
            switch s {
            case .running:
                let r = transition(.running, target)
                if r.done { return .left }
                s = r.now
            case .runningAndDirty:
                if target == .scheduled {
                    let r = transition(.runningAndDirty, .scheduled)
                    if r.done { return .left }
                    s = r.now
                } else {
                    let r = transition(.runningAndDirty, .running)
                    if r.done { runner.store(Self.threadID, ordering: .releasing); return .again }
                    s = r.now
                }
            case .closing:
                finishClosing()
                return .closed
            case .idle, .scheduled, .closed:
                return .closed   // not reachable while this worker holds the run
            }
        }
    }

    private func finishClosing() {
        runner.store(0, ordering: .releasing)
        pool.finishClosing(self)
    }
}
