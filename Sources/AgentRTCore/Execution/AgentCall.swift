import Synchronization

/// The result of one run.
public struct RunResult: Sendable {
    public let runID: String
    /// The result JSON, or the failure.
    public let outcome: Result<String, AgentRTError>
    /// False when the call was refused before it started (no `agent_started` was published).
    public let started: Bool
    /// Wall time from admission to outcome.
    public let duration: Duration

    public var isSuccess: Bool { if case .success = outcome { true } else { false } }
    public var error: AgentRTError? { if case .failure(let e) = outcome { e } else { nil } }
    public var resultJSON: String? { if case .success(let s) = outcome { s } else { nil } }
}

/// One running agent or tool call: its context, its services to the plugin (events, heartbeat,
/// tools, result) and its lifecycle. Plugins reach it through a call handle (C) or directly
/// (Swift agents).
///
/// A root call's life is the state machine `State` (see `AgentCall+Lifecycle.swift`), changed
/// only under `lock`; whoever makes a transition performs its side effects (permits, zombie
/// count, breaker, terminal event, completion), so each happens exactly once.
public final class AgentCall: WorkItem, Watched, ContextCancelObserver, @unchecked Sendable {
    public let context: UserExecutionContext
    /// The agent's (or tool's) plugin and name, as shown in events.
    public let plugin: String
    public let name: String
    /// The calling agent's call, for a tool call.
    public let parent: AgentCall?
    public var isTool: Bool { parent != nil }
    /// The root call of this call's tree (itself for an agent run).
    var root: AgentCall {
        var c = self
        while let p = c.parent { c = p }
        return c
    }
    let runtime: Runtime
    let stream: UserStream
    let input: String
    let startNanos: UInt64
    let heartbeatTimeoutNanos: UInt64
    let graceNanos: UInt64

    // Set before the call is queued for a worker, read by the worker.
    @exclusivity(unchecked) var entry: AgentEntry?
    @exclusivity(unchecked) var userState: UserState?
    @exclusivity(unchecked) var userPermit: FairSemaphore?
    @exclusivity(unchecked) var globalPermit: FairSemaphore?
    @exclusivity(unchecked) var breaker: CircuitBreaker?
    @exclusivity(unchecked) var breakerPermit: CircuitBreaker.Permit?
    /// The user's own breaker for this agent (checked after the agent-wide one).
    @exclusivity(unchecked) var userBreaker: CircuitBreaker?
    @exclusivity(unchecked) var userBreakerPermit: CircuitBreaker.Permit?
    /// For a host tool call (`Runtime.callTool`): the tool to run and, once done, what it returned.
    @exclusivity(unchecked) var hostTool: HostToolRequest?

    /// An opaque token the native layer attaches (its call-handle id).
    public let hostToken = Atomic<UInt64>(0)

    /// A lock-free copy of `state` for the services' fast checks.
    let stateMirror = Atomic<UInt8>(State.admitted.rawValue)
    let lastActivity: Atomic<UInt64>
    @exclusivity(unchecked) var watchdogSlot = -1
    /// Where this call is in its user's `InFlightRuns` (-1: not there). Guarded by the user's lock.
    @exclusivity(unchecked) var inFlightIndex = -1

    let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) var state: State = .admitted
    @exclusivity(unchecked) var step: Step = .waitingForWorker
    @exclusivity(unchecked) var cancelledAtNanos: UInt64 = 0
    @exclusivity(unchecked) var resourcesReleased = false
    /// The session instance slot this call holds a reference on, and the instance gate it holds
    /// or waits in (agents that are not thread-safe).
    @exclusivity(unchecked) var heldSlot: InstanceSlot?
    @exclusivity(unchecked) var instance: AgentInstance?
    @exclusivity(unchecked) var gate: InstanceGate?
    @exclusivity(unchecked) var holdsGate = false
    @exclusivity(unchecked) var result: String?
    @exclusivity(unchecked) var resultRefusal: String?
    @exclusivity(unchecked) var errorMessage: String?
    @exclusivity(unchecked) var heartbeatDetails = ""
    /// How the worker process running this call's code ended (process isolation), and whether
    /// the runtime killed it (deadline + grace passed).
    @exclusivity(unchecked) var processEnding: String?
    @exclusivity(unchecked) var stoppedByForce = false
    /// Tool calls of this run tree with a `tool_executing` but no `tool_completed` yet (kept on
    /// the root call), with the call that published them.
    @exclusivity(unchecked) var openTools: [(id: String, tool: String, by: AgentCall)] = []
    @exclusivity(unchecked) var finalResult: RunResult?
    @exclusivity(unchecked) var arena: [UnsafeMutableRawBufferPointer] = []
    @exclusivity(unchecked) var views: [String: UnsafeRawBufferPointer] = [:]
    @exclusivity(unchecked) var continuation: CheckedContinuation<RunResult, Never>?
    @exclusivity(unchecked) var blockingWaiter: ConditionVariable?
    @exclusivity(unchecked) var completionHook: (@Sendable (RunResult) -> Void)?
    let done = Atomic<Bool>(false)

    init(runtime: Runtime, context: UserExecutionContext, plugin: String, name: String, parent: AgentCall?,
         stream: UserStream, input: String, heartbeatTimeout: Duration, grace: Duration, startNanos: UInt64? = nil) {
        self.runtime = runtime
        self.context = context
        self.plugin = plugin
        self.name = name
        self.parent = parent
        self.stream = stream
        self.input = input
        let now = startNanos ?? runtime.clock.nowNanos()
        self.startNanos = now
        self.lastActivity = Atomic(now)
        self.heartbeatTimeoutNanos = heartbeatTimeout.nanoseconds
        self.graceNanos = grace.nanoseconds
        if parent != nil {
            // A tool call runs on its caller's thread from the start; it has no lifecycle of its own.
            state = .running
            stateMirror.store(State.running.rawValue, ordering: .relaxed)
            step = .runningAgent
        }
    }

    deinit {
        for b in arena { b.deallocate() }
    }

    /// The run id (the context's).
    public var runID: String { context.runID }
    /// True while the call has no outcome yet.
    public var isRunning: Bool { stateMirror.load(ordering: .acquiring) <= State.cancelling.rawValue }
    /// True when the runtime gave up on the call while its code still ran.
    public var isAbandoned: Bool { stateMirror.load(ordering: .acquiring) == State.abandoned.rawValue }
    /// True once the outcome is decided.
    var isFinished: Bool { !isRunning }

    // MARK: worker side

    public func runOnWorker() {
        runtime.executeOnWorker(self)
    }

    public func workerThreadExited() {
        end(.workerDied)
    }

    /// Process isolation: the worker process running this call's code ended (`message` says
    /// how). Called by the implementation before its `run` returns; the call ends `crashed`
    /// (or with its cancellation cause, when the runtime killed the worker at deadline + grace).
    public func reportProcessEnded(_ message: String) {
        lock.withLock { if processEnding == nil { processEnding = message } }
    }

    func takeProcessEnding() -> String? { lock.withLock { processEnding } }

    // MARK: events

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

    /// Publishes on the user's stream. Lock held.
    /// `atNanos`: a reading of the runtime's clock just taken, which dates the event without
    /// another clock read when the runtime runs on the system clock.
    /// `data` is consumed: it moves into the event (no copy of its strings).
    func publishLocked(_ kind: Event.Kind, _ data: consuming EventData, atNanos: UInt64? = nil) {
        let ts = atNanos.flatMap { runtime.clockIsSystem ? MonotonicTime.wallMillis(atMonotonic: $0) : nil }
            ?? MonotonicTime.wallMillis()
        stream.append(Event(kind: kind, timestampMillis: ts, userID: context.userID, sessionID: context.sessionID, runID: context.runID,
                            parentRunID: parent?.context.runID ?? context.parent?.runID,
                            plugin: plugin, agent: name, payload: data))
    }

    /// Publishes an event for this call unless it (or its root run) has an outcome; false when
    /// dropped (counted as late activity).
    @discardableResult
    func publish(_ kind: Event.Kind, _ data: consuming EventData, atNanos: UInt64? = nil) -> Bool {
        if parent != nil, root.isFinished { runtime.counters.lateEvents.add(1, ordering: .relaxed); return false }
        lock.lock()   // not withLock: a closure could not move `data` into the event
        guard state.isLive else {
            lock.unlock()
            runtime.counters.lateEvents.add(1, ordering: .relaxed)
            return false
        }
        publishLocked(kind, data, atNanos: atNanos)
        lock.unlock()
        return true
    }

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

    func describe() -> String { isTool ? "tool \(plugin).\(name)" : "agent \(plugin).\(name)" }
}

/// What `Runtime.callTool` asks its root call to run, and what the tool returned.
final class HostToolRequest: @unchecked Sendable {
    let name: String
    let argumentsJSON: String
    // Guarded by the call's lock.
    @exclusivity(unchecked) var result: ToolCallResult?

    init(name: String, argumentsJSON: String) {
        self.name = name
        self.argumentsJSON = argumentsJSON
    }
}
