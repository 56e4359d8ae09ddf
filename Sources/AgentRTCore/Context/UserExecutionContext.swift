import Synchronization

/// The immutable, per-call execution context: who the call is for, which conversation, which run,
/// its deadline and its cancellation. Every agent and tool call runs inside one.
///
/// Child contexts (tool calls, sub-agents) inherit user, session and metadata, get their own run id
/// and deadline = min(parent, own). Cancelling a context reaches every descendant, including
/// those created later; the first cause wins. Cleanup callbacks run exactly once, last first,
/// when the context ends.
public final class UserExecutionContext: @unchecked Sendable {
    public let userID: String
    public let sessionID: String
    public let runID: String
    public let requestID: String
    public let connectionID: String?
    public let metadata: [String: String]
    /// Monotonic nanoseconds at creation.
    public let createdAtNanos: UInt64
    /// Wall-clock milliseconds at creation (derived from the monotonic reading: one clock read
    /// per context instead of two).
    public var createdAtMillis: Int64 { MonotonicTime.wallMillis(fromMonotonic: createdAtNanos) }
    /// Monotonic deadline in nanoseconds, if any.
    public let deadlineNanos: UInt64?
    public let parent: UserExecutionContext?
    /// 0 for a root context.
    public let depth: Int

    /// Maximum nesting of child contexts; deeper requests fail with `invalid_context`.
    public static let maxDepth = 16

    private let cancelled = Atomic<Bool>(false)
    private let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) private var cause: CancellationCause?
    /// Live children, each knowing its index (`indexInParent`): adding and detaching one (every
    /// tool call) is O(1) without hashing.
    @exclusivity(unchecked) private var children: ContiguousArray<Weak> = []
    /// Where this context is in its parent's `children` (-1: not there). Guarded by the parent's lock.
    @exclusivity(unchecked) private var indexInParent = -1
    @exclusivity(unchecked) private var cancelHandlers: [@Sendable (CancellationCause) -> Void] = []
    @exclusivity(unchecked) private var cleanups: [@Sendable () -> Void] = []
    @exclusivity(unchecked) private var ended = false

    private struct Weak { weak var context: UserExecutionContext? }

    /// The call that owns this context, told of its cancellation. One field instead of a
    /// handler closure per call. Guarded by `lock`.
    ///
    /// Strong, and cleared when the context ends or is cancelled (the call holds the context,
    /// so this is a cycle until then; every started call ends its context). Not `weak`: a weak
    /// reference gives the call a side table, an allocation plus the slow path on every
    /// retain and release of the call for the rest of its life.
    @exclusivity(unchecked) private var cancelObserver: (any ContextCancelObserver)?

    /// Sets the observer; returns the cause if the context was already cancelled (the observer
    /// is then not called for it: the caller handles it).
    func observeCancellation(_ o: any ContextCancelObserver) -> CancellationCause? {
        lock.withLock {
            if let cause { return cause }
            cancelObserver = o
            return nil
        }
    }

    /// Creates a root context after validating every id.
    ///
    /// - Throws: `invalid_context` naming the field and the reason.
    public static func make(userID: String, sessionID: String? = nil, runID: String? = nil,
                            requestID: String? = nil, connectionID: String? = nil,
                            metadata: [String: String] = [:], timeout: Duration? = nil,
                            now: UInt64 = MonotonicTime.nanos()) throws(AgentRTError) -> UserExecutionContext {
        try ContextValidation.check(userID, field: "user_id")
        let session = sessionID ?? "default-session"
        if let sessionID { try ContextValidation.check(sessionID, field: "session_id") }
        if let runID { try ContextValidation.check(runID, field: "run_id") }
        if let requestID { try ContextValidation.check(requestID, field: "request_id") }
        if let connectionID { try ContextValidation.check(connectionID, field: "connection_id") }
        for (k, v) in metadata {
            if k.isEmpty || k.utf8.count > 256 { throw AgentRTError(.invalidContext, "metadata key \"\(k)\" must be 1-256 bytes") }
            if v.utf8.count > 4096 { throw AgentRTError(.invalidContext, "metadata \"\(k)\" is longer than 4096 bytes") }
        }
        let run = runID ?? RunID.next()
        return UserExecutionContext(userID: userID, sessionID: session, runID: run, requestID: requestID ?? run,
                                    connectionID: connectionID, metadata: metadata,
                                    deadline: timeout.map { now &+ $0.nanoseconds }, parent: nil, now: now)
    }

    private init(userID: String, sessionID: String, runID: String, requestID: String, connectionID: String?,
                 metadata: [String: String], deadline: UInt64?, parent: UserExecutionContext?, now: UInt64) {
        self.userID = userID
        self.sessionID = sessionID
        self.runID = runID
        self.requestID = requestID
        self.connectionID = connectionID
        self.metadata = metadata
        self.createdAtNanos = now
        self.deadlineNanos = deadline
        self.parent = parent
        self.depth = (parent?.depth ?? -1) + 1
    }

    /// Creates a child: same user, session and metadata; own run id; deadline = min(parent, own).
    /// A child of a cancelled context starts cancelled with the same cause.
    public func child(runID: String? = nil, timeout: Duration? = nil,
                      now: UInt64 = MonotonicTime.nanos()) throws(AgentRTError) -> UserExecutionContext {
        if let runID { try ContextValidation.check(runID, field: "run_id") }
        return try child(trustedRunID: runID ?? RunID.next(), timeout: timeout, now: now)
    }

    /// A child whose run id the runtime generated itself (no validation needed).
    func child(trustedRunID runID: String, timeout: Duration?, now: UInt64) throws(AgentRTError) -> UserExecutionContext {
        guard depth + 1 <= Self.maxDepth else {
            throw AgentRTError(.invalidContext, "context nesting exceeds \(Self.maxDepth) levels (runaway recursion?)", runID: self.runID)
        }
        var deadline = deadlineNanos
        if let timeout {
            let own = now &+ timeout.nanoseconds
            deadline = deadline.map { min($0, own) } ?? own
        }
        let c = UserExecutionContext(userID: userID, sessionID: sessionID, runID: runID,
                                     requestID: requestID, connectionID: connectionID, metadata: metadata,
                                     deadline: deadline, parent: self, now: now)
        let inherited: CancellationCause? = lock.withLock {
            if let cause { return cause }
            c.indexInParent = children.count
            children.append(Weak(context: c))
            return nil
        }
        if let inherited { c.cancel(inherited) }
        return c
    }

    /// True once cancelled (lock-free; poll it freely).
    @inline(__always) public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// The first cancellation cause, if cancelled.
    /// (Lock-free while not cancelled, the common case: `cancelled` is set, under the lock,
    /// right after `cause`, so reading false means no cause yet.)
    public var cancellationCause: CancellationCause? {
        if !cancelled.load(ordering: .acquiring) { return nil }
        return lock.withLock { cause }
    }

    /// Time left before the deadline, in nanoseconds (nil without a deadline, 0 once passed).
    public func remainingNanos(now: UInt64 = MonotonicTime.nanos()) -> UInt64? {
        guard let d = deadlineNanos else { return nil }
        return d > now ? d - now : 0
    }

    /// Cancels this context and every descendant. Idempotent, never waits; the first cause wins.
    /// Handlers run on the calling thread, outside any lock.
    public func cancel(_ cause: CancellationCause) {
        let taken: ([UserExecutionContext], [@Sendable (CancellationCause) -> Void], (any ContextCancelObserver)?)? = lock.withLock {
            if self.cause != nil { return nil }
            self.cause = cause
            cancelled.store(true, ordering: .releasing)
            let kids = children.compactMap(\.context)
            let handlers = cancelHandlers
            cancelHandlers.removeAll()
            defer { cancelObserver = nil }   // told once; the cycle ends here
            return (kids, handlers, cancelObserver)
        }
        guard let (kids, handlers, observer) = taken else { return }
        observer?.contextCancelled(cause)
        for h in handlers { h(cause) }
        for k in kids { k.cancel(cause) }
    }

    /// Runs `handler` once when the context is cancelled (at once if it already is).
    public func onCancel(_ handler: @escaping @Sendable (CancellationCause) -> Void) {
        let already: CancellationCause? = lock.withLock {
            if let cause { return cause }
            cancelHandlers.append(handler)
            return nil
        }
        if let already { handler(already) }
    }

    /// Registers a cleanup callback; they run exactly once, last-registered first, at `end()`.
    /// Registering on an ended context runs the callback at once.
    public func addCleanup(_ body: @escaping @Sendable () -> Void) {
        let runNow = lock.withLock { () -> Bool in
            if ended { return true }
            cleanups.append(body)
            return false
        }
        if runNow { body() }
    }

    /// Ends the context: runs cleanups (exactly once even if several threads end it at once)
    /// and detaches it from its parent so finished children never accumulate.
    public func end() { finish(releasingObserver: false) }

    /// `end()` for the runtime once the call's code no longer runs: it also forgets the
    /// observing call, the end of the cycle call → context → call, in the same lock pass.
    /// (Plain `end()` keeps the observer: agent code may end its context while its call still
    /// runs, and the call must stay cancellable.)
    func endObserved() { finish(releasingObserver: true) }

    private func finish(releasingObserver: Bool) {
        let toRun: [@Sendable () -> Void]? = lock.withLock {
            if releasingObserver { cancelObserver = nil }
            if ended { return nil }
            ended = true
            let c = cleanups
            cleanups.removeAll()
            cancelHandlers.removeAll()
            return c
        }
        guard let toRun else { return }
        for body in toRun.reversed() { body() }
        parent?.detach(self)
    }

    /// Whether `end()` has run.
    public var isEnded: Bool { lock.withLock { ended } }

    /// Number of live (not yet ended) children; for tests and the isolation report.
    public var childCount: Int { lock.withLock { children.count } }

    private func detach(_ child: UserExecutionContext) {
        lock.withLock {
            let i = child.indexInParent
            guard i >= 0, i < children.count, children[i].context === child else { return }
            child.indexInParent = -1
            let last = children.removeLast()
            if i < children.count {
                children[i] = last
                last.context?.indexInParent = i
            }
        }
    }
}

/// Told when a context is cancelled (on the cancelling thread, outside the context's lock).
protocol ContextCancelObserver: AnyObject, Sendable {
    func contextCancelled(_ cause: CancellationCause)
}

/// Unique run ids: a per-process random prefix and a counter (unique, cheap, not secret).
///
/// `run_` (or `tool_`), 5 base-62 digits of randomness (29.8 bits) fixed for the process, then
/// the counter in base 62, e.g. `run_x7Kq2` + `1f`. At most 15 bytes until the counter passes
/// 62^6 (5.6 × 10^10) for runs or 62^5 for tool calls, so an id is a small string, stored
/// inline: no allocation, and none of the copies an id travels through (context, events,
/// result, records) touches a reference count.
public enum RunID {
    private static let counter = Atomic<UInt64>(0)
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// What an id names: an agent run (`run_…`) or a tool call (`tool_…`).
    public enum Kind: Sendable { case run, tool }

    /// A new id such as `run_x7Kq21f`.
    public static func next(_ kind: Kind = .run) -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let head = kind == .tool ? toolHead : runHead
        // Formatted by hand into a stack buffer: this runs for every call and tool call.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buf in
            var i = 0
            for b in head { buf[i] = b; i += 1 }
            var digits = 1
            var v = n / 62
            while v != 0 { digits += 1; v /= 62 }
            var x = n
            for d in stride(from: digits - 1, through: 0, by: -1) {
                buf[i + d] = alphabet[Int(x % 62)]
                x /= 62
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buf[0..<(i + digits)]), as: UTF8.self)
        }
    }

    /// 5 random base-62 digits, drawn once per process.
    private static let prefixDigits: [UInt8] = {
        var g = SystemRandomNumberGenerator()
        var r = g.next() % 916_132_832   // 62^5
        var digits = [UInt8](repeating: 0, count: 5)
        for k in stride(from: 4, through: 0, by: -1) { digits[k] = alphabet[Int(r % 62)]; r /= 62 }
        return digits
    }()
    private static let runHead: [UInt8] = Array("run_".utf8) + prefixDigits
    private static let toolHead: [UInt8] = Array("tool_".utf8) + prefixDigits
}
