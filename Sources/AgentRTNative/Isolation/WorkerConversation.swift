import AgentRTCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The runtime's side of one worker while a call tree uses it: the runtime thread that holds the
/// worker sends a request and then serves the worker's host-service requests (`emit`,
/// `call_tool`, heartbeats, log lines) on that same thread, through the same `AgentCall`
/// services an in-process plugin reaches, until the reply arrives. A tool call made from inside
/// the worker runs here too, so a tool of the same plugin re-enters the same worker.
final class WorkerConversation: @unchecked Sendable {
    let worker: WorkerProcess
    let pool: ProcessWorkerPool
    /// The runtime thread holding the worker: the only one that reads its channel.
    let owner = pthread_self()
    /// Calls of this conversation by wire id (the root and any nested tool calls in this worker).
    private var calls: [UInt64: AgentCall] = [:]

    init(worker: WorkerProcess, pool: ProcessWorkerPool) {
        self.worker = worker
        self.pool = pool
    }

    var isOwnedByCurrentThread: Bool { pthread_equal(owner, pthread_self()) != 0 }

    /// How a request ended: its reply, or the worker's death (how it ended).
    enum Reply { case reply(WireReader), died(String) }

    /// Sends `w` on behalf of `call` and serves the worker until the reply `kind` for `id`.
    func exchange(_ w: inout WireWriter, id: UInt64, call: AgentCall?, until kind: WireKind) -> Reply {
        if let call {
            calls[id] = call
            // Cancellation reaches the worker's `is_cancelled` through the control channel.
            call.context.onCancel { [worker] _ in worker.sendCancel(id) }
        }
        defer { calls.removeValue(forKey: id) }
        guard worker.data.send(&w) else { return .died(pool.workerDied(worker)) }
        while true {
            guard let f = worker.data.receive() else { return .died(pool.workerDied(worker)) }
            if f.kind == kind && f.id == id { return .reply(f) }
            serve(f)
        }
    }

    /// One host-service request from plugin code in the worker.
    private func serve(_ frame: WireReader) {
        var r = frame
        guard let call = calls[frame.id] else { return }   // a call that already ended: ignored
        switch frame.kind {
        case .emit:
            let type = (try? r.str()) ?? ""
            let data = (try? r.bytes()) ?? []
            let status = data.withUnsafeBytes { call.emit(type: type, dataJSON: $0) }
            var w = WireWriter(.emitReply, id: frame.id)
            w.i32(status.rawValue)
            worker.data.send(&w)
        case .callTool:
            let name = (try? r.str()) ?? "", args = (try? r.str()) ?? "{}"
            let (status, result) = call.callTool(name, argumentsJSON: args)
            var w = WireWriter(.toolReply, id: frame.id)
            w.i32(status.rawValue)
            w.bool(result != nil)
            if let result { w.bool(result.isError); w.str(result.content) }
            worker.data.send(&w)
        case .heartbeat:
            _ = call.heartbeat(details: (try? r.str()) ?? "")
        case .log:
            let level = (try? r.i32()) ?? 2
            _ = call.log(level: level, (try? r.str()) ?? "")
        default:
            break
        }
    }

    // MARK: requests

    static func identity(_ w: inout WireWriter, _ call: AgentCall) {
        w.str(call.context.userID); w.str(call.context.sessionID); w.str(call.context.runID)
        w.strings(call.context.metadata)
        w.i64(call.context.remainingNanos().map { Int64($0.asInt64) } ?? -1)
    }

    /// Runs agent `index` for `call`; the agent's status, or the worker's death.
    func runAgent(_ call: AgentCall, index: Int, token: UInt64, input: String) -> Result<HostStatus, WorkerEnded> {
        let id = pool.nextID()
        var w = WireWriter(.run, id: id)
        w.u32(UInt32(index)); w.u64(token)
        Self.identity(&w, call)
        w.str(input)
        switch exchange(&w, id: id, call: call, until: .done) {
        case .died(let how): return .failure(WorkerEnded(how: how))
        case .reply(var r):
            let status = (try? r.i32()) ?? HostStatus.agentError.rawValue
            let result = (try? r.optionalStr()) ?? nil
            let refusal = (try? r.optionalStr()) ?? nil
            let message = (try? r.optionalStr()) ?? nil
            if let message { _ = call.setError(message) }
            if let result {
                _ = call.setResult(result)   // checked again here: the worker is not trusted
            } else if let refusal {
                call.noteResultRefusal(refusal)
            }
            return .success(HostStatus(rawValue: status) ?? .agentError)
        }
    }

    /// Runs tool `index` for the tool call `call`.
    func invokeTool(_ call: AgentCall, index: Int, argumentsJSON: String) -> Result<ToolOutput, WorkerEnded> {
        let id = pool.nextID()
        var w = WireWriter(.invokeTool, id: id)
        w.u32(UInt32(index))
        Self.identity(&w, call)
        w.str(argumentsJSON)
        switch exchange(&w, id: id, call: call, until: .toolDone) {
        case .died(let how): return .failure(WorkerEnded(how: how))
        case .reply(var r):
            let kind = (try? r.u8()) ?? 2
            let code = (try? r.str()) ?? ""
            let text = (try? r.str()) ?? ""
            switch kind {
            case 0:
                guard JSONValue.isValid(text) else {
                    return .success(.failure(AgentRTError(.invalidOutput, "tool \(call.plugin).\(call.name) returned invalid JSON")))
                }
                return .success(.result(text))
            case 1: return .success(.toolError(text))
            default: return .success(.failure(AgentRTError(ErrorCode(rawValue: code) ?? .agentError, text)))
            }
        }
    }

    /// Opens a session instance in this worker; its token.
    func openSession(index: Int, userID: String, sessionID: String) -> Result<(HostStatus, UInt64), WorkerEnded> {
        let id = pool.nextID()
        var w = WireWriter(.openSession, id: id)
        w.u32(UInt32(index)); w.str(userID); w.str(sessionID)
        switch exchange(&w, id: id, call: nil, until: .opened) {
        case .died(let how): return .failure(WorkerEnded(how: how))
        case .reply(var r):
            let status = HostStatus(rawValue: (try? r.i32()) ?? -1) ?? .agentError
            return .success((status, (try? r.u64()) ?? 0))
        }
    }

    func closeSession(index: Int, token: UInt64) {
        let id = pool.nextID()
        var w = WireWriter(.closeSession, id: id)
        w.u32(UInt32(index)); w.u64(token)
        _ = exchange(&w, id: id, call: nil, until: .closed)
    }
}

/// A worker process ended during a request; `how` says how.
struct WorkerEnded: Error { let how: String }

/// Which workers each running call tree is using, so a tool call re-enters its caller's worker
/// and `stop` (deadline + grace passed) can kill every worker the tree holds.
enum ActiveConversations {
    private struct Tree {
        var holds = 0
        var conversations: [WorkerConversation] = []
    }
    private static let table = Locked<[ObjectIdentifier: Tree]>([:])

    static func root(of call: AgentCall) -> AgentCall {
        var c = call
        while let p = c.parent { c = p }
        return c
    }

    /// `root`'s tree is about to use (or wait for) workers: from now until `leave`, `stop` can
    /// end it by killing them (a call still waiting for a worker sees its cancellation).
    static func enter(_ root: AgentCall) {
        table.withLock { $0[ObjectIdentifier(root), default: Tree()].holds += 1 }
    }

    static func leave(_ root: AgentCall) {
        table.withLock { t in
            let k = ObjectIdentifier(root)
            t[k]?.holds -= 1
            if let tree = t[k], tree.holds <= 0, tree.conversations.isEmpty { t.removeValue(forKey: k) }
        }
    }

    static func push(_ conv: WorkerConversation, for root: AgentCall) {
        table.withLock { $0[ObjectIdentifier(root), default: Tree()].conversations.append(conv) }
    }

    static func pop(_ conv: WorkerConversation, for root: AgentCall) {
        table.withLock { t in
            let k = ObjectIdentifier(root)
            t[k]?.conversations.removeAll { $0 === conv }
            if let tree = t[k], tree.holds <= 0, tree.conversations.isEmpty { t.removeValue(forKey: k) }
        }
    }

    /// The conversation of `root`'s tree with a worker of `pool` held by the calling thread, if
    /// any (another thread of the same tree must not read that worker's channel: it gets a
    /// worker of its own).
    static func existing(for root: AgentCall, in pool: ProcessWorkerPool) -> WorkerConversation? {
        table.withLock { $0[ObjectIdentifier(root)]?.conversations.last { $0.pool === pool && $0.isOwnedByCurrentThread } }
    }

    /// Kills every worker `root`'s tree holds; whether the tree is in isolated code at all (if
    /// not, its code runs in-process and cannot be stopped).
    static func killAll(for root: AgentCall) -> Bool {
        let tree = table.withLock { $0[ObjectIdentifier(root)] }
        for c in tree?.conversations ?? [] { c.worker.kill() }
        return tree != nil
    }
}
