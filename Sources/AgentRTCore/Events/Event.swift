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
        /// A session's agent instance was lost with its worker process (process isolation);
        /// the session's next call opens a new instance.
        case sessionLost = "session_lost"
        case custom

        /// Whether the event ends a run.
        public var isTerminal: Bool { self == .agentCompleted || self == .agentFailed || self == .agentCancelled }
    }

    public let kind: Kind
    /// Position in the user's stream: strictly increasing with no gaps while the stream lives.
    /// A user's seq never restarts: after the user's stream was dropped (the user was removed),
    /// the next stream starts above every seq the bus used before (see `EventBus`).
    public internal(set) var seq: UInt64
    /// Wall-clock milliseconds; never decreases along a stream's seq (the stream raises an
    /// event stamped earlier than the one before it to that one's time).
    public internal(set) var timestampMillis: Int64
    public let userID: String
    public let sessionID: String
    public let runID: String
    public let parentRunID: String?
    public let plugin: String
    public let agent: String
    /// The `data` member, kept structured: it becomes JSON only when someone reads it.
    public let payload: EventData

    public init(kind: Kind, seq: UInt64 = 0, timestampMillis: Int64 = MonotonicTime.wallMillis(), userID: String,
                sessionID: String, runID: String, parentRunID: String? = nil, plugin: String, agent: String,
                payload: EventData) {
        self.kind = kind
        self.seq = seq
        self.timestampMillis = timestampMillis
        self.userID = userID
        self.sessionID = sessionID
        self.runID = runID
        self.parentRunID = parentRunID
        self.plugin = plugin
        self.agent = agent
        self.payload = payload
    }

    /// An event whose `data` is already JSON.
    public init(kind: Kind, seq: UInt64 = 0, timestampMillis: Int64 = MonotonicTime.wallMillis(), userID: String,
                sessionID: String, runID: String, parentRunID: String? = nil, plugin: String, agent: String,
                dataJSON: String) {
        self.init(kind: kind, seq: seq, timestampMillis: timestampMillis, userID: userID, sessionID: sessionID,
                  runID: runID, parentRunID: parentRunID, plugin: plugin, agent: agent, payload: .json(dataJSON))
    }

    /// The `data` member as JSON text.
    public var dataJSON: String { payload.json }

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

    /// Bytes counted for every retained event on top of its strings: the stored `Event` value
    /// (177 bytes inline) plus allocator and envelope overhead.
    public static let replayOverheadBytes = 256

    /// What this event costs the replay buffer (`Runtime.Configuration.replayBytes`): the
    /// fixed overhead plus the UTF-8 length of its strings and of its `data` (estimated from the
    /// stored parts, so the append path builds no JSON).
    public var replayBytes: Int {
        var n = Self.replayOverheadBytes + userID.utf8.count + sessionID.utf8.count + runID.utf8.count
        n += plugin.utf8.count + agent.utf8.count + (parentRunID?.utf8.count ?? 0)
        return n + payload.estimatedJSONBytes
    }
}

/// The `data` of an event, by type. Stored as parts (strings already validated as JSON where
/// they hold JSON) so that publishing costs no encoding; `json` builds the text on demand.
///
/// The two largest cases are `indirect` (boxed): every `Event` is as large as its largest
/// payload, and events are moved into and kept in replay buffers, so boxing the cases that carry
/// an `AgentRTError` makes every event about a third smaller for one allocation per such event.
public enum EventData: Sendable {
    case json(String)
    case started(input: String, deadlineMs: Int64?, attempt: Int)
    case thinking(text: String, kind: String)
    case toolExecuting(id: String, tool: String, arguments: String, timeoutMs: Int64)
    indirect case toolCompleted(id: String, tool: String, isError: Bool, content: String?, error: AgentRTError?, durationMs: Int64)
    case completed(result: String, durationMs: Int64)
    indirect case failed(AgentRTError, durationMs: Int64)
    case cancelled(reason: String, by: String, durationMs: Int64)
    case custom(name: String, value: String)

    /// The JSON object text.
    public var json: String {
        if case .json(let s) = self { return s }
        var w = JSONObjectWriter()
        switch self {
        case .json:
            break  // returned above
        case .started(let input, let deadline, let attempt):
            w.raw("input", input)
            if let deadline { w.int("deadline_ms", deadline) }
            w.int("attempt", Int64(attempt))
        case .thinking(let text, let kind):
            w.string("text", text)
            w.string("kind", kind)
        case .toolExecuting(let id, let tool, let arguments, let timeout):
            w.string("tool_call_id", id)
            w.string("tool", tool)
            w.raw("arguments", arguments)
            w.int("timeout_ms", timeout)
        case .toolCompleted(let id, let tool, let isError, let content, let error, let duration):
            w.string("tool_call_id", id)
            w.string("tool", tool)
            w.bool("is_error", isError)
            if let content { w.raw(isError ? "error" : "result", content) }
            if let error { w.raw("error", Self.errorObject(error)) }
            w.int("duration_ms", duration)
        case .completed(let result, let duration):
            w.raw("result", result)
            w.int("duration_ms", duration)
        case .failed(let error, let duration):
            w.raw("error", Self.errorObject(error))
            w.int("duration_ms", duration)
        case .cancelled(let reason, let by, let duration):
            w.string("reason", reason)
            w.string("by", by)
            w.int("duration_ms", duration)
        case .custom(let name, let value):
            w.string("name", name)
            w.raw("value", value)
        }
        return w.finish()
    }

    /// About the length of `json` without building it: the exact length for `.json`, otherwise
    /// the parts' UTF-8 lengths plus a fixed allowance for keys, numbers and punctuation
    /// (escaping can make the real text longer).
    public var estimatedJSONBytes: Int {
        switch self {
        case .json(let s): return s.utf8.count
        case .started(let input, _, _): return input.utf8.count + 64
        case .thinking(let text, let kind): return text.utf8.count + kind.utf8.count + 24
        case .toolExecuting(let id, let tool, let arguments, _):
            return id.utf8.count + tool.utf8.count + arguments.utf8.count + 72
        case .toolCompleted(let id, let tool, _, let content, let error, _):
            return id.utf8.count + tool.utf8.count + (content?.utf8.count ?? 0)
                + (error.map { $0.message.utf8.count + 48 } ?? 0) + 80
        case .completed(let result, _): return result.utf8.count + 40
        case .failed(let error, _): return error.message.utf8.count + 80
        case .cancelled(let reason, let by, _): return reason.utf8.count + by.utf8.count + 48
        case .custom(let name, let value): return name.utf8.count + value.utf8.count + 20
        }
    }

    static func errorObject(_ e: AgentRTError) -> String {
        var w = JSONObjectWriter()
        w.string("code", e.code.rawValue)
        w.string("message", e.message)
        return w.finish()
    }
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
