import AgentRTCore

/// One WebSocket connection's bounded send buffer: the frames queued for a client that has not
/// read them yet, at most `maxFrames` and `maxBytes`. Past either the buffer overflows: it takes
/// nothing more and the writer closes the connection with 1008, naming the seq the client
/// received last, so the client resumes from there — memory stays bounded and nothing is lost
/// silently.
///
/// Events of a run the connection itself started are held until the run's `run_accepted` /
/// `run_refused` frame is queued, so that frame always comes before the run's events.
/// One writer task takes frames (`next()`); any task may add them.
final class SendBuffer: @unchecked Sendable {
    struct Frame: Sendable {
        let text: String
        /// The event's seq (nil for control frames).
        let seq: UInt64?
        /// The subscription generation that produced it (events only).
        let generation: Int
    }

    enum Next: Sendable {
        case frame(Frame)
        /// The client fell behind: close with 1008; it has every event up to `resumeAfter`.
        case overflow(resumeAfter: UInt64)
        /// Close with this code and reason (shutdown).
        case close(code: UInt16, reason: String)
        /// The connection ended; stop writing.
        case finished
    }

    private enum State { case open, overflowed, closing(UInt16, String), finished }

    let maxFrames: Int
    let maxBytes: Int
    private let lock = Lock()
    // Guarded by `lock`.
    private var state: State = .open
    private var frames: [Frame] = []
    private var head = 0
    private var bytes = 0
    private var heldFrames = 0
    private var held: [ExactID: [Frame]] = [:]
    private var waiter: CheckedContinuation<Void, Never>?
    /// The pump, waiting for space.
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    /// Waiting for the buffer to stop being open (overflow, close or finish).
    private var endWaiters: [CheckedContinuation<Void, Never>] = []
    private var generation = 0
    /// The seq of the last event the writer handed to the socket (or the subscription's start).
    private var lastWritten: UInt64 = 0

    /// Called once, when the buffer overflows (the decision to disconnect the client).
    private let onOverflow: @Sendable () -> Void

    init(maxFrames: Int, maxBytes: Int, onOverflow: @escaping @Sendable () -> Void = {}) {
        self.maxFrames = max(1, maxFrames)
        self.maxBytes = max(1, maxBytes)
        self.onOverflow = onOverflow
    }

    /// Starts a new subscription generation resuming after `base`: queued events of the old
    /// one are dropped (the client asked to replay from `base`), control frames stay.
    func resetEvents(resumeAfter base: UInt64) -> Int {
        lock.withLock {
            generation += 1
            var kept: [Frame] = []
            for f in frames[head...] where f.seq == nil { kept.append(f) }
            frames = kept
            head = 0
            bytes = kept.reduce(0) { $0 + $1.text.utf8.count }
            // Held events came from the old subscription too; the new one delivers them again.
            for k in held.keys { held[k] = [] }
            heldFrames = 0
            lastWritten = base
            return generation
        }
    }

    /// Queues an event of subscription `gen`, waiting while the buffer is full: a burst (a
    /// replay) only slows the pump down. A buffer that stays full for `patience` means the client
    /// does not keep up: the buffer overflows. False once it overflowed or closed (the pump stops).
    /// An event of a held run waits for its run's acknowledgement.
    func enqueueEvent(_ e: Event, generation gen: Int, patience: Duration) async -> Bool {
        let f = Frame(text: e.json, seq: e.seq, generation: gen)
        let run = e.runID.isEmpty ? nil : ExactID(e.runID)
        while true {
            switch add(f, heldUnder: run, bounded: true) {
            case .added: return true
            case .closed: return false
            case .full:
                if await waitForSpace(patience) { continue }
                // Timed out; a frame taken just before the wait began still made room.
                switch add(f, heldUnder: run, bounded: true) {
                case .added: return true
                case .closed: return false
                case .full: break
                }
                let (overflowed, w, ends): (Bool, CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) = lock.withLock {
                    guard case .open = state else { return (false, nil, []) }
                    state = .overflowed
                    frames.removeAll()
                    head = 0
                    bytes = 0
                    defer { endWaiters.removeAll() }
                    return (true, takeWaiterLocked(), endWaiters)
                }
                if overflowed { onOverflow() }
                w?.resume()
                for e in ends { e.resume() }
                return false
            }
        }
    }

    /// Queues a control frame (`run_accepted`, `error` ...): small and rare, never refused for space.
    func enqueueControl(_ text: String) { _ = add(Frame(text: text, seq: nil, generation: 0), heldUnder: nil, bounded: false) }

    /// Holds the events of `runID` until `release(runID:first:)`.
    func hold(runID: String) { lock.withLock { held[ExactID(runID)] = [] } }

    /// Queues `first` and then the held events of `runID`, and stops holding them.
    func release(runID: String, first: String) {
        let w: CheckedContinuation<Void, Never>? = lock.withLock {
            let events = held.removeValue(forKey: ExactID(runID)) ?? []
            heldFrames -= events.count
            guard case .open = state else { return nil }
            // Held events were counted in `bytes` when they arrived; only `first` is new.
            frames.append(Frame(text: first, seq: nil, generation: 0))
            frames += events
            bytes += first.utf8.count
            return takeWaiterLocked()
        }
        w?.resume()
    }

    private enum Added { case added, full, closed }

    private func add(_ f: Frame, heldUnder run: ExactID?, bounded: Bool) -> Added {
        let (r, w): (Added, CheckedContinuation<Void, Never>?) = lock.withLock {
            guard case .open = state else { return (.closed, nil) }
            if f.seq != nil && f.generation != generation { return (.added, nil) }   // a stale subscription's
            let size = f.text.utf8.count
            let queued = frames.count - head + heldFrames
            // An empty buffer takes one frame of any size (a single large event still goes out).
            if bounded && queued > 0 && (queued + 1 > maxFrames || bytes + size > maxBytes) { return (.full, nil) }
            if let run, held[run] != nil {
                held[run]!.append(f)
                heldFrames += 1
            } else {
                frames.append(f)
            }
            bytes += size
            return (.added, takeWaiterLocked())
        }
        w?.resume()
        return r
    }

    /// Waits until the writer takes a frame (or the buffer closes), at most `timeout`; false when
    /// the timeout passed with nothing taken.
    private func waitForSpace(_ timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { g in
            g.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now: Bool = self.lock.withLock {
                        guard case .open = self.state else { return true }
                        self.spaceWaiter = c
                        return false
                    }
                    if now { c.resume() }
                }
                return true
            }
            g.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await g.next() ?? false
            let w: CheckedContinuation<Void, Never>? = self.lock.withLock {
                defer { self.spaceWaiter = nil }
                return self.spaceWaiter
            }
            w?.resume()
            g.cancelAll()
            for await _ in g {}
            return first
        }
    }

    /// The writer wrote `f` to the socket.
    func wrote(_ f: Frame) {
        guard let seq = f.seq else { return }
        lock.withLock { if f.generation == generation && seq > lastWritten { lastWritten = seq } }
    }

    /// Asks the writer to close the connection (shutdown: 1001) after nothing more.
    func close(code: UInt16, reason: String) {
        let (w, s, ends): (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) = lock.withLock {
            if case .open = state { state = .closing(code, reason) }
            defer { spaceWaiter = nil; endWaiters.removeAll() }
            return (takeWaiterLocked(), spaceWaiter, endWaiters)
        }
        w?.resume()
        s?.resume()
        for e in ends { e.resume() }
    }

    /// The connection ended: the writer stops.
    func finish() {
        let (w, s, ends): (CheckedContinuation<Void, Never>?, CheckedContinuation<Void, Never>?, [CheckedContinuation<Void, Never>]) = lock.withLock {
            state = .finished
            defer { spaceWaiter = nil; endWaiters.removeAll() }
            return (takeWaiterLocked(), spaceWaiter, endWaiters)
        }
        w?.resume()
        s?.resume()
        for e in ends { e.resume() }
    }

    /// Returns once the buffer is no longer open (it overflowed, was asked to close, or finished).
    func waitUntilNotOpen() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                guard case .open = state else { return true }
                endWaiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// The next thing for the writer to do, waiting for it.
    func next() async -> Next {
        while true {
            let (n, space): (Next?, CheckedContinuation<Void, Never>?) = lock.withLock {
                let n = takeLocked()
                defer { spaceWaiter = nil }
                return (n, n == nil ? nil : spaceWaiter)
            }
            space?.resume()
            if let n { return n }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready: Bool = lock.withLock {
                    if readyLocked { return true }
                    waiter = c
                    return false
                }
                if ready { c.resume() }
            }
        }
    }

    private var readyLocked: Bool {
        if case .open = state { return head < frames.count }
        return true
    }

    private func takeLocked() -> Next? {
        switch state {
        case .overflowed: return .overflow(resumeAfter: lastWritten)
        case .closing(let code, let reason): return .close(code: code, reason: reason)
        case .finished: return .finished
        case .open:
            guard head < frames.count else { return nil }
            let f = frames[head]
            head += 1
            bytes -= f.text.utf8.count
            if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
            else if head > 256 && head * 2 > frames.count { frames.removeFirst(head); head = 0 }
            return .frame(f)
        }
    }

    private func takeWaiterLocked() -> CheckedContinuation<Void, Never>? {
        defer { waiter = nil }
        return waiter
    }

    /// Frames queued (tests).
    var queuedFrames: Int { lock.withLock { frames.count - head + heldFrames } }
}
