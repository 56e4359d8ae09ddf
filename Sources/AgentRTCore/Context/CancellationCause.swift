/// Why a context was cancelled. The first cause wins; later cancels are no-ops.
public enum CancellationCause: Sendable, Equatable {
    /// The caller (or host) cancelled, with a reason.
    case caller(reason: String)
    /// The deadline passed.
    case deadline
    /// The agent stayed silent longer than its heartbeat timeout.
    case noHeartbeat(lastDetails: String)
    /// The runtime is shutting down or its sessions were cleaned up.
    case shutdown(reason: String)

    /// The error code a call cancelled for this cause ends with.
    public var errorCode: ErrorCode {
        switch self {
        case .caller, .shutdown: .cancelled
        case .deadline: .timeout
        case .noHeartbeat: .noHeartbeat
        }
    }

    /// A sentence for the error message.
    public var explanation: String {
        switch self {
        case .caller(let r): "cancelled by the caller: \(r)"
        case .deadline: "the deadline passed"
        case .noHeartbeat(let d): d.isEmpty ? "no heartbeat within the heartbeat timeout (none received)"
            : "no heartbeat within the heartbeat timeout; last heartbeat: \(d)"
        case .shutdown(let r): "cancelled by the runtime: \(r)"
        }
    }
}
