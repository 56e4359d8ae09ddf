import AgentRTCore

/// A run asked for over HTTP (`POST /v1/runs`) or the WebSocket (`{"type":"run",...}`):
/// `{"agent":"plugin.agent","input":<JSON>,"session_id"?,"timeout_ms"?,"wait"?,"request_id"?}`.
struct RunRequestBody: Sendable {
    var plugin: String
    var agent: String
    var inputJSON: String
    var sessionID: String?
    var timeout: Duration?
    var wait: Bool
    var requestID: String?

    /// Parses a body; a malformed one is a `bad_request` naming the problem.
    init(json text: String, maxTimeout: Duration) throws(APIError) {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw APIError.badRequest("the body is not JSON: \(error)")
        }
        guard case .object(let o) = value else { throw APIError.badRequest("the body must be a JSON object") }
        try self.init(object: o, maxTimeout: maxTimeout)
    }

    init(object o: JSONObject, maxTimeout: Duration) throws(APIError) {
        guard case .string(let qualified)? = o["agent"] else {
            throw APIError.badRequest("\"agent\" must be a string naming plugin.agent")
        }
        if let dot = qualified.firstIndex(of: ".") {
            plugin = String(qualified[..<dot])
            agent = String(qualified[qualified.index(after: dot)...])
        } else {
            // Not a qualified name: the runtime refuses it as not_found (and says so in the stream).
            plugin = ""
            agent = qualified
        }
        inputJSON = (o["input"] ?? .object(JSONObject())).serialized()
        switch o["session_id"] {
        case nil, .null?: sessionID = nil
        case .string(let s)?: sessionID = s
        default: throw APIError.badRequest("\"session_id\" must be a string")
        }
        switch o["request_id"] {
        case nil, .null?: requestID = nil
        case .string(let s)?: requestID = s
        default: throw APIError.badRequest("\"request_id\" must be a string")
        }
        switch o["timeout_ms"] {
        case nil, .null?: timeout = nil
        case .number(let n)?:
            guard let ms = n.int64, ms > 0, Duration.milliseconds(ms) <= maxTimeout else {
                throw APIError.badRequest("\"timeout_ms\" must be a positive integer of at most \(maxTimeout.milliseconds)")
            }
            timeout = .milliseconds(ms)
        default: throw APIError.badRequest("\"timeout_ms\" must be a number of milliseconds")
        }
        switch o["wait"] {
        case nil, .null?: wait = false
        case .bool(let b)?: wait = b
        default: throw APIError.badRequest("\"wait\" must be true or false")
        }
    }

    /// The runtime's request for `userID`, with a fresh run id.
    func runRequest(userID: String, connectionID: String? = nil) -> RunRequest {
        RunRequest(plugin: plugin, agent: agent, userID: userID, sessionID: sessionID, input: inputJSON,
                   timeout: timeout, runID: RunID.next(), requestID: requestID, connectionID: connectionID)
    }
}

/// JSON bodies that describe runs.
enum RunJSON {
    /// The outcome of a run that started: `{"run_id","status":"ok","result"}` or
    /// `{"run_id","status":"<code>","error":{...}}`.
    static func outcome(runID: String, _ outcome: Result<String, AgentRTError>, into w: inout JSONObjectWriter) {
        w.string("run_id", runID)
        switch outcome {
        case .success(let result):
            w.string("status", "ok")
            w.raw("result", result)
        case .failure(let e):
            w.string("status", e.code.rawValue)
            w.raw("error", APIError.object(code: e.code.rawValue, message: e.message))
        }
    }

    static func outcome(runID: String, _ o: Result<String, AgentRTError>) -> String {
        var w = JSONObjectWriter()
        outcome(runID: runID, o, into: &w)
        return w.finish()
    }

    /// `GET /v1/runs/{id}` of a finished (or refused) run.
    static func record(_ r: RunRecord) -> String {
        var w = JSONObjectWriter()
        outcome(runID: r.runID, r.outcome, into: &w)
        w.string("state", r.started ? "finished" : "refused")
        w.string("agent", "\(r.plugin).\(r.agent)")
        w.string("session_id", r.sessionID)
        w.int("duration_ms", r.duration.milliseconds)
        w.string("finished_at", MonotonicTime.rfc3339(millis: r.finishedAtMillis))
        return w.finish()
    }

    /// `GET /v1/runs/{id}` of a run in flight.
    static func running(runID: String) -> String {
        var w = JSONObjectWriter()
        w.string("run_id", runID)
        w.string("state", "running")
        return w.finish()
    }
}
