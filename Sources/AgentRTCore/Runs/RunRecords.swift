import Synchronization

/// How one recent run of a user ended: what a face answers to "what became of run X" once the
/// run is no longer in flight (its events may long have been read, or never).
public struct RunRecord: Sendable {
    public let runID: String
    public let plugin: String
    public let agent: String
    public let sessionID: String
    /// False for a run refused before it started (unknown agent, overloaded, breaker open ...).
    public let started: Bool
    /// The result JSON, or the failure.
    public let outcome: Result<String, AgentRTError>
    public let duration: Duration
    /// Wall-clock milliseconds at which the outcome was decided.
    public let finishedAtMillis: Int64

    public init(runID: String, plugin: String, agent: String, sessionID: String, started: Bool,
                outcome: Result<String, AgentRTError>, duration: Duration, finishedAtMillis: Int64) {
        self.runID = runID
        self.plugin = plugin
        self.agent = agent
        self.sessionID = sessionID
        self.started = started
        self.outcome = outcome
        self.duration = duration
        self.finishedAtMillis = finishedAtMillis
    }

    public var isSuccess: Bool { if case .success = outcome { true } else { false } }
    public var error: AgentRTError? { if case .failure(let e) = outcome { e } else { nil } }
    public var resultJSON: String? { if case .success(let s) = outcome { s } else { nil } }
}

/// A small bounded record of recent run outcomes, per user.
///
/// Keyed by user (`ExactID`, so two users whose ids are canonically equivalent never share
/// records) and then by run id; each user keeps at most `perUser` records (oldest dropped first)
/// and at most `maxUsers` users are kept (the user whose newest record is oldest goes first), so
/// memory stays bounded however many users and runs pass through. A user's records go with the
/// user (`Runtime.removeUser`, idle expiry). Lookups are user-scoped: a run of another user is
/// never found.
public final class RunRecords: @unchecked Sendable {
    public let perUser: Int
    public let maxUsers: Int
    /// Off until a face that answers "what became of run X" turns it on (`agentrt serve`):
    /// hosts that read outcomes from `run`'s result do not pay for it on every call.
    private let enabled = Atomic<Bool>(false)

    /// Starts keeping records (idempotent).
    public func enable() { enabled.store(true, ordering: .releasing) }
    public var isEnabled: Bool { enabled.load(ordering: .acquiring) }
    private let lock = Lock()
    // Guarded by `lock`.
    private var users: [ExactID: UserRuns] = [:]
    private var tick: UInt64 = 0

    private struct UserRuns {
        var byRun: [ExactID: RunRecord] = [:]
        /// Run ids oldest first (a ring: `head` is the oldest live slot).
        var order: [ExactID] = []
        var head = 0
        var lastTick: UInt64 = 0

        mutating func insert(_ id: ExactID, _ r: RunRecord, cap: Int) {
            if byRun.updateValue(r, forKey: id) != nil { return }
            if order.count - head >= cap {
                byRun.removeValue(forKey: order[head])
                head += 1
                if head > 64 && head * 2 > order.count { order.removeFirst(head); head = 0 }
            }
            order.append(id)
        }
    }

    public init(perUser: Int = 256, maxUsers: Int = 100_000) {
        self.perUser = max(1, perUser)
        self.maxUsers = max(1, maxUsers)
    }

    /// Records `record` as `userID`'s (replacing an earlier record of the same run id).
    public func record(userID: String, _ record: RunRecord) {
        let user = ExactID(userID), run = ExactID(record.runID)
        lock.withLock {
            tick &+= 1
            if users[user] == nil && users.count >= maxUsers, let victim = users.min(by: { $0.value.lastTick < $1.value.lastTick })?.key {
                users.removeValue(forKey: victim)
            }
            users[user, default: UserRuns()].insert(run, record, cap: perUser)
            users[user]!.lastTick = tick
        }
    }

    /// `userID`'s record of `runID`; nil when that user has none (also when the run is another user's).
    public func record(runID: String, userID: String) -> RunRecord? {
        lock.withLock { users[ExactID(userID)]?.byRun[ExactID(runID)] }
    }

    /// Forgets every record of `userID`.
    public func drop(userID: String) {
        _ = lock.withLock { users.removeValue(forKey: ExactID(userID)) }
    }

    /// Records kept for `userID`.
    public func count(userID: String) -> Int { lock.withLock { users[ExactID(userID)]?.byRun.count ?? 0 } }

    /// Users with records.
    public var userCount: Int { lock.withLock { users.count } }
}

extension Runtime {
    /// The outcome of `userID`'s recent run `runID` (nil while it runs, when it is too old, or
    /// when it is another user's).
    public func runRecord(runID: String, userID: String) -> RunRecord? {
        runRecords.record(runID: runID, userID: userID)
    }

    /// Hook of `AgentCall.decideAndDeliver`: a root call's outcome, before its terminal event.
    func recordRunOutcome(_ call: AgentCall, _ outcome: Result<String, AgentRTError>, duration: Duration) {
        guard call.parent == nil, runRecords.isEnabled, call.plugin != "host" else { return }
        runRecords.record(userID: call.context.userID, RunRecord(
            runID: call.runID, plugin: call.plugin, agent: call.name, sessionID: call.context.sessionID, started: true,
            outcome: outcome, duration: duration, finishedAtMillis: MonotonicTime.wallMillis()))
    }

    /// Hook of `announced`: a run refused before it started.
    func recordRefusal(_ r: RunRequest, runID: String, session: String, error: AgentRTError, duration: Duration) {
        guard runRecords.isEnabled else { return }
        runRecords.record(userID: r.userID, RunRecord(
            runID: runID, plugin: r.plugin, agent: r.agent, sessionID: session, started: false,
            outcome: .failure(error), duration: duration, finishedAtMillis: MonotonicTime.wallMillis()))
    }
}
