/// The life of a root call as one state machine. Every transition is decided once, under the
/// call's lock, by exactly one party (the worker that ran the code, the watchdog, a canceller);
/// that party then performs the transition's side effects outside the lock:
///
/// ```
///  admitted ──begin──▶ running ──cancel──▶ cancelling ──grace passed──▶ abandoned
///     │  ▲               │  │                 │                           │
///     │  └─granted── queued │ code returned   │ code returned             │ code returned
///     │ cancel         │ cancel  ▼               ▼                           ▼
///     └───────────────▶┴──────▶ finished ◀──────┴───────────────────────────┘
/// ```
///
/// - `finished` from `admitted`/`queued`: the agent's code never ran (cancelled, deadline).
///   Outcome delivered, resources released, by the canceller.
/// - `finished` from `running`/`cancelling`: the code returned. The outcome is the cancellation
///   cause if the call was cancelled, `timeout` if the deadline passed (whatever the agent set),
///   else what the agent reported. Delivered and released by the worker.
/// - `abandoned`: the code ignored cancellation for the grace period. The watchdog delivers the
///   outcome and counts a zombie; permits stay held (the code still runs).
/// - `finished` from `abandoned`: the code finally returned: the worker subtracts the zombie and
///   releases what the call held; the late result is discarded.
extension AgentCall {
    enum State: UInt8 {
        case admitted = 0, queued, running, cancelling, abandoned, finished
        /// No outcome yet.
        var isLive: Bool { rawValue <= State.cancelling.rawValue }
    }

    /// Where a running call is, for messages (a slow `session_open` is not "ignoring cancellation").
    enum Step { case waitingForWorker, openingSession, waitingForInstance, runningAgent }

    /// How a worker's part of the call ended.
    enum Ending {
        /// The agent's function returned this status.
        case returned(HostStatus)
        /// The call ended before the agent's function ran, with this error.
        case notRun(AgentRTError)
        /// The worker thread ended inside the agent (pthread_exit, cancellation).
        case workerDied
        /// The worker process running the agent ended (process isolation); how it ended.
        case processEnded(String)
    }

    private func setState(_ s: State) {
        state = s
        stateMirror.store(s.rawValue, ordering: .releasing)
    }

    // MARK: transitions

    /// A tool call's end (tool calls run on their caller's thread and have no other transition).
    func endTool() {
        lock.withLock { setState(.finished) }
    }

    /// admitted → running, on the worker. False when the call already ended (cancelled while it
    /// waited for a worker).
    func begin() -> Bool {
        lock.withLock {
            guard state == .admitted else { return false }
            setState(.running)
            step = .runningAgent
            // The heartbeat clock starts now (read only when there is a heartbeat to watch).
            if heartbeatTimeoutNanos > 0 { lastActivity.store(runtime.clock.nowNanos(), ordering: .releasing) }
            return true
        }
    }

    /// running → queued behind the instance gate. False when the call was cancelled meanwhile
    /// (the caller then ends it).
    func enterQueue(_ g: InstanceGate) -> Bool {
        lock.withLock {
            guard state == .running, !context.isCancelled else { return false }
            setState(.queued)
            step = .waitingForInstance
            gate = g
            return true
        }
    }

    /// queued → running once the gate is granted. False when the call ended while it waited:
    /// the gate then goes to the next caller and no plugin code runs for this one.
    func grantGate() -> Bool {
        lock.withLock {
            guard state == .queued else { return false }
            setState(.running)
            step = .runningAgent
            holdsGate = true
            lastActivity.store(runtime.clock.nowNanos(), ordering: .releasing)
            return true
        }
    }

    /// The context was cancelled (by anyone: caller, deadline, heartbeat, shutdown, removal).
    func contextCancelled(_ cause: CancellationCause) {
        let now = runtime.clock.nowNanos()
        enum Then { case nothing, endNow(fromQueue: Bool), watchGrace }
        let then: Then = lock.withLock {
            switch state {
            case .admitted: return .endNow(fromQueue: false)
            case .queued: return .endNow(fromQueue: true)
            case .running:
                setState(.cancelling)
                cancelledAtNanos = now
                return .watchGrace
            case .cancelling, .abandoned, .finished: return .nothing
            }
        }
        switch then {
        case .nothing: return
        case .watchGrace: runtime.watchdog.schedule(self, at: now &+ graceNanos)
        case .endNow(let fromQueue):
            let why = fromQueue ? "while it waited for the agent instance (the agent is not thread-safe)"
                                : "before it started"
            let e = AgentRTError(cause.errorCode, "\(describe()) ended \(why): \(cause.explanation)", runID: runID)
            decideAndDeliver(.failure(e), from: fromQueue ? .queued : .admitted, onWorker: false)
        }
    }

    /// The worker's part ended. Decides the outcome unless the watchdog already did.
    func end(_ ending: Ending) {
        let now = runtime.clock.nowNanos()
        enum Then { case deliver(Result<String, AgentRTError>, State), zombieReturned, nothing }
        let then: Then = lock.withLock {
            switch state {
            case .finished: return .nothing
            case .abandoned:
                setState(.finished)
                if result != nil { runtime.counters.lateResults.add(1, ordering: .relaxed) }
                return .zombieReturned
            case .admitted, .queued, .running, .cancelling:
                let from = state
                return .deliver(outcomeLocked(ending, now: now), from)
            }
        }
        switch then {
        case .nothing: return
        case .zombieReturned:
            runtime.zombieReturned(self)
            releaseResources()
        case .deliver(let outcome, let from):
            // The state may have moved between choosing the outcome and deciding it (a cancel
            // or the watchdog's abandonment in between): then look again from the new state, so
            // the return is never lost (a lost return leaked the zombie and every permit).
            if !decideAndDeliver(outcome, from: from, onWorker: true, now: now) { end(ending) }
        }
    }

    /// The watchdog's look at the call; returns when to look again (nil: never).
    func watchdogFired(now: UInt64) -> UInt64? {
        if isTool {
            // A tool with a deadline shorter than its caller's: cancel it cooperatively; the
            // dispatcher turns a late return into `timeout`, the caller's own deadline does the rest.
            if let d = context.deadlineNanos, now >= d { context.cancel(.deadline) }
            return nil
        }
        let (s, cancelledAt) = lock.withLock { (state, cancelledAtNanos) }
        switch s {
        case .finished, .abandoned: return nil
        case .cancelling:
            if now >= cancelledAt &+ graceNanos { abandon(); return nil }
            return cancelledAt &+ graceNanos
        case .admitted, .queued, .running:
            if let d = context.deadlineNanos, now >= d {
                context.cancel(.deadline)
                return s == .running ? now &+ graceNanos : nil
            }
            if heartbeatTimeoutNanos > 0 && s == .running {
                let last = lastActivity.load(ordering: .acquiring)
                if now &- last >= heartbeatTimeoutNanos {
                    let details = lock.withLock { heartbeatDetails }
                    context.cancel(.noHeartbeat(lastDetails: details))
                    return now &+ graceNanos
                }
                return min(last &+ heartbeatTimeoutNanos, context.deadlineNanos ?? .max)
            }
            if heartbeatTimeoutNanos > 0 {
                // Not running yet (waiting for a worker or the instance): the heartbeat clock
                // starts when it runs (begin/grantGate reset it); look again one timeout from now.
                return min(now &+ heartbeatTimeoutNanos, context.deadlineNanos ?? .max)
            }
            return context.deadlineNanos
        }
    }

    /// cancelling → abandoned, by the watchdog at cancel + grace.
    func abandon() {
        let taken: Step? = lock.withLock {
            guard state == .cancelling else { return nil }
            return step
        }
        guard let step = taken else { return }
        if let entry, entry.isProcessIsolated {
            let impl = entry.implementation
            // Process isolation: the worker is killed instead; the call ends when `run` returns.
            lock.withLock { stoppedByForce = true }
            if impl.stop(self) { return }
            lock.withLock { stoppedByForce = false }
        }
        let cause = context.cancellationCause ?? .deadline
        let what: String = switch step {
        case .openingSession: "its session_open did not return"
        case .waitingForInstance, .waitingForWorker, .runningAgent: "it ignored cancellation"
        }
        let e = AgentRTError(cause.errorCode, "\(describe()) was abandoned: \(cause.explanation); \(what) for the grace period",
                             runID: runID)
        decideAndDeliver(.failure(e), from: .cancelling, onWorker: false, abandoning: true)
    }

    /// The first cycle in which `firstWatchTime` is due.
    var firstWatchTime: UInt64? {
        let hb: UInt64? = heartbeatTimeoutNanos > 0 ? startNanos &+ heartbeatTimeoutNanos : nil
        switch (context.deadlineNanos, hb) {
        case (nil, nil): return nil
        case (let d?, nil): return d
        case (nil, let h?): return h
        case (let d?, let h?): return min(d, h)
        }
    }

    // MARK: effects

    /// What the call's outcome is when the worker's part ends in state `running`/`cancelling`.
    /// Lock held.
    private func outcomeLocked(_ ending: Ending, now: UInt64) -> Result<String, AgentRTError> {
        switch ending {
        case .notRun(let e): return .failure(e)
        case .workerDied:
            return .failure(AgentRTError(.crashed, "\(describe()) crashed: the worker thread exited inside the agent", runID: runID))
        case .processEnded(let how):
            if stoppedByForce, let cause = context.cancellationCause {
                return .failure(AgentRTError(cause.errorCode,
                    "\(describe()): \(cause.explanation); it ignored cancellation for the grace period, so its worker process was killed",
                    runID: runID))
            }
            return .failure(AgentRTError(.crashed, "\(describe()) crashed: \(how)", runID: runID))
        case .returned(let status):
            if let cause = context.cancellationCause {
                return .failure(AgentRTError(cause.errorCode, "\(describe()): \(cause.explanation)", runID: runID))
            }
            if let d = context.deadlineNanos, now >= d {
                return .failure(AgentRTError(.timeout, "\(describe()): the deadline passed before it returned", runID: runID))
            }
            if status == .ok {
                if let result { return .success(result) }
                if let resultRefusal { return .failure(AgentRTError(.invalidOutput, "\(describe()) \(resultRefusal)", runID: runID)) }
                return .failure(AgentRTError(.invalidOutput, "\(describe()) returned without setting a result", runID: runID))
            }
            let text = errorMessage ?? "returned \(status.name) without an error message"
            if hostTool != nil {
                // A host tool call refused by the dispatcher ends with the dispatcher's code (the
                // terminal event and the caller agree: not_found, bad_arguments, circuit_open …).
                let code: ErrorCode = status == .invalidJSON || status == .tooLarge || status == .invalidArgument
                    ? .badArguments : (ErrorCode.allCases.first { $0.status == status } ?? .agentError)
                return .failure(AgentRTError(code, text, runID: runID))
            }
            return .failure(AgentRTError(.agentError, "\(describe()) failed: \(text)", runID: runID))
        }
    }

    /// Decides the outcome (if still undecided from `from`) and delivers it: resources, zombie,
    /// breaker and stats first, then the terminal event, then the waiter and the completion.
    /// Returns false (and does nothing) when the state is no longer `from`.
    @discardableResult
    private func decideAndDeliver(_ outcome: Result<String, AgentRTError>, from: State, onWorker: Bool,
                                  abandoning: Bool = false, now given: UInt64? = nil) -> Bool {
        let decided: Bool = lock.withLock {
            guard state == from else { return false }
            setState(abandoning ? .abandoned : .finished)
            return true
        }
        guard decided else { return false }
        if from == .queued { gate?.remove(self) }
        let now = given ?? runtime.clock.nowNanos()
        let duration = Duration.nanoseconds(Int64(now &- startNanos))
        runtime.recordRunOutcome(self, outcome, duration: duration)   // RunRecords hook: readable before the terminal event
        if abandoning {
            runtime.noteAbandoned(self)
        } else {
            releaseResources()
        }
        // Before anyone can see the outcome: a caller that starts its next call at once finds
        // its permit free and the breaker already counting this outcome.
        runtime.recordOutcome(self, outcome, duration: duration)
        let rr = RunResult(runID: runID, outcome: outcome, started: true, duration: duration)
        let (cont, cond, hook): (CheckedContinuation<RunResult, Never>?, ConditionVariable?, (@Sendable (RunResult) -> Void)?) = lock.withLock {
            // Every tool_executing gets its tool_completed before the terminal event.
            for t in openTools {
                t.by.publishLocked(.toolCompleted, .toolCompleted(
                    id: t.id, tool: t.tool, isError: true, content: nil,
                    error: AgentRTError(.cancelled, "the calling run ended before the tool returned"), durationMs: 0),
                    atNanos: now)
            }
            openTools.removeAll()
            publishLocked(terminalKind(outcome), terminalData(outcome, duration: duration), atNanos: now)
            finalResult = rr
            done.store(true, ordering: .releasing)
            defer { continuation = nil; completionHook = nil }
            return (continuation, blockingWaiter, completionHook)
        }
        cont?.resume(returning: rr)
        if let cond { lock.withLock { cond.broadcast() } }
        if let hook {
            // Host code never runs on the watchdog's thread (or a canceller's): only a worker
            // that finished the call itself calls the completion inline.
            if onWorker {
                CompletionScope.inside { hook(rr) }
                runtime.outcomeDelivered()
            } else {
                runtime.pool.submit(CompletionDelivery(runtime: runtime, hook: hook, result: rr))
            }
        } else {
            runtime.outcomeDelivered()
        }
        return true
    }

    /// Returns the permits, the instance gate and the session instance, leaves the in-flight
    /// tables and ends the context; once per call, when its code no longer runs.
    func releaseResources() {
        let taken: (InstanceSlot?, InstanceGate?, Bool)? = lock.withLock {
            if resourcesReleased { return nil }
            resourcesReleased = true
            defer { heldSlot = nil; instance = nil; gate = nil; holdsGate = false }
            return (heldSlot, gate, holdsGate)
        }
        guard let (slot, g, hadGate) = taken else { return }
        guard let user = userState else { context.endObserved(); return }
        runtime.watchdog.remove(self)
        if hadGate, let g { g.release(runtime: runtime) }
        slot?.release(runtime: runtime)
        userPermit?.release()
        globalPermit?.release()
        user.lock.withLock { user.inFlight.remove(self) }
        entry?.stats.inFlight.subtract(1, ordering: .relaxed)
        user.stats.inFlight.subtract(1, ordering: .relaxed)
        context.endObserved()   // the call's code no longer runs: the cycle ends here
    }
}

/// Runs a host's completion callback on a worker thread.
final class CompletionDelivery: WorkItem, @unchecked Sendable {
    let runtime: Runtime
    let hook: @Sendable (RunResult) -> Void
    let result: RunResult
    init(runtime: Runtime, hook: @escaping @Sendable (RunResult) -> Void, result: RunResult) {
        self.runtime = runtime
        self.hook = hook
        self.result = result
    }
    func runOnWorker() {
        CompletionScope.inside { hook(result) }
        runtime.outcomeDelivered()
    }
    func workerThreadExited() { runtime.outcomeDelivered() }
}
