import Synchronization

/// Everything the runtime keeps for one user: the admission limit, the agent instances of each
/// session (from the plugin's session hooks), counters and in-flight runs.
public final class UserState: @unchecked Sendable {
    public let userID: String
    let admission: FairSemaphore
    let stats = CallStats()
    let lock = Lock()
    // Guarded by `lock`.
    var instances: [InstanceKey: InstanceSlot] = [:]
    var inFlight: [String: AgentCall] = [:]
    var lastUsedNanos: UInt64
    var removed = false
    /// The user's event stream.
    let stream: UserStream

    init(userID: String, perUserLimit: Int, stream: UserStream) {
        self.userID = userID
        self.stream = stream
        self.admission = FairSemaphore(limit: perUserLimit)
        self.lastUsedNanos = MonotonicTime.nanos()
    }

    /// Session ids with open agent instances.
    public var sessionIDs: [String] { lock.withLock { Array(Set(instances.keys.map(\.sessionID))).sorted() } }
    /// Runs in flight for this user.
    public var inFlightCount: Int { lock.withLock { inFlight.count } }
    public var inFlightRunIDs: [String] { lock.withLock { Array(inFlight.keys) } }
}

struct InstanceKey: Hashable {
    let agent: String      // plugin.agent
    let sessionID: String
}

/// One agent instance of one user session: opened once (racing first calls wait for the
/// opener), reference-counted by running calls, closed exactly once after removal.
final class InstanceSlot: @unchecked Sendable {
    let key: InstanceKey
    let implementation: any AgentImplementation
    let userID: String
    let lock = Lock()
    // Guarded by `lock`.
    var instance: AgentInstance?
    var openError: AgentRTError?
    var refs = 0
    var removed = false
    var closed = false

    init(key: InstanceKey, implementation: any AgentImplementation, userID: String) {
        self.key = key
        self.implementation = implementation
        self.userID = userID
    }

    /// Opens on first use (on the calling worker thread) and takes a reference.
    func acquire() throws(AgentRTError) -> AgentInstance {
        lock.lock()
        defer { lock.unlock() }
        if removed { throw AgentRTError(.cancelled, "the session \(key.sessionID) of user \(userID) was removed") }
        if instance == nil {
            if let openError { throw openError }
            do {
                instance = try implementation.openSession(userID: userID, sessionID: key.sessionID)
            } catch {
                openError = error
                throw error
            }
        }
        refs += 1
        return instance!
    }

    /// Drops a reference; closes if removed and unused. Runs on a worker thread.
    func release() {
        let toClose: AgentInstance? = lock.withLock {
            refs -= 1
            return takeForCloseLocked()
        }
        if let toClose { implementation.closeSession(toClose) }
    }

    /// Marks removed; returns the instance to close now if no call uses it.
    func markRemoved() -> AgentInstance? {
        lock.withLock {
            removed = true
            return takeForCloseLocked()
        }
    }

    private func takeForCloseLocked() -> AgentInstance? {
        guard removed, refs == 0, !closed, let i = instance else { return nil }
        closed = true
        return i
    }
}

/// Runs a plugin's close hook on a worker thread (plugin code never runs on the caller's pool).
final class CloseInstanceItem: WorkItem, @unchecked Sendable {
    let slot: InstanceSlot
    let instance: AgentInstance
    let onClosed: (@Sendable () -> Void)?
    init(slot: InstanceSlot, instance: AgentInstance, onClosed: (@Sendable () -> Void)? = nil) {
        self.slot = slot
        self.instance = instance
        self.onClosed = onClosed
    }
    func runOnWorker() {
        slot.implementation.closeSession(instance)
        onClosed?()
    }
}
