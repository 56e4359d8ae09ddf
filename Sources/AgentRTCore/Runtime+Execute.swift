import Synchronization

/// One agent call to make.
public struct RunRequest: Sendable {
    public var plugin: String
    public var agent: String
    public var userID: String
    public var sessionID: String?
    public var input: String
    public var timeout: Duration?
    public var heartbeatTimeout: Duration?
    public var metadata: [String: String]
    public var runID: String?
    public var requestID: String?
    public var connectionID: String?
    /// Overrides the configured admission wait.
    public var admissionWait: Duration?
    /// For `runBlocking`: run the agent on the calling thread (no hand-off) instead of a worker;
    /// nil: the agent's declaration (`AgentDescriptor.returnsPromptly`), then
    /// `Configuration.synchronousExecution`. See `SynchronousExecution` for the trade. For the
    /// async `run`, `false` hands a prompt agent's call to a worker too (`true` changes nothing:
    /// only agents that declare they return promptly run inside the calling task).
    public var onCallerThread: Bool?
    /// Set by a face that has already checked `input` as JSON bytes (the C API does, to refuse
    /// a malformed input as a misuse): the runtime skips its own second scan.
    package var inputCheckedAsJSON = false

    public init(plugin: String, agent: String, userID: String, sessionID: String? = nil, input: String = "{}",
                timeout: Duration? = nil, heartbeatTimeout: Duration? = nil, metadata: [String: String] = [:],
                runID: String? = nil, requestID: String? = nil, connectionID: String? = nil,
                admissionWait: Duration? = nil, onCallerThread: Bool? = nil) {
        self.plugin = plugin
        self.agent = agent
        self.userID = userID
        self.sessionID = sessionID
        self.input = input
        self.timeout = timeout
        self.heartbeatTimeout = heartbeatTimeout
        self.metadata = metadata
        self.runID = runID
        self.requestID = requestID
        self.connectionID = connectionID
        self.admissionWait = admissionWait
        self.onCallerThread = onCallerThread
    }
}

extension Runtime {
    /// Runs one agent call through every guard, from async code. The plugin runs on a native
    /// worker; this task suspends (no cooperative thread is blocked) — unless the agent declares
    /// it returns promptly (`AgentDescriptor.returnsPromptly`), is thread-safe, and the request
    /// does not ask for a hand-off (`onCallerThread: false`): then it runs here, in this task.
    public func run(_ request: RunRequest) async -> RunResult {
        switch await prepare(request) {
        case .refused(let r): return r
        case .ready(let call):
            if call.entry!.runsInlineAsync && request.onCallerThread != false {
                return await withTaskCancellationHandler {
                    start(call, onCallerThread: true)
                    return call.waitBlocking()   // decided before `start` returned: no wait
                } onCancel: {
                    self.cancel(call, reason: "the calling task was cancelled")
                }
            }
            return await withTaskCancellationHandler {
                start(call)
                return await call.waitAsync()
            } onCancel: {
                self.cancel(call, reason: "the calling task was cancelled")
            }
        }
    }

    /// Runs one agent call through every guard, blocking the calling host thread (C API,
    /// benchmarks). Never call it from the Swift cooperative pool.
    public func runBlocking(_ request: RunRequest) -> RunResult {
        switch prepareBlocking(request) {
        case .refused(let r): return r
        case .ready(let call):
            start(call, onCallerThread: runsOnCallerThread(call, request))
            return call.waitBlocking()
        }
    }

    /// Whether a synchronous call runs on its caller's thread: always for process isolation
    /// (the caller waits anyway, and a kill, not abandonment, bounds it), else as asked, else
    /// for agents that declare they return promptly, else as configured.
    func runsOnCallerThread(_ call: AgentCall, _ r: RunRequest) -> Bool {
        let entry = call.entry!
        if entry.isProcessIsolated { return true }
        return r.onCallerThread ?? (entry.runsInline || configuration.synchronousExecution == .callerThread)
    }

    /// Starts a call and returns its run id at once; `completion` gets the result on a runtime
    /// thread. For hosts that want asynchronous runs without Swift concurrency.
    @discardableResult
    public func runDetached(_ request: RunRequest, completion: @escaping @Sendable (RunResult) -> Void) -> String {
        switch prepareBlocking(request) {
        case .refused(let r):
            completion(r)
            return r.runID
        case .ready(let call):
            let id = call.runID
            NotifyOnCompletion.attach(call, completion)
            start(call)
            return id
        }
    }

    /// Cancels a run of `userID` (cooperatively; abandoned after the grace period). False when
    /// that user has no such run in flight — also when the run exists but belongs to another
    /// user, so a face serving many users can never cancel (or learn of) another user's run.
    @discardableResult
    public func cancel(runID: String, userID: String, reason: String = "cancelled by the caller") -> Bool {
        guard let call = inFlightCall(runID: runID, userID: userID), call.isRunning else { return false }
        cancel(call, reason: reason)
        return true
    }

    /// Whether `userID` has the run `runID` in flight (user-scoped lookup; nil for another user's run).
    public func isRunInFlight(runID: String, userID: String) -> Bool {
        inFlightCall(runID: runID, userID: userID)?.isRunning ?? false
    }

    func inFlightCall(runID: String, userID: String) -> AgentCall? {
        guard let u = users.existing(userID) else { return nil }
        return u.lock.withLock { u.inFlight.find(runID) }
    }

    /// Cancels a run of any user (operators and single-user hosts such as the C API, which
    /// trusts its host). Faces that serve several users use `cancel(runID:userID:)`.
    @discardableResult
    public func cancel(runID: String, reason: String = "cancelled by the caller") -> Bool {
        for u in users.all {
            if let call = u.lock.withLock({ u.inFlight.find(runID) }), call.isRunning {
                cancel(call, reason: reason)
                return true
            }
        }
        return false
    }

    func cancel(_ call: AgentCall, reason: String) {
        guard call.isRunning else { return }
        call.context.cancel(.caller(reason: reason))   // the call's state machine takes it from here
    }

    enum Prepared { case ready(AgentCall), refused(RunResult) }

    func refusal(_ e: AgentRTError, _ started: UInt64, stats: [CallStats]) -> Prepared {
        for s in stats { s.recordRefusal(e.code) }
        return .refused(RunResult(runID: e.runID ?? "", outcome: .failure(e), started: false,
                                  duration: .nanoseconds(Int64(clock.nowNanos() &- started))))
    }

    /// Validation and every guard before the hand-off. Async admission waits suspend.
    func prepare(_ r: RunRequest) async -> Prepared {
        let wait = r.admissionWait ?? configuration.admissionWait
        if wait <= .zero { return prepareBlocking(r) }
        return announced(await prepareWith(r) { sem in await sem.acquire(timeout: wait) }, r)
    }

    func prepareBlocking(_ r: RunRequest, hostTool: HostToolRequest? = nil) -> Prepared {
        let wait = r.admissionWait ?? configuration.admissionWait
        if wait <= .zero { return announced(prepareSync(r, hostTool: hostTool) { $0.tryAcquire() }, r) }
        let deadline = clock.nowNanos() &+ wait.nanoseconds
        return announced(prepareSync(r, hostTool: hostTool) { $0.acquireBlocking(untilNanos: deadline) }, r)
    }

    /// Every run a caller asked for ends exactly once in its user's stream: a refused run gets a
    /// run id and one terminal `agent_failed` event (`"refused": true`, the error, and for an
    /// open breaker its state and retry time), unless its user id itself is invalid (no stream
    /// to put it in).
    private func announced(_ p: Prepared, _ r: RunRequest) -> Prepared {
        guard case .refused(let rr) = p, var e = rr.error else { return p }
        guard ContextValidation.problem(with: r.userID, field: "user_id") == nil else { return p }
        let runID: String
        if !rr.runID.isEmpty { runID = rr.runID }
        else if let given = r.runID, ContextValidation.problem(with: given, field: "run_id") == nil { runID = given }
        else { runID = RunID.next() }
        e.runID = runID
        let session = r.sessionID.flatMap { ContextValidation.problem(with: $0, field: "session_id") == nil ? $0 : nil } ?? ""
        var w = JSONObjectWriter()
        w.raw("error", EventData.errorObject(e))
        w.bool("refused", true)
        if let retry = e.retryAtMillis { w.int("retry_at", retry) }
        w.int("duration_ms", rr.duration.milliseconds)
        recordRefusal(r, runID: runID, session: session, error: e, duration: rr.duration)   // RunRecords hook
        events.publish(Event(kind: .agentFailed, userID: r.userID, sessionID: session, runID: runID,
                             plugin: r.plugin, agent: r.agent, dataJSON: w.finish()))
        return .refused(RunResult(runID: runID, outcome: .failure(e), started: false, duration: rr.duration))
    }

    private func prepareWith(_ r: RunRequest, acquire: (FairSemaphore) async -> Bool) async -> Prepared {
        let started = clock.nowNanos()
        let (ctx, entry, user): (UserExecutionContext, AgentEntry, UserState)
        switch checkBeforeAdmission(r, started: started) {
        case .refused(let p): return p
        case .admissible(let c, let e, let u): (ctx, entry, user) = (c, e, u)
        }
        guard await acquire(user.admission) else {
            if Task.isCancelled { return cancelledWhileWaiting(ctx, entry, user, started) }
            return overloaded(ctx, entry, user, started, perUser: true)
        }
        guard await acquire(global) else {
            user.admission.release()
            if Task.isCancelled { return cancelledWhileWaiting(ctx, entry, user, started) }
            return overloaded(ctx, entry, user, started, perUser: false)
        }
        return afterAdmission(r, ctx, entry, user, started)
    }

    private func prepareSync(_ r: RunRequest, hostTool: HostToolRequest?, acquire: (FairSemaphore) -> Bool) -> Prepared {
        let started = clock.nowNanos()
        let (ctx, entry, user): (UserExecutionContext, AgentEntry, UserState)
        switch checkBeforeAdmission(r, started: started, entryOverride: hostTool == nil ? nil : hostCallEntry) {
        case .refused(let p): return p
        case .admissible(let c, let e, let u): (ctx, entry, user) = (c, e, u)
        }
        guard acquire(user.admission) else { return overloaded(ctx, entry, user, started, perUser: true) }
        guard acquire(global) else { user.admission.release(); return overloaded(ctx, entry, user, started, perUser: false) }
        return afterAdmission(r, ctx, entry, user, started, hostTool: hostTool)
    }

    /// The checks before admission: a call that may wait for permits, or a refusal.
    private enum Checked {
        case admissible(UserExecutionContext, AgentEntry, UserState)
        case refused(Prepared)
    }

    private func checkBeforeAdmission(_ r: RunRequest, started: UInt64, entryOverride: AgentEntry? = nil) -> Checked {
        if isShutDown.load(ordering: .acquiring) {
            return .refused(refusal(AgentRTError(.cancelled, "the runtime was shut down"), started, stats: []))
        }
        guard let entry = entryOverride ?? entry(r.plugin, r.agent) else {
            let known = agentDescriptors.map(\.qualifiedName).joined(separator: ", ")
            return .refused(refusal(AgentRTError(.notFound,
                "no agent \(r.plugin).\(r.agent) is loaded (loaded: \(known.isEmpty ? "none" : known))"), started, stats: []))
        }
        if let schema = entry.inputSchema {
            // Declared schema: parse once and validate before any plugin code sees the input.
            let value: JSONValue
            do { value = try JSONValue.parse(r.input) } catch {
                return .refused(refusal(AgentRTError(.badArguments,
                    "the input of \(r.plugin).\(r.agent) is not valid JSON: \(error)"), started, stats: [entry.stats]))
            }
            let violations = schema.validate(value)
            if !violations.isEmpty {
                return .refused(refusal(AgentRTError(.badArguments,
                    "the input of \(r.plugin).\(r.agent) does not match its schema: "
                    + violations.map(\.description).joined(separator: "; ")), started, stats: [entry.stats]))
            }
        } else if !r.inputCheckedAsJSON && !JSONValue.isValid(r.input) {
            let why: String
            do { _ = try JSONValue.parse(r.input); why = "invalid JSON" } catch { why = "\(error)" }
            return .refused(refusal(AgentRTError(.badArguments,
                "the input of \(r.plugin).\(r.agent) is not valid JSON: \(why)"), started, stats: [entry.stats]))
        }
        let timeout = r.timeout ?? entry.descriptor.defaultTimeout ?? configuration.defaultTimeout
        let ctx: UserExecutionContext
        do {
            ctx = try UserExecutionContext.make(userID: r.userID, sessionID: r.sessionID, runID: r.runID,
                                                requestID: r.requestID, connectionID: r.connectionID,
                                                metadata: r.metadata, timeout: timeout, now: started)
        } catch {
            return .refused(refusal(error, started, stats: [entry.stats]))
        }
        let user = users.state(for: r.userID)
        let zombies = entry.stats.zombies.load(ordering: .relaxed)
        if zombies > configuration.quarantineThreshold {
            return .refused(refusal(AgentRTError(.quarantined,
                "agent \(entry.descriptor.qualifiedName) is quarantined: \(zombies) abandoned calls are still running (limit \(configuration.quarantineThreshold)); it accepts calls again once they return",
                runID: ctx.runID), started, stats: [entry.stats, user.stats]))
        }
        let own = user.zombies(of: entry.qualifiedName)
        if own > configuration.userQuarantineThreshold {
            return .refused(refusal(AgentRTError(.quarantined,
                "agent \(entry.descriptor.qualifiedName) is quarantined for user \(ctx.userID): \(own) of their abandoned calls are still running (limit \(configuration.userQuarantineThreshold) per user); it accepts their calls again once they return",
                runID: ctx.runID), started, stats: [entry.stats, user.stats]))
        }
        return .admissible(ctx, entry, user)
    }

    private func cancelledWhileWaiting(_ ctx: UserExecutionContext, _ entry: AgentEntry, _ user: UserState,
                                       _ started: UInt64) -> Prepared {
        refusal(AgentRTError(.cancelled, "the call was cancelled while it waited for admission", runID: ctx.runID),
                started, stats: [entry.stats, user.stats])
    }

    private func overloaded(_ ctx: UserExecutionContext, _ entry: AgentEntry, _ user: UserState, _ started: UInt64,
                            perUser: Bool) -> Prepared {
        let msg = perUser
            ? "user \(ctx.userID) already has \(configuration.perUserLimit) calls in flight (the per-user limit)"
            : "the runtime already has \(configuration.globalLimit) calls in flight (the global limit)"
        return refusal(AgentRTError(.overloaded, msg, runID: ctx.runID), started, stats: [entry.stats, user.stats])
    }

    private func afterAdmission(_ r: RunRequest, _ ctx: UserExecutionContext, _ entry: AgentEntry, _ user: UserState,
                                _ started: UInt64, hostTool: HostToolRequest? = nil) -> Prepared {
        let d = entry.descriptor
        // The call starts at admission: the first reading when admission cannot wait, else now.
        let admittedAt = (r.admissionWait ?? configuration.admissionWait) <= .zero ? started : clock.nowNanos()
        if let hostTool {
            // A host tool call: the tool's own breaker guards it, not an agent breaker.
            let call = makeCall(r, ctx, entry, user, d, started: admittedAt)
            call.hostTool = hostTool
            return .ready(call)
        }
        // The agent-wide breaker first (it opens only on failures from several users), then
        // this user's own breaker for the agent (it trips on this user's failures alone).
        let agentWide = entry.breaker
        let (permit, retryAt, transitions) = agentWide.acquire()
        publish(transitions, userID: ctx.userID)
        guard let permit else {
            return breakerRefusal(agentWide, scope: "agent-wide", retryAt, r, ctx, entry, user, started)
        }
        // The user's own breaker exists from their first failure of this agent on (until then it
        // would be closed with nothing but successes in its window: nothing to check).
        var ownPermit: (CircuitBreaker, CircuitBreaker.Permit)? = nil
        if let own = user.existingBreaker(for: entry.qualifiedName) {
            let (userPermit, userRetryAt, userTransitions) = own.acquire()
            publish(userTransitions, userID: ctx.userID)
            guard let userPermit else {
                _ = agentWide.record(permit, outcome: .ignored, duration: .zero)   // gives a probe lease back
                return breakerRefusal(own, scope: "per-user", userRetryAt, r, ctx, entry, user, started)
            }
            ownPermit = (own, userPermit)
        }
        let call = makeCall(r, ctx, entry, user, d, started: admittedAt)
        call.breaker = agentWide
        call.breakerPermit = permit
        call.userBreaker = ownPermit?.0
        call.userBreakerPermit = ownPermit?.1
        return .ready(call)
    }

    private func breakerRefusal(_ b: CircuitBreaker, scope: String, _ retryAt: UInt64?, _ r: RunRequest,
                                _ ctx: UserExecutionContext, _ entry: AgentEntry, _ user: UserState, _ started: UInt64) -> Prepared {
        user.admission.release()
        global.release()
        let d = entry.descriptor
        let when = retryAt == .max ? "until an operator closes it" : "retry after \(MonotonicTime.rfc3339(millis: wallMillis(fromMonotonic: retryAt!)))"
        let whose = scope == "per-user" ? "user \(ctx.userID)'s circuit breaker for \(d.qualifiedName)"
                                        : "the agent-wide circuit breaker of \(d.qualifiedName)"
        var e = AgentRTError(.circuitOpen, "\(whose) is \(b.currentState.rawValue): \(when)", runID: ctx.runID)
        if let retryAt, retryAt != .max { e.retryAtMillis = wallMillis(fromMonotonic: retryAt) }
        return refusal(e, started, stats: [entry.stats, user.stats])
    }

    private func makeCall(_ r: RunRequest, _ ctx: UserExecutionContext, _ entry: AgentEntry, _ user: UserState,
                          _ d: AgentDescriptor, started: UInt64) -> AgentCall {
        let call = AgentCall(runtime: self, context: ctx, plugin: d.plugin, name: d.name, parent: nil,
                             stream: user.stream, input: r.input,
                             heartbeatTimeout: min(r.heartbeatTimeout ?? configuration.defaultHeartbeatTimeout,
                                                   r.timeout ?? d.defaultTimeout ?? configuration.defaultTimeout),
                             grace: configuration.grace, startNanos: started)
        call.entry = entry
        call.userState = user
        call.userPermit = user.admission
        call.globalPermit = global
        return call
    }

    /// Publishes `agent_started`, arms the watchdog and hands the call to a worker (or runs it
    /// here, on the caller's thread).
    func start(_ call: AgentCall, onCallerThread: Bool = false) {
        let user = call.userState!
        call.entry!.stats.inFlight.add(1, ordering: .relaxed)
        user.stats.inFlight.add(1, ordering: .relaxed)
        pendingOutcomes.add(1, ordering: .relaxed)
        let userRemoved = user.lock.withLock { () -> Bool in
            if user.removed { return true }
            user.inFlight.insert(call)
            user.lastUsedNanos = call.startNanos
            return false
        }
        if userRemoved || isShutDown.load(ordering: .acquiring) {
            // The user was removed (cleanup, expiry) or the runtime shut down while this call
            // waited: it must not open instances in discarded state, so it ends before any
            // plugin code runs.
            let why = userRemoved ? "the sessions of user \(user.userID) were removed before the call started"
                                  : "the runtime shut down before the call started"
            call.end(.notRun(AgentRTError(.cancelled, why, runID: call.runID)))
            return
        }
        // Every cancellation of the context (caller, watchdog, removal, shutdown) moves the call's
        // state machine; the handler holds the call weakly (the context lives inside the call).
        if let cause = call.context.observeCancellation(call) { call.contextCancelled(cause) }   // cancelled already
        // Every run, host tool calls (`host.call`) included, starts and ends once in its stream.
        let deadline = call.context.remainingNanos(now: call.startNanos).map { Int64($0 / 1_000_000) }
        call.publish(.agentStarted, .started(input: Self.summary(of: call.input), deadlineMs: deadline, attempt: 1),
                     atNanos: call.startNanos)
        if let t = call.firstWatchTime { watchdog.schedule(call, at: t) }
        if onCallerThread { CallerThread.run(call) } else { pool.submit(call) }
    }

    /// A short, valid JSON summary of an input (long inputs are not copied into every event).
    static func summary(of input: String) -> String {
        if input.utf8.count <= 1024 { return input }  // validated in prepare
        var w = JSONObjectWriter()
        w.int("bytes", Int64(input.utf8.count))
        w.bool("truncated", true)
        return w.finish()
    }

    /// Runs on a worker: the session instance, the instance gate (agents that are not
    /// thread-safe), then the agent function. The call's state machine decides the outcome.
    func executeOnWorker(_ call: AgentCall) {
        guard call.begin() else { return }   // ended while it waited for a worker
        let entry = call.entry!
        if let cause = call.context.cancellationCause {
            call.end(.notRun(AgentRTError(cause.errorCode, "\(call.describe()) did not start: \(cause.explanation)", runID: call.runID)))
            return
        }
        let instance: AgentInstance
        if entry.hasSessionHooks {
            let slot = instanceSlot(call.userState!, entry, sessionID: call.context.sessionID)
            do {
                instance = try slot.acquire(for: call)
                call.lock.withLock { call.heldSlot = slot; call.instance = instance }
            } catch {
                let code: ErrorCode = [.cancelled, .timeout, .noHeartbeat].contains(error.code) ? error.code : .agentError
                call.end(.notRun(AgentRTError(code, "session open failed: \(error.message)", runID: call.runID)))
                return
            }
        } else {
            instance = entry.shared   // not stored in the call: `runAgentCode` falls back to it
        }
        if !entry.descriptor.threadSafe {
            let gate = instance.gate
            guard call.enterQueue(gate) else {
                let cause = call.context.cancellationCause ?? .deadline
                call.end(.notRun(AgentRTError(cause.errorCode, "\(call.describe()) did not start: \(cause.explanation)", runID: call.runID)))
                return
            }
            guard gate.enter(call) else { return }   // queued: resumes on a worker when granted
            guard call.grantGate() else {
                gate.release(runtime: self)          // ended meanwhile: pass the gate on
                return
            }
        }
        runAgentCode(call, instance: instance)
    }

    /// Runs the agent function (the call holds its instance, and its gate if it needs one).
    /// `instance` nil: the call's (a call resumed by its instance gate on another worker).
    func runAgentCode(_ call: AgentCall, instance known: AgentInstance? = nil) {
        if let cause = call.context.cancellationCause {
            // Re-checked after any wait: a call that was cancelled never runs plugin code.
            call.end(.notRun(AgentRTError(cause.errorCode, "\(call.describe()) did not start: \(cause.explanation)", runID: call.runID)))
            return
        }
        let instance = known ?? call.lock.withLock { call.instance } ?? call.entry!.shared
        let status = call.entry!.implementation.run(call, instance: instance, input: call.input)
        // Only process isolation reports how a worker ended: in-process calls skip the lock.
        if call.entry!.isProcessIsolated, let how = call.takeProcessEnding() {
            call.end(.processEnded(how))
        } else {
            call.end(.returned(status))
        }
    }

    /// Breaker and stats: once per root call, before its outcome is visible.
    func recordOutcome(_ call: AgentCall, _ outcome: Result<String, AgentRTError>, duration: Duration) {
        guard let entry = call.entry, call.parent == nil else { return }
        entry.stats.record(outcome, duration: duration)
        call.userState?.stats.record(outcome, duration: duration)
        let o: CircuitBreaker.Outcome
        switch outcome {
        case .success: o = .success
        case .failure(let e):
            switch e.code {
            case .cancelled, .invalidContext, .overloaded, .notFound, .badArguments: o = .ignored
            default: o = .failure
            }
        }
        // Failures (and slow calls) are attributed to the user whose call it was; the breaker
        // counts distinct users of those only, so a plain success needs no user hash.
        let attributed = o == .failure || configuration.breaker.slowCallDuration != nil
        let who = attributed ? UInt64(bitPattern: Int64(ExactID(call.context.userID).hashValue)) : 0
        if let b = call.breaker, let p = call.breakerPermit {
            publish(b.record(p, outcome: o, duration: duration, user: who), userID: call.context.userID)
        }
        if let b = call.userBreaker, let p = call.userBreakerPermit {
            publish(b.record(p, outcome: o, duration: duration, user: who), userID: call.context.userID)
        } else if call.hostTool == nil, let user = call.userState,
                  o == .failure || (configuration.breaker.slowCallDuration.map { duration >= $0 } ?? false) {
            startUserBreaker(user, key: entry.qualifiedName, outcome: o, duration: duration, who: who)
        }
    }

    /// A user's first failure (or slow call) of an agent or tool (`key`): their own breaker is
    /// created now and counts this outcome (until then they had none: nothing to check).
    func startUserBreaker(_ user: UserState, key: String, outcome: CircuitBreaker.Outcome, duration: Duration, who: UInt64) {
        let b = user.breaker(for: key, config: configuration.breaker, clock: clock)
        let (p, _, t) = b.acquire()
        publish(t, userID: user.userID)
        if let p { publish(b.record(p, outcome: outcome, duration: duration, user: who), userID: user.userID) }
    }

    /// A zombie: counted in the same transition that abandoned the call.
    func noteAbandoned(_ call: AgentCall) {
        call.entry?.stats.zombies.add(1, ordering: .relaxed)
        call.userState?.stats.zombies.add(1, ordering: .relaxed)
        call.userState?.addZombie(call.entry?.qualifiedName ?? "", 1)
        log(level: 3, "abandoned \(call.describe()) run \(call.runID) of user \(call.context.userID); its thread and permit stay held until it returns")
    }

    /// An abandoned call's code returned: the zombie it counted goes away.
    func zombieReturned(_ call: AgentCall) {
        call.entry?.stats.zombies.subtract(1, ordering: .relaxed)
        call.userState?.stats.zombies.subtract(1, ordering: .relaxed)
        call.userState?.addZombie(call.entry?.qualifiedName ?? "", -1)
        counters.zombiesReturned.add(1, ordering: .relaxed)
    }

    func instanceSlot(_ user: UserState, _ entry: AgentEntry, sessionID: String) -> InstanceSlot {
        let key = InstanceKey(agent: entry.qualifiedName, sessionID: sessionID)
        return user.lock.withLock {
            if let s = user.instances[key] { return s }
            let s = InstanceSlot(key: key, implementation: entry.implementation, userID: user.userID)
            // A user removed meanwhile has had its slots collected: a new one would never be
            // closed, so it starts removed (its acquire refuses, nothing is opened).
            if user.removed { _ = s.markRemoved(); return s }
            user.instances.insert(s)
            return s
        }
    }
}

/// Calls a completion closure when a detached call finishes.
enum NotifyOnCompletion {
    static func attach(_ call: AgentCall, _ completion: @escaping @Sendable (RunResult) -> Void) {
        call.lock.withLock { call.completionHook = completion }
    }
}
