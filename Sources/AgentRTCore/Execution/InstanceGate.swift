/// Serialises the calls of an agent instance that is not thread-safe: a FIFO of calls, not a
/// mutex. A call that finds the instance busy leaves its worker thread and waits in the queue
/// (state `queued`); cancelling it (deadline, caller) removes it at once with its own outcome —
/// it never becomes a zombie behind a hung holder, and a call that already has an outcome never
/// gets the instance (the grant re-checks its state).
final class InstanceGate: @unchecked Sendable {
    private let lock = Lock()
    // Guarded by `lock`.
    private var busy = false
    private var waiting: [AgentCall] = []

    init() {}

    /// Takes the gate (true) or queues `call` behind the holder (false).
    func enter(_ call: AgentCall) -> Bool {
        lock.withLock {
            if !busy { busy = true; return true }
            waiting.append(call)
            return false
        }
    }

    /// Removes a queued call that ended while it waited.
    func remove(_ call: AgentCall) {
        lock.withLock { waiting.removeAll { $0 === call } }
    }

    /// Releases the gate: the oldest waiting call that is still live gets it and is resubmitted
    /// to a worker; calls that ended meanwhile are skipped.
    func release(runtime: Runtime) {
        while true {
            let next: AgentCall? = lock.withLock {
                if waiting.isEmpty { busy = false; return nil }
                return waiting.removeFirst()
            }
            guard let next else { return }
            if next.grantGate() {
                runtime.pool.submit(GrantedCall(call: next))
                return
            }
        }
    }

    /// Calls waiting (for tests and stats).
    var waitingCount: Int { lock.withLock { waiting.count } }
}

/// A call that was granted its instance gate and resumes on a worker.
final class GrantedCall: WorkItem, @unchecked Sendable {
    let call: AgentCall
    init(call: AgentCall) { self.call = call }
    func runOnWorker() { call.runtime.runAgentCode(call) }
    func workerThreadExited() { call.end(.workerDied) }
}
