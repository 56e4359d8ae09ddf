/// The services a plugin reaches through its call handle (`agentrt_host` in plugin.h). Every
/// method is thread-safe and returns a status; none traps on bad input.
extension AgentCall {
    /// Event types the runtime reserves; a plugin's `emit` may not use them.
    static let reservedTypes: Set<String> = Set(Event.Kind.allCases.map(\.rawValue)).subtracting(["custom", "agent_thinking"])
    /// Shorter types cannot be reserved (most custom types are short): no set lookup for them.
    static let shortestReservedType = reservedTypes.map(\.utf8.count).min() ?? 0

    /// `is_cancelled`: `.cancelled` once cancelled, `.staleHandle` after the call finished.
    public func checkCancelled() -> HostStatus {
        if !isRunning { return .staleHandle }
        return context.isCancelled ? .cancelled : .ok
    }

    /// `heartbeat`: proves liveness and, with details, publishes an `agent_thinking` status note.
    public func heartbeat(details: String) -> HostStatus {
        if !isRunning { runtime.counters.lateEvents.add(1, ordering: .relaxed); return .staleHandle }
        lastActivity.store(runtime.clock.nowNanos(), ordering: .releasing)
        parent?.lastActivity.store(runtime.clock.nowNanos(), ordering: .releasing)
        if !details.isEmpty {
            lock.withLock { heartbeatDetails = details }
            publish(.agentThinking, .thinking(text: details, kind: "status"))
        }
        return context.isCancelled ? .cancelled : .ok
    }

    /// `emit`: a `custom` event (or an `agent_thinking` note) on the caller's stream.
    public func emit(type: String, dataJSON: UnsafeRawBufferPointer) -> HostStatus {
        if !isRunning { runtime.counters.lateEvents.add(1, ordering: .relaxed); return .staleHandle }
        if type.utf8.count >= Self.shortestReservedType, Self.reservedTypes.contains(type) { return .reservedType }
        if let _ = NameRules.checkEventType(type) { return .invalidArgument }
        guard dataJSON.count <= runtime.configuration.maxEventBytes else { return .tooLarge }
        guard JSONValue.isValid(bytes: dataJSON) else { return .invalidJSON }
        let data = String(decoding: dataJSON, as: UTF8.self)
        let now = runtime.clock.nowNanos()   // activity for the heartbeat, and the event's time
        lastActivity.store(now, ordering: .releasing)
        let ok: Bool
        if type == "agent_thinking" {
            guard case .object(let o)? = try? JSONValue.parse(data), case .string(let text)? = o["text"] else {
                return .invalidArgument
            }
            let kind = o["kind"]?.stringValue ?? "reasoning"
            guard kind == "status" || kind == "reasoning" else { return .invalidArgument }
            ok = publish(.agentThinking, .thinking(text: text, kind: kind), atNanos: now)
        } else {
            ok = publish(.custom, .custom(name: type, value: data), atNanos: now)
        }
        return ok ? .ok : .staleHandle
    }

    /// Swift convenience for `emit`.
    public func emit(type: String, data: String) -> HostStatus {
        var d = data
        return d.withUTF8 { emit(type: type, dataJSON: UnsafeRawBufferPointer($0)) }
    }

    /// `set_result`: the call's result (JSON, UTF-8, within the size limit), once.
    public func setResult(_ json: UnsafeRawBufferPointer) -> HostStatus {
        if !isRunning { runtime.counters.lateResults.add(1, ordering: .relaxed); return .staleHandle }
        let (text, refusal) = ResultCheck.check(json, maxBytes: runtime.configuration.maxResultBytes)
        return lock.withLock {
            if result != nil { return .alreadySet }
            if let refusal { resultRefusal = refusal.1; return refusal.0 }
            result = text
            return .ok
        }
    }

    /// Records why a result was refused where the call ran (process isolation: the worker
    /// refused it with the same checks); the call then ends `invalid_output` with the reason.
    public func noteResultRefusal(_ reason: String) {
        lock.withLock { if result == nil { resultRefusal = reason } }
    }

    /// Swift convenience for `set_result`.
    public func setResult(_ json: String) -> HostStatus {
        var j = json
        return j.withUTF8 { setResult(UnsafeRawBufferPointer($0)) }
    }

    /// `set_error`: a message for a failing call.
    public func setError(_ message: String) -> HostStatus {
        if !isRunning { return .staleHandle }
        lock.withLock { errorMessage = String(message.prefix(64 * 1024)) }
        return .ok
    }

    /// `call_tool`: runs a tool through the dispatcher in a child context. The returned text stays
    /// valid (for C callers, through `retain(_:)`) until this call's function returns.
    public func callTool(_ name: String, argumentsJSON: String) -> (HostStatus, ToolCallResult?) {
        if !isRunning { runtime.counters.lateToolCalls.add(1, ordering: .relaxed); return (.staleHandle, nil) }
        lastActivity.store(runtime.clock.nowNanos(), ordering: .releasing)
        return runtime.tools.dispatch(from: self, name: name, argumentsJSON: argumentsJSON)
    }

    /// Copies `text` into memory owned by this call (freed when the call object goes away, which is
    /// after its function returned) and returns the bytes; used to hand borrowed views to C.
    public func retain(_ text: String) -> UnsafeRawBufferPointer {
        let buf = CString.copy(text)
        lock.withLock { arena.append(buf) }
        return UnsafeRawBufferPointer(rebasing: buf[0..<(buf.count - 1)])
    }

    /// A borrowed view of `text` cached under `key` for this call (identity and metadata for C).
    public func cachedView(_ key: String, _ text: () -> String) -> UnsafeRawBufferPointer {
        if let v = lock.withLock({ views[key] }) { return v }
        let v = retain(text())
        return lock.withLock {
            if let existing = views[key] { return existing }
            views[key] = v
            return v
        }
    }

    /// `log`: a line in the runtime's log.
    public func log(level: Int32, _ message: String) -> HostStatus {
        guard (0...4).contains(level) else { return .invalidArgument }
        runtime.log(level: level, "\(plugin).\(name) [\(context.userID) \(context.runID)] \(message)")
        return .ok
    }
}

extension AgentCall {
    /// The runtime's counters of late (discarded) activity.
    public var counters: RuntimeCounters { runtime.counters }

    /// The result, the reason a result was refused, and the error message, as set so far.
    public var resultState: (result: String?, refusal: String?, errorMessage: String?) {
        lock.withLock { (result, resultRefusal, errorMessage) }
    }
}

/// What a tool call returned to the calling agent.
public struct ToolCallResult: Sendable, Equatable {
    public let isError: Bool
    /// JSON text: the result, or the tool's own error.
    public let content: String

    public init(isError: Bool, content: String) {
        self.isError = isError
        self.content = content
    }
}

/// The checks `set_result` makes, shared by the runtime and worker processes.
public enum ResultCheck {
    /// The result text, or the status and reason it is refused.
    public static func check(_ json: UnsafeRawBufferPointer, maxBytes: Int) -> (String?, (HostStatus, String)?) {
        if json.count > maxBytes {
            return (nil, (.tooLarge, "the result is \(json.count) bytes, more than the limit of \(maxBytes)"))
        }
        if JSONValue.isValid(bytes: json) {
            // Valid JSON is valid UTF-8 (the validator checks every byte), so no second pass.
            return (String(decoding: json, as: UTF8.self), nil)
        }
        if String(validating: json, as: UTF8.self) == nil { return (nil, (.invalidArgument, "the result is not valid UTF-8")) }
        let why: String
        do { _ = try JSONValue.parse(bytes: json); why = "invalid JSON" } catch { why = "\(error)" }
        return (nil, (.invalidJSON, "the result is not valid JSON: \(why)"))
    }
}

/// NUL-terminated copies of text handed to C as borrowed views (call arenas, in the runtime and in
/// worker processes).
public enum CString {
    /// A fresh buffer holding `text`'s UTF-8 bytes and a NUL (its count is the length + 1); the
    /// caller deallocates it.
    public static func copy(_ text: String) -> UnsafeMutableRawBufferPointer {
        var t = text
        return t.withUTF8 { src in
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: src.count + 1, alignment: 1)
            if src.count > 0 { buf.copyMemory(from: UnsafeRawBufferPointer(src)) }
            buf[src.count] = 0
            return buf
        }
    }
}
