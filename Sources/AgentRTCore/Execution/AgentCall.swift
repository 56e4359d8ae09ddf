import Synchronization

/// The result of one run.
public struct RunResult: Sendable {
    public let runID: String
    /// The result JSON, or the failure.
    public let outcome: Result<String, AgentRTError>
    /// False when the call was refused before it started (no events were published for it).
    public let started: Bool
    /// Wall time from admission to outcome.
    public let duration: Duration

    public var isSuccess: Bool { if case .success = outcome { true } else { false } }
    public var error: AgentRTError? { if case .failure(let e) = outcome { e } else { nil } }
    public var resultJSON: String? { if case .success(let s) = outcome { s } else { nil } }
}

/// One running agent or tool call: its context, its services to the plugin (events, heartbeat,
/// tools, result) and its lifecycle. Plugins reach it through a call handle (C) or directly
/// (Swift agents). Exactly one terminal outcome; after it every service reports the call stale.
public final class AgentCall: WorkItem, Watched, @unchecked Sendable {
    public let context: UserExecutionContext
    /// The agent's (or tool's) plugin and name, as shown in events.
    public let plugin: String
    public let name: String
    /// The calling agent's call, for a tool call.
    public let parent: AgentCall?
    public var isTool: Bool { parent != nil }
    let runtime: Runtime
    let stream: UserStream
    let input: String
    let startNanos: UInt64
    let heartbeatTimeoutNanos: UInt64
    let graceNanos: UInt64

    // Set before the call is queued, read by the worker.
    var entry: AgentEntry?
    var userState: UserState?
    var userPermit: FairSemaphore?
    var globalPermit: FairSemaphore?
    var breaker: CircuitBreaker?
    var breakerPermit: CircuitBreaker.Permit?

    /// An opaque token the native layer attaches (its call-handle id).
    public let hostToken = Atomic<UInt64>(0)

    enum Phase: UInt8 { case running = 0, finished = 1, abandoned = 2 }
    let phase = Atomic<UInt8>(Phase.running.rawValue)
    let lastActivity: Atomic<UInt64>
    var watchdogSlot = -1

    let lock = Lock()
    // Guarded by `lock`.
    var result: String?
    var resultRefusal: String?
    var errorMessage: String?
    var heartbeatDetails = ""
    var terminal = false
    var openTools: [(id: String, tool: String)] = []
    var finalResult: RunResult?
    var arena: [UnsafeMutableRawBufferPointer] = []
    var views: [String: UnsafeRawBufferPointer] = [:]
    var continuation: CheckedContinuation<RunResult, Never>?
    var blockingWaiter: ConditionVariable?
    var completionHook: (@Sendable (RunResult) -> Void)?
    let done = Atomic<Bool>(false)
    /// Set by the worker when the agent's code returned (the watchdog then never abandons it).
    let codeReturned = Atomic<Bool>(false)
    /// Set once the call's permits and table entries were released.
    let released = Atomic<Bool>(false)

    init(runtime: Runtime, context: UserExecutionContext, plugin: String, name: String, parent: AgentCall?,
         stream: UserStream, input: String, heartbeatTimeout: Duration, grace: Duration) {
        self.runtime = runtime
        self.context = context
        self.plugin = plugin
        self.name = name
        self.parent = parent
        self.stream = stream
        self.input = input
        let now = MonotonicTime.nanos()
        self.startNanos = now
        self.lastActivity = Atomic(now)
        self.heartbeatTimeoutNanos = heartbeatTimeout.nanoseconds
        self.graceNanos = grace.nanoseconds
    }

    deinit {
        for b in arena { b.deallocate() }
    }

    /// The run id (the context's).
    public var runID: String { context.runID }
    /// True while the call has no outcome yet.
    public var isRunning: Bool { phase.load(ordering: .acquiring) == Phase.running.rawValue }
    /// True when the runtime gave up on the call while its code still ran.
    public var isAbandoned: Bool { phase.load(ordering: .acquiring) == Phase.abandoned.rawValue }

    // MARK: worker side

    public func runOnWorker() {
        runtime.executeOnWorker(self)
    }

    // MARK: outcome (exactly once)

    /// Delivers the outcome once; returns false if another party already did.
    @discardableResult
    func complete(_ outcome: Result<String, AgentRTError>, abandoned: Bool) -> Bool {
        let duration = Duration.nanoseconds(Int64(MonotonicTime.nanos() &- startNanos))
        let rr = RunResult(runID: context.runID, outcome: outcome, started: true, duration: duration)
        let taken: (CheckedContinuation<RunResult, Never>?, ConditionVariable?, (@Sendable (RunResult) -> Void)?)? = lock.withLock {
            if terminal { return nil }
            terminal = true
            phase.store(abandoned ? Phase.abandoned.rawValue : Phase.finished.rawValue, ordering: .releasing)
            // Every tool_executing gets its tool_completed before the terminal event.
            for t in openTools {
                publishLocked(.toolCompleted, .toolCompleted(
                    id: t.id, tool: t.tool, isError: true, content: nil,
                    error: AgentRTError(.cancelled, "the calling run ended before the tool returned"), durationMs: 0))
            }
            openTools.removeAll()
            if !isTool { publishLocked(terminalKind(outcome), terminalData(outcome, duration: duration)) }
            finalResult = rr
            done.store(true, ordering: .releasing)
            defer { continuation = nil; completionHook = nil }
            return (continuation, blockingWaiter, completionHook)
        }
        guard let (cont, cond, hook) = taken else { return false }
        // The zombie is counted before the caller learns of the timeout, so its next call
        // already sees it (quarantine).
        if abandoned { runtime.noteAbandoned(self) }
        runtime.recordOutcome(self, outcome, duration: duration, abandoned: abandoned)
        if let cont { cont.resume(returning: rr) }
        hook?(rr)
        if let cond { lock.withLock { cond.broadcast() } }
        return true
    }

    func terminalKind(_ outcome: Result<String, AgentRTError>) -> Event.Kind {
        switch outcome {
        case .success: .agentCompleted
        case .failure(let e): e.code == .cancelled ? .agentCancelled : .agentFailed
        }
    }

    func terminalData(_ outcome: Result<String, AgentRTError>, duration: Duration) -> EventData {
        switch outcome {
        case .success(let json):
            return .completed(result: json, durationMs: duration.milliseconds)
        case .failure(let e) where e.code == .cancelled:
            let by: String = switch context.cancellationCause {
            case .shutdown: "runtime"
            default: "caller"
            }
            return .cancelled(reason: e.message, by: by, durationMs: duration.milliseconds)
        case .failure(let e):
            return .failed(e, durationMs: duration.milliseconds)
        }
    }

    /// Publishes on the user's stream unless the run already ended. Lock held.
    func publishLocked(_ kind: Event.Kind, _ data: EventData) {
        stream.append(Event(kind: kind, userID: context.userID, sessionID: context.sessionID, runID: context.runID,
                            parentRunID: parent?.context.runID ?? context.parent?.runID,
                            plugin: plugin, agent: name, payload: data))
    }

    /// Publishes an event for this call unless it (or its root run) ended; false when dropped.
    @discardableResult
    func publish(_ kind: Event.Kind, _ data: EventData) -> Bool {
        if let parent, parent.isFinished { runtime.counters.lateEvents.add(1, ordering: .relaxed); return false }
        let ok = lock.withLock { () -> Bool in
            if terminal && !isTool { return false }
            if isTool && terminal { return false }
            publishLocked(kind, data)
            return true
        }
        if !ok { runtime.counters.lateEvents.add(1, ordering: .relaxed) }
        return ok
    }

    var isFinished: Bool { lock.withLock { terminal } }

    // MARK: waiting

    /// Waits for the outcome on a host thread: spins briefly, then parks.
    func waitBlocking() -> RunResult {
        if runtime.spinningCallers.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
            var spins = 0
            while !done.load(ordering: .acquiring) && spins < runtime.configuration.callerSpinIterations {
                spinPause()
                spins += 1
            }
            runtime.spinningCallers.store(0, ordering: .releasing)
        }
        return lock.withLock {
            if let r = finalResult { return r }
            let cond = ConditionVariable()
            blockingWaiter = cond
            while finalResult == nil { cond.wait(lock) }
            return finalResult!
        }
    }

    /// Waits for the outcome from async code (the cooperative thread is not blocked).
    func waitAsync() async -> RunResult {
        await withCheckedContinuation { (c: CheckedContinuation<RunResult, Never>) in
            let r: RunResult? = lock.withLock {
                if let r = finalResult { return r }
                continuation = c
                return nil
            }
            if let r { c.resume(returning: r) }
        }
    }

    // MARK: watchdog

    func watchdogFired(now: UInt64) -> UInt64? {
        guard isRunning, !codeReturned.load(ordering: .acquiring) else { return nil }
        if context.isCancelled {
            // Past cancel + grace: abandon.
            let cause = context.cancellationCause ?? .deadline
            let e = AgentRTError(cause.errorCode, "\(describe()) was abandoned: \(cause.explanation); it ignored cancellation for the grace period",
                                 runID: runID)
            complete(.failure(e), abandoned: true)
            return nil
        }
        if let d = context.deadlineNanos, now >= d {
            context.cancel(.deadline)
            return now &+ graceNanos
        }
        if heartbeatTimeoutNanos > 0 {
            let last = lastActivity.load(ordering: .acquiring)
            if now &- last >= heartbeatTimeoutNanos {
                let details = lock.withLock { heartbeatDetails }
                context.cancel(.noHeartbeat(lastDetails: details))
                return now &+ graceNanos
            }
            return min(last &+ heartbeatTimeoutNanos, context.deadlineNanos ?? .max)
        }
        return context.deadlineNanos
    }

    /// The first time the watchdog must look at this call.
    var firstWatchTime: UInt64? {
        let hb: UInt64? = heartbeatTimeoutNanos > 0 ? startNanos &+ heartbeatTimeoutNanos : nil
        switch (context.deadlineNanos, hb) {
        case (nil, nil): return nil
        case (let d?, nil): return d
        case (nil, let h?): return h
        case (let d?, let h?): return min(d, h)
        }
    }

    func describe() -> String { isTool ? "tool \(plugin).\(name)" : "agent \(plugin).\(name)" }
}
