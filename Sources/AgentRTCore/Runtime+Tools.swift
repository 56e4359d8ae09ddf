/// Tool calls from outside an agent (the CLI's `agentrt call`, hosts).
extension Runtime {
    /// Calls one tool for `userID` through the dispatcher, on the calling thread, with the same
    /// guards and events as a call from an agent (under a root run named `host.call`).
    public func callTool(userID: String, sessionID: String? = nil, name: String, argumentsJSON: String,
                         timeout: Duration? = nil) -> Result<ToolCallResult, AgentRTError> {
        let ctx: UserExecutionContext
        do {
            ctx = try UserExecutionContext.make(userID: userID, sessionID: sessionID, timeout: timeout ?? configuration.toolTimeout)
        } catch { return .failure(error) }
        let root = AgentCall(runtime: self, context: ctx, plugin: "host", name: "call", parent: nil,
                             stream: events.stream(for: userID), input: argumentsJSON, heartbeatTimeout: .zero,
                             grace: configuration.grace)
        defer {
            root.lock.withLock { root.terminal = true }
            root.phase.store(AgentCall.Phase.finished.rawValue, ordering: .releasing)
            ctx.end()
        }
        let (status, result) = root.callTool(name, argumentsJSON: argumentsJSON)
        if let result { return .success(result) }
        let lastError = lastToolError(in: root) ?? "tool call failed with status \(status.name)"
        let code = ErrorCode.allCases.first { $0.status == status } ?? .internal
        return .failure(AgentRTError(code, lastError, runID: ctx.runID))
    }

    private func lastToolError(in root: AgentCall) -> String? {
        guard case .events(let es, _) = root.stream.read(from: max(1, root.stream.nextSequence &- 1)),
              let e = es.last, e.kind == .toolCompleted,
              case .object(let d) = e.data, case .object(let err)? = d["error"] else { return nil }
        return err["message"]?.stringValue
    }
}
