import AgentRTCore
import MCP

/// One agent run for an MCP client: the agent as a long-running tool.
///
/// The run goes through every guard for the connection's user. While it runs, the user's
/// events of this run (its own and those of the tools it calls: `runID` or `parentRunID` is
/// the run's id) are forwarded as `notifications/progress` when the client sent a
/// `progressToken`. A `notifications/cancelled` makes the SDK cancel the handler's task; that
/// cancels the run in the runtime (cooperatively, then abandonment after the grace period)
/// and, per the spec, no response is sent — the client is told in a log notification instead.
struct MCPAgentRun: Sendable {
    let runtime: Runtime
    let user: MCPUser
    /// Sends notifications to the client (progress, the cancellation log line).
    let notifier: MCPNotifier
    /// The runs in flight (cancelled when the connection closes; seen by the service's observer).
    let runs: MCPRunTracker

    /// Event kinds a client sees as progress.
    static let forwardedKinds: Set<Event.Kind> = [.agentThinking, .toolExecuting, .toolCompleted, .custom]

    func run(_ agent: AgentDescriptor, arguments: [String: Value]?, progressToken: ProgressToken?) async throws
        -> CallTool.Result {
        let runID = Self.newRunID()
        let mcpName = MCPToolName.name(of: agent)
        guard runs.begin(runID, userID: user.userID) else {
            return MCPStructuredResult.error(runs.observer?.refusal ?? "the run was refused")
        }
        defer { runs.end(runID) }
        // Subscribed before the run starts, so its first event is not missed.
        var subscription: EventSubscription?
        var forwarder: Task<Void, Never>?
        if let token = progressToken {
            let sub = runtime.events.subscribe(userID: user.userID)
            subscription = sub
            forwarder = Task { await forward(sub, runID: runID, token: token) }
        }
        let request = RunRequest(plugin: agent.plugin, agent: agent.name, userID: user.userID,
                                 sessionID: user.sessionID, input: MCPValues.argumentsJSON(arguments), runID: runID)
        let runtime = runtime, userID = user.userID
        let result = await withTaskCancellationHandler {
            await runtime.run(request)
        } onCancel: {
            _ = runtime.cancel(runID: runID, userID: userID, reason: "cancelled by the MCP client (notifications/cancelled)")
        }
        // Every event of the run was published before its outcome: the forwarder drains them
        // and ends (a cancelled subscription still yields what the stream holds).
        subscription?.cancel()
        await forwarder?.value
        if Task.isCancelled {
            var data: [String: Value] = ["event": "run_cancelled", "tool": .string(mcpName), "run_id": .string(runID)]
            data["status"] = .string(result.error?.code.rawValue ?? "completed")
            await notifier.log(level: .info, data: .object(data))
            throw CancellationError()
        }
        var answer: CallTool.Result
        switch result.outcome {
        case .success(let json):
            answer = MCPStructuredResult.success(resultJSON: json, schema: nil)
        case .failure(let e) where e.code == .agentError:
            answer = MCPStructuredResult.error("agent \(agent.qualifiedName) failed: \(e.message)")
        case .failure(let e):
            answer = MCPStructuredResult.error(MCPStructuredResult.errorText(e))
        }
        // The run id, so the client can find the run again (its record, its events).
        answer._meta = Metadata(additionalFields: [AgentRTMCPService.runIDMetaKey: .string(runID)])
        return answer
    }

    /// Sends each event of the run as progress (`progress` counts the events, `message` is the
    /// event's JSON line, as `agentrt run --format jsonl` prints it).
    private func forward(_ subscription: EventSubscription, runID: String, token: ProgressToken) async {
        var count = 0
        for await e in subscription {
            guard Self.forwardedKinds.contains(e.kind), Self.belongs(e, to: runID) else { continue }
            count += 1
            await notifier.progress(token: token, progress: Double(count), message: e.json)
        }
    }

    static func belongs(_ e: Event, to runID: String) -> Bool {
        if e.runID.utf8.elementsEqual(runID.utf8) { return true }
        if let p = e.parentRunID, p.utf8.elementsEqual(runID.utf8) { return true }
        return false
    }

    /// `mcp_` and 32 random hex digits: unique, and says where the run came from.
    static func newRunID() -> String {
        let hex = (0..<2).map { _ in
            let s = String(UInt64.random(in: .min ... .max), radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return "mcp_" + hex.joined()
    }
}
