public import AgentRTCore

/// What a call handle gives a plugin through the host table (`agentrt_host`). The host table's C
/// functions check every argument and then ask the call behind the handle: in the runtime an
/// `AgentCall`; in a worker process (process isolation) a `WorkerCall` that answers locally
/// what it can and asks the runtime for the rest. Both go through the same C glue, so a plugin
/// sees the same statuses for the same misuse in either mode.
protocol HostServices: AnyObject, Sendable {
    /// A borrowed view of the call's user, session or run id, valid until the call's function returns.
    func identityView(_ which: IdentityField) -> UnsafeRawBufferPointer
    /// A borrowed view of a metadata value, or nil when the key is absent.
    func metadataView(_ key: String) -> UnsafeRawBufferPointer?
    func checkCancelled() -> HostStatus
    /// Milliseconds left before the deadline (`Int64.max` without one), and `.ok` or `.staleHandle`.
    func remainingMilliseconds() -> (Int64, HostStatus)
    func heartbeat(details: String) -> HostStatus
    func emit(type: String, dataJSON: UnsafeRawBufferPointer) -> HostStatus
    func callTool(_ name: String, argumentsJSON: String) -> (HostStatus, ToolCallResult?)
    func setResult(_ json: UnsafeRawBufferPointer) -> HostStatus
    func setError(_ message: String) -> HostStatus
    func log(level: Int32, _ message: String) -> HostStatus
    /// Copies `text` into memory owned by the call, freed after its function returned.
    func retain(_ text: String) -> UnsafeRawBufferPointer
    /// Where late activity on the handle, after the call ended, is counted (nil: nowhere).
    var lateCounters: RuntimeCounters? { get }
}

enum IdentityField { case user, session, run }

extension AgentCall: HostServices {
    func identityView(_ which: IdentityField) -> UnsafeRawBufferPointer {
        switch which {
        case .user: cachedView("user") { context.userID }
        case .session: cachedView("session") { context.sessionID }
        case .run: cachedView("run") { context.runID }
        }
    }

    func metadataView(_ key: String) -> UnsafeRawBufferPointer? {
        guard let v = context.metadata[key] else { return nil }
        return cachedView("meta:" + key) { v }
    }

    func remainingMilliseconds() -> (Int64, HostStatus) {
        (context.remainingNanos().map { Int64($0 / 1_000_000) } ?? Int64.max, isRunning ? .ok : .staleHandle)
    }

    var lateCounters: RuntimeCounters? { counters }
}
