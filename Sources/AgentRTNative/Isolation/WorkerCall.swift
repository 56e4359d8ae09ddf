import AgentRTCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A call as a worker process sees it: what the runtime sent with it (identity, metadata, time
/// left) and the services behind its handle. It answers locally what needs no runtime (ids,
/// `is_cancelled` from the runtime's cancel message, remaining time, `set_result` and
/// `set_error`, which travel with the final `done`) and asks the runtime for the rest (`emit`,
/// `call_tool`: one round trip each; `heartbeat` and `log`: one-way).
final class WorkerCall: HostServices, @unchecked Sendable {
    let id: UInt64
    let userID: String, sessionID: String, runID: String
    let metadata: [String: String]
    /// CLOCK_MONOTONIC deadline in this process, or nil.
    let deadlineNanos: UInt64?
    let maxResultBytes: Int
    let server: WorkerServer

    let cancelled = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    private let lock = Lock()
    // Guarded by `lock`.
    private var arena: [UnsafeMutableRawBufferPointer] = []
    private var views: [String: UnsafeRawBufferPointer] = [:]
    private(set) var result: String?
    private(set) var resultRefusal: String?
    private(set) var errorMessage: String?

    init(id: UInt64, userID: String, sessionID: String, runID: String, metadata: [String: String],
         remainingNanos: Int64, maxResultBytes: Int, server: WorkerServer) {
        self.id = id
        self.userID = userID
        self.sessionID = sessionID
        self.runID = runID
        self.metadata = metadata
        self.deadlineNanos = remainingNanos < 0 ? nil : MonotonicTime.nanos() &+ UInt64(remainingNanos)
        self.maxResultBytes = maxResultBytes
        self.server = server
    }

    deinit { for b in arena { b.deallocate() } }

    /// The result, refusal and error message, read once the function returned.
    var outcome: (String?, String?, String?) { lock.withLock { (result, resultRefusal, errorMessage) } }

    private func cached(_ key: String, _ text: String) -> UnsafeRawBufferPointer {
        if let v = lock.withLock({ views[key] }) { return v }
        let v = retain(text)
        lock.withLock { views[key] = v }
        return v
    }

    func identityView(_ which: IdentityField) -> UnsafeRawBufferPointer {
        switch which {
        case .user: cached("user", userID)
        case .session: cached("session", sessionID)
        case .run: cached("run", runID)
        }
    }

    func metadataView(_ key: String) -> UnsafeRawBufferPointer? {
        guard let v = metadata[key] else { return nil }
        return cached("meta:" + key, v)
    }

    func checkCancelled() -> HostStatus {
        if finished.load(ordering: .acquiring) { return .staleHandle }
        return cancelled.load(ordering: .acquiring) ? .cancelled : .ok
    }

    func remainingMilliseconds() -> (Int64, HostStatus) {
        let ms: Int64 = deadlineNanos.map { d in
            let now = MonotonicTime.nanos()
            return now >= d ? 0 : Int64((d - now) / 1_000_000)
        } ?? Int64.max
        return (ms, finished.load(ordering: .acquiring) ? .staleHandle : .ok)
    }

    func heartbeat(details: String) -> HostStatus {
        if finished.load(ordering: .acquiring) { return .staleHandle }
        var w = WireWriter(.heartbeat, id: id)
        w.str(details)
        server.send(&w)
        return cancelled.load(ordering: .acquiring) ? .cancelled : .ok
    }

    func emit(type: String, dataJSON: UnsafeRawBufferPointer) -> HostStatus {
        if finished.load(ordering: .acquiring) { return .staleHandle }
        var w = WireWriter(.emit, id: id)
        w.str(type)
        w.raw(dataJSON)
        guard var reply = server.request(&w, reply: .emitReply, id: id) else { return .staleHandle }
        return HostStatus(rawValue: (try? reply.i32()) ?? HostStatus.staleHandle.rawValue) ?? .staleHandle
    }

    func callTool(_ name: String, argumentsJSON: String) -> (HostStatus, ToolCallResult?) {
        if finished.load(ordering: .acquiring) { return (.staleHandle, nil) }
        var w = WireWriter(.callTool, id: id)
        w.str(name)
        w.str(argumentsJSON)
        guard var reply = server.request(&w, reply: .toolReply, id: id) else { return (.staleHandle, nil) }
        do {
            let status = HostStatus(rawValue: try reply.i32()) ?? .agentError
            guard try reply.bool() else { return (status, nil) }
            let isError = try reply.bool()
            return (status, ToolCallResult(isError: isError, content: try reply.str()))
        } catch {
            return (.staleHandle, nil)
        }
    }

    func setResult(_ json: UnsafeRawBufferPointer) -> HostStatus {
        if finished.load(ordering: .acquiring) { return .staleHandle }
        let (text, refusal) = ResultCheck.check(json, maxBytes: maxResultBytes)
        return lock.withLock {
            if result != nil { return .alreadySet }
            if let refusal { resultRefusal = refusal.1; return refusal.0 }
            result = text
            return .ok
        }
    }

    func setError(_ message: String) -> HostStatus {
        if finished.load(ordering: .acquiring) { return .staleHandle }
        lock.withLock { errorMessage = String(message.prefix(64 * 1024)) }
        return .ok
    }

    func log(level: Int32, _ message: String) -> HostStatus {
        guard (0...4).contains(level) else { return .invalidArgument }
        var w = WireWriter(.log, id: id)
        w.i32(level)
        w.str(message)
        server.send(&w)
        return .ok
    }

    func retain(_ text: String) -> UnsafeRawBufferPointer {
        let buf = CString.copy(text)
        lock.withLock { arena.append(buf) }
        return UnsafeRawBufferPointer(rebasing: buf[0..<(buf.count - 1)])
    }

    var lateCounters: RuntimeCounters? { nil }
}
