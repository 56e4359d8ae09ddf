import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// A session instance that lives in one worker process.
struct RemoteInstance: Sendable {
    let slot: Int
    let generation: UInt64
    let token: UInt64
}

/// An agent of an isolated plugin: every call runs in one of the plugin's worker processes,
/// behind the same guards as in-process code. The runtime thread that runs the call holds the
/// worker and serves its host-service requests; a kill replaces abandonment.
struct IsolatedAgent: AgentImplementation {
    let pool: ProcessWorkerPool
    let index: Int
    let descriptor: AgentDescriptor
    let shared = AgentInstance()

    var hasSessionHooks: Bool { descriptor.hasSessionHooks }
    var isolation: Isolation { .process }
    func sharedInstance() -> AgentInstance { shared }

    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        try open(userID: userID, sessionID: sessionID, for: nil)
    }

    func openSession(userID: String, sessionID: String, for call: AgentCall) throws(AgentRTError) -> AgentInstance {
        ActiveConversations.enter(call)
        defer { ActiveConversations.leave(call) }
        return try open(userID: userID, sessionID: sessionID, for: call)
    }

    private func open(userID: String, sessionID: String, for call: AgentCall?) throws(AgentRTError) -> AgentInstance {
        let w: WorkerProcess
        do { w = try pool.acquire(context: call?.context) } catch { throw Self.error(error, descriptor) }
        let conv = WorkerConversation(worker: w, pool: pool)
        if let call { ActiveConversations.push(conv, for: call) }
        defer { if let call { ActiveConversations.pop(conv, for: call) } }
        switch conv.openSession(index: index, userID: userID, sessionID: sessionID) {
        case .failure(let e):
            if w.killedByRuntime.load(ordering: .acquiring), let cause = call?.context.cancellationCause {
                throw AgentRTError(cause.errorCode,
                    "\(descriptor.qualifiedName): \(cause.explanation); its session_open did not return for the grace period, so its worker process was killed")
            }
            throw AgentRTError(.crashed, "\(descriptor.qualifiedName) session_open crashed: \(e.how)")
        case .success(let (status, token)):
            pool.release(w)
            guard status == .ok else {
                throw AgentRTError(.agentError, "\(descriptor.qualifiedName) session_open returned \(status.name)")
            }
            let instance = AgentInstance(value: RemoteInstance(slot: w.slot, generation: w.generation, token: token))
            pool.sessionOpened(.init(instance: instance, userID: userID, sessionID: sessionID, agent: descriptor.name), slot: w.slot)
            return instance
        }
    }

    func closeSession(_ instance: AgentInstance) {
        guard !instance.isLost, let remote = instance.value as? RemoteInstance else { return }
        pool.sessionClosed(instance, slot: remote.slot)
        guard let w = try? pool.acquire(slot: remote.slot, generation: remote.generation, context: nil) else { return }
        let conv = WorkerConversation(worker: w, pool: pool)
        conv.closeSession(index: index, token: remote.token)
        pool.release(w)
    }

    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        ActiveConversations.enter(call)
        defer { ActiveConversations.leave(call) }
        let remote = instance.value as? RemoteInstance
        let w: WorkerProcess
        do {
            w = try pool.acquire(slot: remote?.slot, generation: remote?.generation, context: call.context)
        } catch {
            switch error {
            case .cancelled: return .cancelled   // the call's cancellation cause decides the outcome
            case .lost:
                instance.markLost()
                call.reportProcessEnded("its session was lost: the worker process that held it had died")
            case .disabled(let why): call.reportProcessEnded("plugin \(pool.pluginName) is disabled: \(why)")
            case .shutDown: call.reportProcessEnded("plugin \(pool.pluginName)'s workers were shut down")
            }
            return .agentError
        }
        let conv = WorkerConversation(worker: w, pool: pool)
        ActiveConversations.push(conv, for: call)
        defer { ActiveConversations.pop(conv, for: call) }
        switch conv.runAgent(call, index: index, token: remote?.token ?? 0, input: input) {
        case .success(let status):
            pool.release(w)
            return status
        case .failure(let e):
            call.reportProcessEnded(e.how)
            return .agentError
        }
    }

    /// Deadline + grace passed: kill the worker(s) the call holds instead of abandoning it
    /// (true while the call is in isolated code or waiting for a worker, which then sees its
    /// cancellation and returns; false when it is elsewhere, e.g. queued in-process).
    func stop(_ call: AgentCall) -> Bool {
        ActiveConversations.killAll(for: call)
    }

    static func error(_ e: ProcessWorkerPool.AcquireFailure, _ d: AgentDescriptor) -> AgentRTError {
        switch e {
        case .cancelled(let cause): AgentRTError(cause.errorCode, "\(d.qualifiedName): \(cause.explanation)")
        case .disabled(let why): AgentRTError(.crashed, "plugin \(d.plugin) is disabled: \(why)")
        case .lost: AgentRTError(.crashed, "\(d.qualifiedName): its worker process had died")
        case .shutDown: AgentRTError(.cancelled, "plugin \(d.plugin)'s workers were shut down")
        }
    }
}

/// A tool of an isolated plugin (JSON or typed): it runs in a worker — its caller's own worker
/// when the caller is an agent of the same plugin (re-entered while that agent waits in
/// `call_tool`), else any free worker of the plugin.
struct IsolatedTool: ToolImplementation {
    let pool: ProcessWorkerPool
    let index: Int
    let descriptor: ToolDescriptor

    var validatesOwnArguments: Bool { if case .native = descriptor.kind { true } else { false } }

    func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput {
        let root = ActiveConversations.root(of: call)
        if let conv = ActiveConversations.existing(for: root, in: pool) {
            return finish(conv.invokeTool(call, index: index, argumentsJSON: argumentsJSON))
        }
        let w: WorkerProcess
        do { w = try pool.acquire(context: call.context) } catch {
            let e = IsolatedAgent.error(error, AgentDescriptor(plugin: descriptor.plugin, name: descriptor.name))
            return .failure(AgentRTError(e.code, "tool \(descriptor.qualifiedName): \(e.message)"))
        }
        let conv = WorkerConversation(worker: w, pool: pool)
        ActiveConversations.push(conv, for: root)
        defer { ActiveConversations.pop(conv, for: root) }
        let out = conv.invokeTool(call, index: index, argumentsJSON: argumentsJSON)
        if case .success = out { pool.release(w) }
        return finish(out)
    }

    private func finish(_ r: Result<ToolOutput, WorkerEnded>) -> ToolOutput {
        switch r {
        case .success(let o): return o
        case .failure(let e): return .failure(AgentRTError(.crashed, "tool \(descriptor.qualifiedName) crashed: \(e.how)"))
        }
    }
}
