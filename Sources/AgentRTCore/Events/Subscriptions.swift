/// A user's events as an `AsyncSequence` (replay, live, and `stream_gap` when it fell behind).
///
/// Releasing it without `cancel()` unregisters it too: the stream holds only a weak reference
/// to its `AsyncWakeSignal`, never to the subscription.
public final class EventSubscription: AsyncSequence, @unchecked Sendable {
    public typealias Element = Event
    let stream: UserStream
    private let signal = AsyncWakeSignal()
    private let lock = Lock()
    // Guarded by `lock` (taken before the stream's lock, never inside it).
    private var cursor: UInt64
    private var pending: [Event] = []
    private var pendingIndex = 0

    init(stream: UserStream, after: UInt64?) {
        self.stream = stream
        // Events appended between this read and the registration are still read: the cursor
        // points at them.
        cursor = after.map { $0 + 1 } ?? stream.nextSequence
        stream.register(signal)
    }

    deinit { stream.unregister(signal) }

    /// Stops the subscription; a pending `next()` returns nil.
    public func cancel() {
        stream.unregister(signal)
        signal.close()
    }

    /// The next event, waiting for one; nil once cancelled.
    public func next() async -> Event? {
        while true {
            if let e = takeAvailable() { return e }
            if signal.isClosed || Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await signal.wait()
            } onCancel: {
                self.signal.wake()
            }
        }
    }

    /// An event if one is ready now (no waiting).
    public func poll() -> Event? { takeAvailable() }

    private func takeAvailable() -> Event? {
        lock.lock()
        defer { lock.unlock() }
        if pendingIndex < pending.count {
            defer { pendingIndex += 1 }
            return pending[pendingIndex]
        }
        pending.removeAll(keepingCapacity: true)
        pendingIndex = 0
        switch stream.read(from: cursor) {
        case .nothing: return nil
        case .events(let es, let next):
            cursor = next
            pending = es
            pendingIndex = 1
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

/// What an `EventSubscription` waits on: set by the stream's wakes (with the stream's lock
/// held, so it only flips a flag or resumes a continuation), never holding the stream.
final class AsyncWakeSignal: StreamWaker, @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var continuation: CheckedContinuation<Void, Never>?
    private var signalled = false
    private var closed = false

    var isClosed: Bool { lock.withLock { closed } }

    func wake() {
        let c: CheckedContinuation<Void, Never>? = lock.withLock {
            signalled = true
            defer { continuation = nil }
            return continuation
        }
        c?.resume()
    }

    func close() {
        let c: CheckedContinuation<Void, Never>? = lock.withLock {
            closed = true
            defer { continuation = nil }
            return continuation
        }
        c?.resume()
    }

    /// Returns after the next wake or close (at once if one happened since the last wait).
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = lock.withLock { () -> Bool in
                if signalled || closed { signalled = false; return true }
                continuation = c
                return false
            }
            if resumeNow { c.resume() }
        }
    }
}
