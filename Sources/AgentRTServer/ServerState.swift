import AgentRTCore

/// The server's own lifecycle and what it must wind down at shutdown: the runs it started and
/// the streaming connections it holds. Runtime logic stays in Core; this is only bookkeeping.
final class ServerState: @unchecked Sendable {
    enum Phase: Sendable, Equatable {
        /// Accepting runs and connections.
        case serving
        /// Shutting down: runs and new streams are refused (503), open streams are being closed.
        case draining
    }

    /// Something that can be told to close at shutdown (an SSE stream or a WebSocket).
    protocol Closable: AnyObject, Sendable {
        func closeForShutdown()
    }

    private let lock = Lock()
    // Guarded by `lock`.
    private var phase: Phase = .serving
    private var runs: [ExactID: String] = [:]   // run id → user id
    private var connections: [ObjectIdentifier: any Closable] = [:]
    private var idle = ConditionWaiters()

    var isDraining: Bool { lock.withLock { phase == .draining } }
    var runsInFlight: Int { lock.withLock { runs.count } }
    var openConnections: Int { lock.withLock { connections.count } }

    /// Registers a run the server started; false (and nothing registered) while draining.
    func beginRun(_ runID: String, userID: String) -> Bool {
        lock.withLock {
            guard phase == .serving else { return false }
            runs[ExactID(runID)] = userID
            return true
        }
    }

    func endRun(_ runID: String) {
        let waiters: [CheckedContinuation<Void, Never>] = lock.withLock {
            runs.removeValue(forKey: ExactID(runID))
            return runs.isEmpty ? idle.takeAll() : []
        }
        for w in waiters { w.resume() }
    }

    /// Registers a stream; false while draining (the caller refuses it).
    func open(_ c: any Closable) -> Bool {
        lock.withLock {
            guard phase == .serving else { return false }
            connections[ObjectIdentifier(c)] = c
            return true
        }
    }

    func closed(_ c: any Closable) {
        _ = lock.withLock { connections.removeValue(forKey: ObjectIdentifier(c)) }
    }

    /// Enters `draining` and tells every open stream to close; returns the runs still in flight.
    func beginDrain() -> [(runID: String, userID: String)] {
        let (cs, rs): ([any Closable], [(runID: String, userID: String)]) = lock.withLock {
            phase = .draining
            return (Array(connections.values), runs.map { ($0.key.string, $0.value) })
        }
        for c in cs { c.closeForShutdown() }
        return rs
    }

    /// The runs still in flight.
    func inFlightRuns() -> [(runID: String, userID: String)] {
        lock.withLock { runs.map { ($0.key.string, $0.value) } }
    }

    /// Waits until no run the server started is in flight, or `timeout` passed; true when none is.
    func waitForRuns(timeout: Duration) async -> Bool {
        let done: Bool = await withTaskGroup(of: Bool.self) { g in
            g.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now: Bool = self.lock.withLock {
                        if self.runs.isEmpty { return true }
                        self.idle.add(c)
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
            if !first {
                // Release the waiter so the group can finish.
                let ws = self.lock.withLock { self.idle.takeAll() }
                for w in ws { w.resume() }
            }
            g.cancelAll()
            for await _ in g {}
            return first
        }
        return done || runsInFlight == 0
    }
}

/// Continuations waiting for a condition (guarded by the owner's lock).
struct ConditionWaiters {
    private var waiters: [CheckedContinuation<Void, Never>] = []
    mutating func add(_ c: CheckedContinuation<Void, Never>) { waiters.append(c) }
    mutating func takeAll() -> [CheckedContinuation<Void, Never>] {
        defer { waiters.removeAll() }
        return waiters
    }
}
