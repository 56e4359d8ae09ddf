/// Tool calls from outside an agent (the CLI's `agentrt call`, hosts).
extension Runtime {
    /// Calls one tool for `userID` with the guards of a run: per-user and global admission, a
    /// deadline (`timeout`, default `Configuration.toolTimeout`) enforced by the watchdog, and the
    /// tool's own breaker. The tool runs on a worker thread under a root run `host.call`, whose
    /// stream shows the `tool_executing`/`tool_completed` pair; the calling thread waits (a tool
    /// that outlives the deadline is `timeout`, abandoned after the grace period).
    public func callTool(userID: String, sessionID: String? = nil, name: String, argumentsJSON: String,
                         timeout: Duration? = nil) -> Result<ToolCallResult, AgentRTError> {
        let request = HostToolRequest(name: name, argumentsJSON: argumentsJSON)
        var summary = JSONObjectWriter()
        summary.string("tool", name)
        let r = RunRequest(plugin: "host", agent: "call", userID: userID, sessionID: sessionID, input: summary.finish(),
                           timeout: timeout ?? configuration.toolTimeout)
        let call: AgentCall
        switch prepareBlocking(r, hostTool: request) {
        case .refused(let rr): return .failure(rr.error ?? AgentRTError(.internal, "the tool call was refused"))
        case .ready(let c): call = c
        }
        start(call)
        let rr = call.waitBlocking()
        switch rr.outcome {
        case .success:
            if let result = call.lock.withLock({ request.result }) { return .success(result) }
            return .failure(AgentRTError(.internal, "tool \(name) returned no result", runID: rr.runID))
        case .failure(let e):
            // A dispatcher refusal already carries its code (see AgentCall's outcome rules).
            return .failure(e)
        }
    }

    func lastToolError(in root: AgentCall) -> String? {
        guard case .events(let es, _) = root.stream.read(from: max(1, root.stream.nextSequence &- 4), max: 8) else { return nil }
        for e in es.reversed() where e.kind == .toolCompleted && e.runID.utf8.elementsEqual(root.runID.utf8) {
            guard case .object(let d) = e.data, case .object(let err)? = d["error"] else { return nil }
            return err["message"]?.stringValue
        }
        return nil
    }
}

/// The root "agent" of a host tool call: runs the tool through the dispatcher on a worker.
struct HostToolCallAgent: AgentImplementation {
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        guard let req = call.hostTool else { return .internal }
        let (status, result) = call.callTool(req.name, argumentsJSON: req.argumentsJSON)
        let lastError = result == nil ? call.runtime.lastToolError(in: call) : nil
        call.lock.withLock { req.result = result }
        if result != nil { return call.setResult("null") == .ok ? .ok : .internal }
        _ = call.setError(lastError ?? "tool call failed with status \(status.name)")
        return status == .ok ? .internal : status
    }
}
