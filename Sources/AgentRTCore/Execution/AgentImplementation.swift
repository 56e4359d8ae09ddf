import Synchronization

/// Per-user state an agent keeps for one (user, session), from its session-open hook.
public final class AgentInstance: @unchecked Sendable {
    /// The plugin's pointer (C plugins) or nil.
    public let raw: UnsafeMutableRawPointer?
    /// Set when the instance's state is gone (its worker process died): the session's next
    /// call opens a new instance instead of using it, and it is never closed.
    private let lostFlag = Atomic<Bool>(false)
    /// Any Swift value (Swift agents).
    public let value: (any Sendable)?
    /// Serialises calls of agents that are not thread-safe (a cancellable FIFO).
    let gate = InstanceGate()

    public init(raw: UnsafeMutableRawPointer? = nil, value: (any Sendable)? = nil) {
        self.raw = raw
        self.value = value
    }

    /// Marks the instance lost (its state died with its worker process).
    public func markLost() { lostFlag.store(true, ordering: .releasing) }
    /// Whether the instance was lost.
    public var isLost: Bool { lostFlag.load(ordering: .acquiring) }
}

/// How an agent is implemented. The runtime calls every method on a native worker thread.
public protocol AgentImplementation: Sendable {
    /// Whether the agent has per-session hooks (`openSession`/`closeSession`).
    var hasSessionHooks: Bool { get }
    /// Opens per-(user, session) state. Called once per session before its first call.
    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance
    /// The same, knowing the call that needs the instance (process isolation ties the open to
    /// the call, so a `session_open` that hangs past the call's deadline + grace is killed with
    /// it). The default calls `openSession(userID:sessionID:)`.
    func openSession(userID: String, sessionID: String, for call: AgentCall) throws(AgentRTError) -> AgentInstance
    /// Closes an instance; called exactly once per opened instance, after its last call.
    func closeSession(_ instance: AgentInstance)
    /// The instance shared by every user when there are no session hooks.
    func sharedInstance() -> AgentInstance
    /// Runs one call. Report through `call.setResult` / `call.setError`; return `.ok` on success.
    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus
    /// The call ignored cancellation for the grace period. Returns true when the implementation
    /// ended its code by force (process isolation kills the worker process running it): the call
    /// is then not abandoned, so it holds nothing, and `run` returns once the code is gone.
    /// In-process code cannot be stopped (false): the call becomes a zombie.
    func stop(_ call: AgentCall) -> Bool
    /// How calls of this implementation are isolated from the runtime (shown by `agentrt load`).
    var isolation: Isolation { get }
}

/// Where a plugin's code runs.
public enum Isolation: String, Sendable, Equatable {
    /// On the runtime's worker threads, in the runtime's process (fastest; trusted code).
    case inProcess = "in-process"
    /// In supervised worker processes: a crash ends the call as `crashed`, a hung call is
    /// killed at deadline + grace.
    case process
}

extension AgentImplementation {
    public var hasSessionHooks: Bool { false }
    public func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance { sharedInstance() }
    public func openSession(userID: String, sessionID: String, for call: AgentCall) throws(AgentRTError) -> AgentInstance {
        try openSession(userID: userID, sessionID: sessionID)
    }
    public func closeSession(_ instance: AgentInstance) {}
    public func sharedInstance() -> AgentInstance { AgentInstance() }
    public func stop(_ call: AgentCall) -> Bool { false }
    public var isolation: Isolation { .inProcess }
}

/// An agent written as a Swift closure (tests, hosts, benchmarks).
public struct ClosureAgent: AgentImplementation {
    let body: @Sendable (AgentCall, String) -> HostStatus
    let shared = AgentInstance()

    public init(_ body: @escaping @Sendable (AgentCall, String) -> HostStatus) { self.body = body }

    public func sharedInstance() -> AgentInstance { shared }
    public func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus { body(call, input) }
}

/// What a tool returns to the dispatcher.
public enum ToolOutput: Sendable, Equatable {
    /// The tool's result (JSON text).
    case result(String)
    /// The tool's own failure (text or JSON); reaches the caller as `isError: true`.
    case toolError(String)
    /// A runtime failure (bad arguments, timeout ...).
    case failure(AgentRTError)
}

/// How a tool is implemented. Called on the calling agent's worker thread (no hand-off).
public protocol ToolImplementation: Sendable {
    /// Runs the tool in `call` (a child call of the calling agent) with validated arguments.
    func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput
    /// Whether the dispatcher should validate arguments against the schema first (typed tools
    /// validate during conversion, more precisely).
    var validatesOwnArguments: Bool { get }
}

extension ToolImplementation {
    public var validatesOwnArguments: Bool { false }
}

/// A tool written as a Swift closure.
public struct ClosureTool: ToolImplementation {
    let body: @Sendable (AgentCall, JSONValue) -> ToolOutput
    public init(_ body: @escaping @Sendable (AgentCall, JSONValue) -> ToolOutput) { self.body = body }
    public func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput { body(call, arguments) }
}
