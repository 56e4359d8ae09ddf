import AgentRTCore

/// Lets the owner of a service take part in its agent runs: `agentrt serve` counts the runs of
/// its MCP sessions with its own (so its drain waits for them, then cancels them) and refuses
/// new ones while it shuts down.
public struct MCPRunObserver: Sendable {
    /// Called before a run starts; false refuses it (the call is a tool error saying why).
    public var admit: @Sendable (_ runID: String, _ userID: String) -> Bool
    /// Called once a run admitted by `admit` ended.
    public var ended: @Sendable (_ runID: String) -> Void
    /// The text of the tool error when `admit` refused.
    public var refusal: String

    public init(admit: @escaping @Sendable (_ runID: String, _ userID: String) -> Bool,
                ended: @escaping @Sendable (_ runID: String) -> Void,
                refusal: String = "draining: the server is shutting down and starts no new run") {
        self.admit = admit
        self.ended = ended
        self.refusal = refusal
    }
}

/// The agent runs one service has in flight, so whoever ends the service's connection (an MCP
/// session over HTTP that is deleted, expires or is closed at shutdown) can cancel them: their
/// results could no longer reach anyone.
final class MCPRunTracker: Sendable {
    let observer: MCPRunObserver?
    /// Run id → user id of the runs in flight (run ids are ours: `mcp_` and hex, plain ASCII).
    private let inFlight = Locked<[String: String]>([:])

    init(observer: MCPRunObserver?) { self.observer = observer }

    /// Records a run about to start; false when the observer refused it.
    func begin(_ runID: String, userID: String) -> Bool {
        if let observer, !observer.admit(runID, userID) { return false }
        inFlight.withLock { $0[runID] = userID }
        return true
    }

    func end(_ runID: String) {
        _ = inFlight.withLock { $0.removeValue(forKey: runID) }
        observer?.ended(runID)
    }

    var runIDs: [String] { inFlight.withLock { Array($0.keys) } }

    /// Cancels every run in flight (cooperatively, then abandonment); how many were asked.
    @discardableResult
    func cancelAll(runtime: Runtime, reason: String) -> Int {
        let runs = inFlight.withLock { $0 }
        var n = 0
        for (runID, userID) in runs where runtime.cancel(runID: runID, userID: userID, reason: reason) { n += 1 }
        return n
    }
}
