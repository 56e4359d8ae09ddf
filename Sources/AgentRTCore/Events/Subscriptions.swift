import Synchronization

/// A user's events as an `AsyncSequence` (replay, live, and `stream_gap` when it fell behind).
public final class EventSubscription: AsyncSequence, StreamWaker, @unchecked Sendable {
    public typealias Element = Event
    let stream: UserStream
    private let lock = Lock()
    // Guarded by `lock`.
    private var cursor: UInt64
    private var pending: [Event] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private var signalled = false
    private var closed = false

    init(stream: UserStream, after: UInt64?) {
        self.stream = stream
        // Events appended between this read and the registration are still read: the cursor
        // points at them.
        cursor = after.map { $0 + 1 } ?? stream.nextSequence
        _ = stream.register(self)
    }

    deinit { stream.unregister(self) }

    /// Stops the subscription; a pending `next()` returns nil.
    public func cancel() {
        let c: CheckedContinuation<Void, Never>? = lock.withLock {
            closed = true
            defer { continuation = nil }
            return continuation
        }
        stream.unregister(self)
        c?.resume()
    }

    func wake() {
        let c: CheckedContinuation<Void, Never>? = lock.withLock {
            signalled = true
            defer { continuation = nil }
            return continuation
        }
        c?.resume()
    }

    /// The next event, waiting for one; nil once cancelled.
    public func next() async -> Event? {
        while true {
            if let e = takeAvailable() { return e }
            if lock.withLock({ closed }) || Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = lock.withLock { () -> Bool in
                        if signalled || closed { signalled = false; return true }
                        continuation = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                self.wake()
            }
        }
    }

    /// An event if one is ready now (no waiting).
    public func poll() -> Event? { takeAvailable() }

    private func takeAvailable() -> Event? {
        lock.lock()
        defer { lock.unlock() }
        if !pending.isEmpty { return pending.removeFirst() }
        switch stream.read(from: cursor) {
        case .nothing: return nil
        case .events(let es, let next):
            cursor = next
            pending = Array(es.dropFirst())
            return es.first
        case .gap(let from, let to, let next):
            cursor = next
            return Self.gapEvent(user: stream.userID, from: from, to: to)
        }
    }

    static func gapEvent(user: String, from: UInt64, to: UInt64) -> Event {
        var w = JSONObjectWriter()
        w.uint("from_seq", from)
        w.uint("to_seq", to)
        // A gap is about the subscriber, not a stored event: it carries the seq of the last
        // missing event so a client resuming after it continues at the first retained one.
        return Event(kind: .streamGap, seq: to, userID: user, sessionID: "", runID: "", plugin: "", agent: "",
                     dataJSON: w.finish())
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let sub: EventSubscription
        public mutating func next() async -> Event? { await sub.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sub: self) }
}

/// A subscription delivering events to a callback on its own thread, in order.
public final class CallbackSubscription: StreamWaker, @unchecked Sendable {
    let stream: UserStream
    private let deliver: @Sendable (Event) -> Void
    private let lock = Lock()
    private let cond = ConditionVariable()
    // Guarded by `lock`.
    private var cursor: UInt64
    // Starts signalled: events already retained after `afterSeq` are replayed at once.
    private var signalled = true
    private var closed = false
    private var finished = false
    private var thread: NativeThread?

    init(stream: UserStream, after: UInt64?, deliver: @escaping @Sendable (Event) -> Void) {
        self.stream = stream
        self.deliver = deliver
        cursor = after.map { $0 + 1 } ?? stream.nextSequence
        _ = stream.register(self)
        thread = NativeThread(name: "agentrt-events") { [self] in self.loop() }
    }

    func wake() {
        lock.withLock { signalled = true }
        cond.signal()
    }

    /// Stops delivery and waits until the callback is no longer running (unless called from
    /// inside the callback itself). No callback runs after `cancel` returns.
    public func cancel() {
        stream.unregister(self)
        lock.withLock { closed = true }
        cond.broadcast()
        guard let t = thread else { return }
        // From inside the callback the thread cannot wait for itself: it ends on its own.
        if t.isCurrent { t.detach() } else { t.join() }
    }

    private func loop() {
        while true {
            lock.lock()
            while !signalled && !closed { cond.wait(lock) }
            if closed { finished = true; lock.unlock(); return }
            signalled = false
            lock.unlock()
            drain()
        }
    }

    private func drain() {
        while true {
            if lock.withLock({ closed }) { return }
            let c = lock.withLock { cursor }
            switch stream.read(from: c) {
            case .nothing: return
            case .events(let es, let next):
                lock.withLock { cursor = next }
                for e in es {
                    if lock.withLock({ closed }) { return }
                    deliver(e)
                }
            case .gap(let from, let to, let next):
                lock.withLock { cursor = next }
                deliver(EventSubscription.gapEvent(user: stream.userID, from: from, to: to))
            }
        }
    }
}
