import AgentRTCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The supervised worker processes of one isolated plugin. Each slot holds one worker serving
/// one call tree at a time; a call waits (cancellably, up to its deadline) for a free worker.
/// A worker that dies is reaped, the sessions it held are lost (`session_lost` on their users'
/// streams) and it is restarted with backoff; a plugin whose fresh workers die before serving
/// anything, three times running, is disabled with the reason instead of restarted forever.
final class ProcessWorkerPool: @unchecked Sendable {
    enum SlotState {
        case idle(WorkerProcess)
        case busy(WorkerProcess)
        case restarting
    }
    enum PoolState { case running, disabled(String), shutDown }

    let pluginName: String
    let path: String
    let config: String
    let executable: String
    let limits: WorkerLimits
    let maxResultBytes: Int
    weak var runtime: Runtime?

    private let lock = Lock()
    private let cond = ConditionVariable()
    // Guarded by `lock`.
    private var slots: [SlotState] = []
    private var state: PoolState = .running
    private var consecutiveDeaths: [Int] = []
    /// Whether each slot's current worker was ever given a request; one that dies before
    /// (at start, or idle) is "dead on arrival", and three of those in a row disable the plugin.
    private var servedSinceStart: [Bool] = []
    private var deadOnArrival = 0
    private var sessions: [Int: [ObjectIdentifier: OpenSession]] = [:]
    /// Callers waiting in `acquire` for a given slot (a session's worker): while there are any,
    /// a released worker wakes every waiter (the one that wants it may be any of them); else one.
    private var slotWaiters = 0
    private let ids = Atomic<UInt64>(1)
    /// Wakes the supervisor when the set of idle workers changes (an eventfd).
    private let supervisorWake: (read: Int32, write: Int32) = {
        var p: [Int32] = [-1, -1]
        guard pipe(&p) == 0 else { return (-1, -1) }
        for fd in p {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return (p[0], p[1])
    }()
    private let generations = Atomic<UInt64>(1)
    let restarts = Atomic<Int>(0)

    struct OpenSession {
        let instance: AgentInstance
        let userID: String, sessionID: String, agent: String
    }

    init(pluginName: String, path: String, config: String, executable: String, limits: WorkerLimits,
         maxResultBytes: Int, first: WorkerProcess) {
        self.pluginName = pluginName
        self.path = path
        self.config = config
        self.executable = executable
        self.limits = limits
        self.maxResultBytes = maxResultBytes
        slots = [.idle(first)]
        consecutiveDeaths = [0]
        servedSinceStart = [false]
    }

    /// Starts the supervisor: it watches idle workers, so one that dies between calls (killed
    /// from outside, or a thread of its plugin crashed it) is replaced and its sessions reported
    /// lost at once, not when the next call finds it gone.
    func startSupervisor() {
        NativeThread(name: "agentrt-supervise") { [weak self] in
            while let pool = self, pool.superviseOnce() {}
        }.detach()
    }

    private func wakeSupervisor() {
        var one: UInt8 = 1
        _ = write(supervisorWake.write, &one, 1)
    }

    /// One look at the idle workers (until one of them ends or the idle set changes); false once
    /// the pool is shut down.
    private func superviseOnce() -> Bool {
        let idle: [WorkerProcess] = lock.withLock {
            if case .shutDown = state { return [] }
            return slots.compactMap { if case .idle(let w) = $0 { w } else { nil } }
        }
        if case .shutDown = lock.withLock({ state }) { return false }
        var fds = idle.map { pollfd(fd: $0.data.fd, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0) }
        fds.append(pollfd(fd: supervisorWake.read, events: Int16(POLLIN), revents: 0))
        let n = poll(&fds, nfds_t(fds.count), 1000)
        guard n > 0 else { return true }
        if fds[fds.count - 1].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            while read(supervisorWake.read, &drain, 64) > 0 {}
        }
        for (i, f) in fds.dropLast().enumerated() where f.revents != 0 {
            let w = idle[i]
            // Take it from the idle set first, so no call picks a worker that is gone.
            let taken: Bool = lock.withLock {
                guard w.slot < slots.count, case .idle(let x) = slots[w.slot], x === w else { return false }
                slots[w.slot] = .busy(w)
                return true
            }
            guard taken else { continue }
            // The readiness may be stale: a call took the worker after the snapshot, read its
            // reply and gave it back before we looked. Now that we hold it, look again.
            var byte: UInt8 = 0
            let n = recv(w.data.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                giveBack(w)   // nothing to read: healthy
                continue
            }
            w.kill()   // end of stream, an error, or data nobody asked for: it is gone (or rogue)
            _ = workerDied(w)
        }
        return true
    }

    func nextID() -> UInt64 { ids.wrappingAdd(1, ordering: .relaxed).oldValue }
    func nextGeneration() -> UInt64 { generations.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Adds a worker (at load).
    func add(_ w: WorkerProcess) {
        lock.withLock {
            slots.append(.idle(w))
            consecutiveDeaths.append(0)
            servedSinceStart.append(false)
        }
        wakeSupervisor()
    }

    deinit { close(supervisorWake.read); close(supervisorWake.write) }

    var workerCount: Int { lock.withLock { slots.count } }
    /// Pids of the live workers (tests, `agentrt load`).
    var pids: [pid_t] {
        lock.withLock { slots.compactMap { if case .idle(let w) = $0 { w.pid } else if case .busy(let w) = $0 { w.pid } else { nil } } }
    }

    enum AcquireFailure: Error { case cancelled(CancellationCause), disabled(String), lost, shutDown }

    /// A free worker (of `slot`, with `generation`, when given: a session's worker), waiting for
    /// one while `context` is not cancelled.
    func acquire(slot wanted: Int? = nil, generation: UInt64? = nil,
                 context: UserExecutionContext?) throws(AcquireFailure) -> WorkerProcess {
        var registered = false
        lock.lock()
        defer { lock.unlock() }
        while true {
            switch state {
            case .disabled(let why): throw .disabled(why)
            case .shutDown: throw .shutDown
            case .running: break
            }
            if let cause = context?.cancellationCause { throw .cancelled(cause) }
            if let wanted {
                guard wanted < slots.count else { throw .lost }
                switch slots[wanted] {
                case .idle(let w) where w.generation == generation:
                    slots[wanted] = .busy(w)
                    servedSinceStart[wanted] = true
                    return w
                case .idle, .restarting: throw .lost
                case .busy(let w) where w.generation != generation: throw .lost
                case .busy: break
                }
            } else {
                for i in slots.indices {
                    if case .idle(let w) = slots[i] {
                        slots[i] = .busy(w)
                        servedSinceStart[i] = true
                        return w
                    }
                }
            }
            if !registered, let context {
                registered = true
                lock.unlock()
                context.onCancel { [self] _ in lock.withLock { cond.broadcast() } }
                lock.lock()
                continue
            }
            if wanted != nil { slotWaiters += 1 }
            _ = cond.wait(lock, untilNanos: MonotonicTime.nanos() &+ 100_000_000)
            if wanted != nil { slotWaiters -= 1 }
        }
    }

    /// Returns a worker the supervisor held for a look (no request was made).
    private func giveBack(_ w: WorkerProcess) {
        lock.withLock {
            guard w.slot < slots.count, case .busy(let b) = slots[w.slot], b === w else { return }
            slots[w.slot] = .idle(w)
            cond.broadcast()
        }
    }

    /// Gives a worker back after a request that ended normally (one the runtime killed
    /// meanwhile — its call was stopped at deadline + grace just as it finished — is replaced
    /// instead of handed to the next call).
    func release(_ w: WorkerProcess) {
        if w.killedByRuntime.load(ordering: .acquiring) {
            _ = workerDied(w)
            return
        }
        lock.withLock {
            guard w.slot < slots.count, case .busy(let b) = slots[w.slot], b === w else { return }
            slots[w.slot] = .idle(w)
            consecutiveDeaths[w.slot] = 0
            deadOnArrival = 0
            if slotWaiters > 0 { cond.broadcast() } else { cond.signal() }
        }
        wakeSupervisor()
    }

    /// A worker's channel ended: reaps it, loses its sessions, schedules its replacement;
    /// returns how it ended (for the call's message). Idempotent per worker.
    func workerDied(_ w: WorkerProcess) -> String {
        let how = "the worker process for plugin \(pluginName) (pid \(w.pid)) " + w.reap()
        let (lost, restartAfter): ([OpenSession], UInt32?) = lock.withLock {
            guard w.slot < slots.count else { return ([], nil) }
            switch slots[w.slot] {
            case .idle(let x) where x === w, .busy(let x) where x === w: break
            default: return ([], nil)   // already handled
            }
            slots[w.slot] = .restarting
            let lost = Array((sessions.removeValue(forKey: w.slot) ?? [:]).values)
            if case .running = state {} else { return (lost, nil) }
            if !servedSinceStart[w.slot] {
                deadOnArrival += 1
                if deadOnArrival >= 3 {
                    state = .disabled("its worker processes died \(deadOnArrival) times in a row before serving a call (last: \(how))")
                    cond.broadcast()
                    return (lost, nil)
                }
            }
            consecutiveDeaths[w.slot] += 1
            servedSinceStart[w.slot] = false
            let n = consecutiveDeaths[w.slot]
            // 0, 5, 20, 80 ms … up to 1 s between restarts of a worker that keeps dying.
            let backoff: UInt32 = n <= 1 ? 0 : min(1_000_000, 5_000 << (2 * UInt32(min(n - 2, 8))))
            cond.broadcast()
            return (lost, backoff)
        }
        for s in lost { s.instance.markLost() }
        publishLost(lost, reason: how)
        if let restartAfter { scheduleRestart(slot: w.slot, afterMicros: restartAfter) }
        return how
    }

    private func publishLost(_ lost: [OpenSession], reason: String) {
        guard let runtime, !lost.isEmpty else { return }
        for s in lost {
            var w = JSONObjectWriter()
            w.string("reason", reason)
            _ = runtime.events.publish(Event(kind: .sessionLost, userID: s.userID, sessionID: s.sessionID, runID: "",
                                             plugin: pluginName, agent: s.agent, dataJSON: w.finish()))
        }
    }

    private func scheduleRestart(slot: Int, afterMicros: UInt32) {
        NativeThread(name: "agentrt-restart") { [self] in
            if afterMicros > 0 { usleep(afterMicros) }
            restart(slot: slot)
        }.detach()
    }

    private func restart(slot: Int) {
        if case .running = lock.withLock({ state }) {} else { return }
        do {
            let (w, _) = try WorkerProcess.spawn(executable: executable, pluginPath: path, config: config, limits: limits,
                                                 maxResultBytes: maxResultBytes, slot: slot, generation: nextGeneration())
            restarts.add(1, ordering: .relaxed)
            let keep: Bool = lock.withLock {
                guard case .running = state else { return false }
                slots[slot] = .idle(w)
                cond.broadcast()
                return true
            }
            wakeSupervisor()
            if !keep { w.kill(); w.reap() }
        } catch {
            lock.withLock {
                if case .running = state {
                    state = .disabled("a replacement worker process failed to load the plugin: \(error.message)")
                }
                cond.broadcast()
            }
        }
    }

    /// Records a session instance opened in `slot` (lost if that worker dies).
    func sessionOpened(_ s: OpenSession, slot: Int) {
        lock.withLock { sessions[slot, default: [:]][ObjectIdentifier(s.instance)] = s }
    }

    func sessionClosed(_ instance: AgentInstance, slot: Int) {
        _ = lock.withLock { sessions[slot]?.removeValue(forKey: ObjectIdentifier(instance)) }
    }

    /// The reason the plugin is disabled, if it is.
    var disabledReason: String? { lock.withLock { if case .disabled(let why) = state { why } else { nil } } }

    /// Ends every worker: their channels close (the plugin's `on_shutdown` runs in each), and
    /// whatever has not exited shortly after is killed.
    func shutdown() {
        let workers: [WorkerProcess] = lock.withLock {
            state = .shutDown
            cond.broadcast()
            wakeSupervisor()
            return slots.compactMap { if case .idle(let w) = $0 { w } else if case .busy(let w) = $0 { w } else { nil } }
        }
        for w in workers { w.data.shutdownBoth(); w.control.shutdownBoth() }
        for w in workers { w.reap() }
    }
}
