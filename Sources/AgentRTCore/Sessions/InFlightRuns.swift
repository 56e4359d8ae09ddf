/// The runs one user has in flight, guarded by the user's lock.
///
/// Every call enters and leaves this table, so both are O(1) with no hashing: each call keeps
/// its own index (`AgentCall.inFlightIndex`, also guarded by the user's lock) and leaving swaps
/// the last call into its place. Finding a run by id scans the table; that is for cancellation
/// and lookups by id, which are rare next to calls, and a user has at most their per-user limit
/// of calls admitted (abandoned calls included: they keep their permit).
struct InFlightRuns {
    private(set) var calls: ContiguousArray<AgentCall> = []

    var count: Int { calls.count }
    var isEmpty: Bool { calls.isEmpty }
    /// The run ids, in no particular order.
    var runIDs: [String] { calls.map(\.runID) }

    mutating func insert(_ call: AgentCall) {
        call.inFlightIndex = calls.count
        calls.append(call)
    }

    /// Removes `call` if it is in the table (by identity: two runs may share an id).
    mutating func remove(_ call: AgentCall) {
        let i = call.inFlightIndex
        guard i >= 0, i < calls.count, calls[i] === call else { return }
        call.inFlightIndex = -1
        let last = calls.removeLast()
        if i < calls.count {
            calls[i] = last
            last.inFlightIndex = i
        }
    }

    /// The in-flight run with exactly this id (compared as bytes), if any. When a caller-given
    /// id is held twice (a retry while an abandoned call still runs), the live one that is not
    /// yet cancelled comes first, then any still running, then the rest.
    func find(_ runID: String) -> AgentCall? {
        let key = ExactID(runID)
        var running: AgentCall? = nil, any: AgentCall? = nil
        for c in calls where ExactID(c.runID) == key {
            if c.isRunning && !c.context.isCancelled { return c }
            if c.isRunning, running == nil { running = c }
            if any == nil { any = c }
        }
        return running ?? any
    }
}
