/// One event of a user's stream (EVENTS.md). Stored unserialised; JSON is built only when a
/// subscriber reads it, so emitting with nobody watching stays cheap.
public struct Event: Sendable {
    /// The event type names of EVENTS.md.
    public enum Kind: String, Sendable, CaseIterable {
        case agentStarted = "agent_started"
        case agentThinking = "agent_thinking"
        case toolExecuting = "tool_executing"
        case toolCompleted = "tool_completed"
        case agentCompleted = "agent_completed"
        case agentFailed = "agent_failed"
        case agentCancelled = "agent_cancelled"
        case circuitStateChanged = "circuit_state_changed"
        case streamGap = "stream_gap"
        case custom

        /// Whether the event ends a run.
        public var isTerminal: Bool { self == .agentCompleted || self == .agentFailed || self == .agentCancelled }
    }

    public let kind: Kind
    /// Position in the user's stream: strictly increasing, no gaps.
    public internal(set) var seq: UInt64
    /// Wall-clock milliseconds.
    public let timestampMillis: Int64
    public let userID: String
    public let sessionID: String
    public let runID: String
    public let parentRunID: String?
    public let plugin: String
    public let agent: String
    /// The `data` member, already JSON (built by the emitter from validated parts).
    public let dataJSON: String

    public init(kind: Kind, seq: UInt64 = 0, timestampMillis: Int64 = MonotonicTime.wallMillis(), userID: String,
                sessionID: String, runID: String, parentRunID: String? = nil, plugin: String, agent: String,
                dataJSON: String) {
        self.kind = kind
        self.seq = seq
        self.timestampMillis = timestampMillis
        self.userID = userID
        self.sessionID = sessionID
        self.runID = runID
        self.parentRunID = parentRunID
        self.plugin = plugin
        self.agent = agent
        self.dataJSON = dataJSON
    }

    /// The envelope as one line of JSON.
    public var json: String {
        var s = "{\"v\":1,\"type\":\""
        s += kind.rawValue
        s += "\",\"seq\":\(seq),\"ts\":\""
        s += MonotonicTime.rfc3339(millis: timestampMillis)
        s += "\",\"user_id\":"
        JSONValue.appendQuoted(userID, to: &s)
        s += ",\"session_id\":"
        JSONValue.appendQuoted(sessionID, to: &s)
        s += ",\"run_id\":"
        JSONValue.appendQuoted(runID, to: &s)
        if let parentRunID {
            s += ",\"parent_run_id\":"
            JSONValue.appendQuoted(parentRunID, to: &s)
        }
        s += ",\"agent\":{\"plugin\":"
        JSONValue.appendQuoted(plugin, to: &s)
        s += ",\"name\":"
        JSONValue.appendQuoted(agent, to: &s)
        s += "},\"data\":"
        s += dataJSON
        s += "}"
        return s
    }

    /// The parsed `data` member.
    public var data: JSONValue { (try? JSONValue.parse(dataJSON)) ?? .null }
}

/// Builds `data` objects for events without a JSON tree.
public struct JSONObjectWriter {
    private var s: String
    private var first = true
    public init() {
        s = "{"
        s.reserveCapacity(160)
    }

    private mutating func key(_ k: String) {
        if !first { s += "," }
        first = false
        JSONValue.appendQuoted(k, to: &s)
        s += ":"
    }
    public mutating func string(_ k: String, _ v: String) { key(k); JSONValue.appendQuoted(v, to: &s) }
    public mutating func int(_ k: String, _ v: Int64) { key(k); s += String(v) }
    public mutating func uint(_ k: String, _ v: UInt64) { key(k); s += String(v) }
    public mutating func double(_ k: String, _ v: Double) { key(k); s += v.isFinite ? String(v) : "null" }
    public mutating func bool(_ k: String, _ v: Bool) { key(k); s += v ? "true" : "false" }
    public mutating func null(_ k: String) { key(k); s += "null" }
    /// Inserts already-validated JSON text.
    public mutating func raw(_ k: String, _ json: String) { key(k); s += json }
    public mutating func finish() -> String { s += "}"; return s }
}
