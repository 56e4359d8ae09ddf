import Synchronization

/// Everything the runtime keeps for one user: the admission limit, the agent instances of each
/// session (from the plugin's session hooks), counters and in-flight runs.
public final class UserState: @unchecked Sendable {
    public let userID: String
    let admission: FairSemaphore
    let stats = CallStats()
    let lock = Lock()
    // Guarded by `lock`.
    @exclusivity(unchecked) var instances = InstanceSlots()
    @exclusivity(unchecked) var inFlight = InFlightRuns()
    @exclusivity(unchecked) var lastUsedNanos: UInt64
    /// This user's breaker per agent (`plugin.agent`) and abandoned calls per agent still running
    /// (the per-user quarantine); dropped with the user.
    @exclusivity(unchecked) var breakers: [String: CircuitBreaker] = [:]
    @exclusivity(unchecked) var zombiesByAgent: [String: Int] = [:]
    @exclusivity(unchecked) var removed = false
    /// The user's event stream.
    let stream: UserStream

    init(userID: String, perUserLimit: Int, stream: UserStream, clock: any RuntimeClock, timers: Watchdog?) {
        self.userID = userID
        self.stream = stream
        self.admission = FairSemaphore(limit: perUserLimit, clock: clock, timers: timers)
        self.lastUsedNanos = clock.nowNanos()
    }

    /// Breakers created so far (read without the lock: most users never fail, and then a call
    /// skips the per-user breaker entirely).
    private let breakerCount = Atomic<Int>(0)

    /// This user's breaker for `agent` if one exists (it is created at the user's first failure).
    func existingBreaker(for agent: String) -> CircuitBreaker? {
        if breakerCount.load(ordering: .acquiring) == 0 { return nil }
        return lock.withLock { breakers[agent] }
    }

    /// This user's breaker for `agent` (created on first use).
    func breaker(for agent: String, config: CircuitBreaker.Config, clock: any RuntimeClock) -> CircuitBreaker {
        lock.withLock {
            if let b = breakers[agent] { return b }
            breakerCount.add(1, ordering: .releasing)
            var c = config
            c.minimumDistinctUsers = 1
            let b = CircuitBreaker(key: "\(agent)@\(userID)", config: c, clock: clock)
            breakers[agent] = b
            return b
        }
    }

    /// Abandoned calls of this user still running, all agents (read without the lock: a user
    /// with none, the normal case, skips the per-agent table on every call).
    private let zombieTotal = Atomic<Int>(0)

    /// Abandoned calls of `agent` this user still has running.
    func zombies(of agent: String) -> Int {
        if zombieTotal.load(ordering: .acquiring) == 0 { return 0 }
        return lock.withLock { zombiesByAgent[agent] ?? 0 }
    }

    func addZombie(_ agent: String, _ delta: Int) {
        lock.withLock {
            zombieTotal.add(delta, ordering: .releasing)
            let n = (zombiesByAgent[agent] ?? 0) + delta
            zombiesByAgent[agent] = n <= 0 ? nil : n
        }
    }

    /// Session ids with open agent instances.
    public var sessionIDs: [String] { lock.withLock { Array(Set(instances.keys.map(\.sessionID))).sorted() } }
    /// Runs in flight for this user.
    public var inFlightCount: Int { lock.withLock { inFlight.count } }
    public var inFlightRunIDs: [String] { lock.withLock { inFlight.runIDs } }
}

struct InstanceKey: Hashable {
    let agent: String      // plugin.agent
    let session: ExactID
    var sessionID: String { session.string }
    init(agent: String, sessionID: String) {
        self.agent = agent
        self.session = ExactID(sessionID)
    }
}

/// One agent instance of one user session, as a state machine under `lock`:
///
/// `empty ─open─▶ opening ─ok─▶ open ─removed and unused─▶ closed`; a failed open goes back to
/// `empty`, so the next call retries (a failure is never cached). The plugin's `session_open`
/// runs outside every lock, so a hung open never blocks user removal, the idle sweeper or
/// shutdown; calls racing the opener wait for it, cancellably. The instance is closed exactly
/// once, after its last call, on a worker thread.
final class InstanceSlot: @unchecked Sendable {
    enum State { case empty, opening, open(AgentInstance), closed }

    let key: InstanceKey
    let implementation: any AgentImplementation
    let userID: String
    let lock = Lock()
    /// Created by the first call that waits for another call's open (most sessions never have
    /// one: a condition variable is two allocations kept per idle session). Guarded by `lock`.
    @exclusivity(unchecked) private var waiters: ConditionVariable?
    // Guarded by `lock`.
    @exclusivity(unchecked) private var state: State = .empty
    @exclusivity(unchecked) private var refs = 0
    @exclusivity(unchecked) private var removed = false

    init(key: InstanceKey, implementation: any AgentImplementation, userID: String) {
        self.key = key
        self.implementation = implementation
        self.userID = userID
    }

    /// The open instance for `call`, opening it on first use (on the calling worker thread) and
    /// taking a reference. Throws when the open fails, the session was removed, or the call was
    /// cancelled while it waited for another call's open.
    func acquire(for call: AgentCall) throws(AgentRTError) -> AgentInstance {
        var waitingRegistered = false
        lock.lock()
        while true {
            if removed {
                lock.unlock()
                throw AgentRTError(.cancelled, "the session \(key.sessionID) of user \(userID) was removed")
            }
            switch state {
            case .open(let i) where i.isLost:
                // Its worker process died with the state: open a new one (never closed).
                state = .empty
                continue
            case .open(let i):
                refs += 1
                lock.unlock()
                return i
            case .closed:
                lock.unlock()
                throw AgentRTError(.cancelled, "the session \(key.sessionID) of user \(userID) was closed")
            case .empty:
                state = .opening
                lock.unlock()
                call.lock.withLock { call.step = .openingSession }
                let opened: Result<AgentInstance, AgentRTError>
                do { opened = .success(try implementation.openSession(userID: userID, sessionID: key.sessionID, for: call)) }
                catch { opened = .failure(error) }
                call.lock.withLock { call.step = .runningAgent }
                lock.lock()
                switch opened {
                case .failure(let e):
                    state = .empty
                    waiters?.broadcast()
                    lock.unlock()
                    throw e
                case .success(let i):
                    if removed {
                        // Removed while opening: close at once, nobody else will use it.
                        state = .closed
                        waiters?.broadcast()
                        lock.unlock()
                        call.runtime.pool.submit(CloseInstanceItem(runtime: call.runtime, slot: self, instance: i))
                        throw AgentRTError(.cancelled, "the session \(key.sessionID) of user \(userID) was removed while it opened")
                    }
                    state = .open(i)
                    refs += 1
                    waiters?.broadcast()
                    lock.unlock()
                    return i
                }
            case .opening:
                if let cause = call.context.cancellationCause {
                    lock.unlock()
                    throw AgentRTError(cause.errorCode, "\(call.describe()) was cancelled while another call opened its session: \(cause.explanation)")
                }
                if !waitingRegistered {
                    waitingRegistered = true
                    lock.unlock()
                    call.context.onCancel { [self] _ in lock.withLock { waiters?.broadcast() } }
                    lock.lock()
                    continue
                }
                if waiters == nil { waiters = ConditionVariable() }
                waiters!.wait(lock)
            }
        }
    }

    /// Drops a reference; closes (on a worker) if removed and unused.
    func release(runtime: Runtime) {
        let toClose: AgentInstance? = lock.withLock {
            refs -= 1
            return takeForCloseLocked()
        }
        if let toClose { runtime.pool.submit(CloseInstanceItem(runtime: runtime, slot: self, instance: toClose)) }
    }

    /// Marks removed; returns the instance to close now if no call uses it. Never waits for
    /// plugin code (an open in progress closes its instance itself when it returns).
    func markRemoved() -> AgentInstance? {
        lock.withLock {
            removed = true
            return takeForCloseLocked()
        }
    }

    private func takeForCloseLocked() -> AgentInstance? {
        guard removed, refs == 0, case .open(let i) = state, !i.isLost else { return nil }
        state = .closed
        return i
    }
}

/// Runs a plugin's close hook on a worker thread (plugin code never runs on the caller's pool,
/// the watchdog or a canceller's thread); counted so shutdown can wait for it.
final class CloseInstanceItem: WorkItem, @unchecked Sendable {
    let work: PluginWorkCount
    let slot: InstanceSlot
    let instance: AgentInstance
    init(runtime: Runtime, slot: InstanceSlot, instance: AgentInstance) {
        self.work = runtime.pluginWork   // not the runtime: this may be queued from its deinit
        self.slot = slot
        self.instance = instance
        work.started()
    }
    func runOnWorker() {
        slot.implementation.closeSession(instance)
        work.finished()
    }
    func workerThreadExited() { work.finished() }
}
