/// The stable codes every failure carries (GUARDS.md). The same strings appear in events, the CLI's
/// JSON and exit status, the C API and the HTTP API.
public enum ErrorCode: String, Sendable, CaseIterable, Codable {
    case invalidContext = "invalid_context"
    case overloaded
    case circuitOpen = "circuit_open"
    case quarantined
    case timeout
    case noHeartbeat = "no_heartbeat"
    case cancelled
    case agentError = "agent_error"
    case invalidOutput = "invalid_output"
    case crashed
    case notFound = "not_found"
    case `internal`
    /// Tool arguments that do not match the tool's schema (a dispatcher status, EVENTS.md).
    case badArguments = "bad_arguments"

    /// The matching `agentrt_status` value of `plugin.h`.
    public var status: HostStatus {
        switch self {
        case .invalidContext: .invalidContext
        case .overloaded: .overloaded
        case .circuitOpen: .circuitOpen
        case .quarantined: .quarantined
        case .timeout: .timeout
        case .noHeartbeat: .noHeartbeat
        case .cancelled: .cancelled
        case .agentError: .agentError
        case .invalidOutput: .invalidOutput
        case .crashed: .crashed
        case .notFound: .notFound
        case .internal: .internal
        case .badArguments: .badArguments
        }
    }

    /// Process exit status the CLI uses for this code (stable; 0 is success, 1 usage/load).
    public var exitStatus: Int32 {
        switch self {
        case .invalidContext: 10
        case .overloaded: 11
        case .circuitOpen: 12
        case .quarantined: 13
        case .timeout: 14
        case .noHeartbeat: 15
        case .cancelled: 16
        case .agentError: 17
        case .invalidOutput: 18
        case .crashed: 19
        case .notFound: 20
        case .internal: 21
        case .badArguments: 22
        }
    }
}

/// Mirror of `agentrt_status` in `include/agentrt/plugin.h`; the raw values are the ABI values
/// (a test checks they match the header).
public enum HostStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    case invalidContext = 1
    case overloaded = 2
    case circuitOpen = 3
    case quarantined = 4
    case timeout = 5
    case noHeartbeat = 6
    case cancelled = 7
    case agentError = 8
    case invalidOutput = 9
    case crashed = 10
    case notFound = 11
    case `internal` = 12
    case invalidArgument = 13
    case invalidHandle = 14
    case staleHandle = 15
    case invalidJSON = 16
    case reservedType = 17
    case badArguments = 18
    case unsupported = 19
    case tooLarge = 20
    case alreadySet = 21
    case loadFailed = 22
    case typeMismatch = 23

    /// The stable snake_case name, identical to `agentrt_status_name`.
    public var name: String {
        switch self {
        case .ok: "ok"
        case .invalidContext: "invalid_context"
        case .overloaded: "overloaded"
        case .circuitOpen: "circuit_open"
        case .quarantined: "quarantined"
        case .timeout: "timeout"
        case .noHeartbeat: "no_heartbeat"
        case .cancelled: "cancelled"
        case .agentError: "agent_error"
        case .invalidOutput: "invalid_output"
        case .crashed: "crashed"
        case .notFound: "not_found"
        case .internal: "internal"
        case .invalidArgument: "invalid_argument"
        case .invalidHandle: "invalid_handle"
        case .staleHandle: "stale_handle"
        case .invalidJSON: "invalid_json"
        case .reservedType: "reserved_type"
        case .badArguments: "bad_arguments"
        case .unsupported: "unsupported"
        case .tooLarge: "too_large"
        case .alreadySet: "already_set"
        case .loadFailed: "load_failed"
        case .typeMismatch: "type_mismatch"
        }
    }
}

/// A failed call: a stable code, a message a person can act on, and the run it belongs to.
public struct AgentRTError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String
    public var runID: String?
    /// For `circuit_open`: milliseconds since the epoch after which a retry may be admitted.
    public var retryAtMillis: Int64?

    public init(_ code: ErrorCode, _ message: String, runID: String? = nil, retryAtMillis: Int64? = nil) {
        self.code = code
        self.message = message
        self.runID = runID
        self.retryAtMillis = retryAtMillis
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
