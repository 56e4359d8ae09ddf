public import CAgentRT

/// A failure to report from an agent or tool: its message reaches the caller
/// (`agent_failed` / a tool result with `isError: true`).
public struct PluginFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let status: agentrt_status
    public init(_ message: String, status: agentrt_status = agentrt_status(AGENTRT_ERR_AGENT_ERROR)) {
        self.message = message
        self.status = status
    }
    public var description: String { message }
}

/// The running call an agent or tool was given: identity, cancellation, events, tools. Valid
/// only while the closure that received it runs (it wraps the C call handle).
public struct CallContext: @unchecked Sendable {
    let host: UnsafePointer<agentrt_host>
    let call: OpaquePointer?

    private func text(_ fn: (OpaquePointer?, UnsafeMutablePointer<agentrt_str>?) -> agentrt_status) -> String {
        var out = agentrt_str(ptr: nil, len: 0)
        guard fn(call, &out) == 0, let p = out.ptr else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: out.len), as: UTF8.self)
    }

    /// The user the call runs for.
    public var userID: String { text(host.pointee.user_id) }
    /// The session (conversation) id.
    public var sessionID: String { text(host.pointee.session_id) }
    /// This call's run id.
    public var runID: String { text(host.pointee.run_id) }

    /// A metadata value of the call's context.
    public func metadata(_ key: String) -> String? {
        var out = agentrt_str(ptr: nil, len: 0)
        var k = key
        let st = k.withUTF8 { host.pointee.metadata(call, strView($0), &out) }
        guard st == 0, let p = out.ptr else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: out.len), as: UTF8.self)
    }

    /// True once the call was cancelled (deadline, caller, shutdown): stop soon.
    public var isCancelled: Bool { host.pointee.is_cancelled(call) != 0 }

    /// Milliseconds left before the deadline.
    public var remainingMilliseconds: Int64 {
        var ms: Int64 = 0
        _ = host.pointee.remaining_ms(call, &ms)
        return ms
    }

    /// Proves liveness; with details, publishes an `agent_thinking` status note.
    /// - Throws: `PluginFailure` with status cancelled once the call was cancelled.
    public func heartbeat(_ details: String = "") throws(PluginFailure) {
        var d = details
        let st = d.withUTF8 { host.pointee.heartbeat(call, strView($0)) }
        if st == agentrt_status(AGENTRT_ERR_CANCELLED) { throw PluginFailure("cancelled", status: st) }
    }

    /// Publishes an `agent_thinking` note.
    @discardableResult
    public func think(_ text: String, kind: String = "reasoning") -> agentrt_status {
        var json = "{\"text\":"
        appendJSONString(text, to: &json)
        json += ",\"kind\":"
        appendJSONString(kind, to: &json)
        json += "}"
        return emit("agent_thinking", json: json)
    }

    /// Publishes a `custom` event named `type` with JSON `json`.
    @discardableResult
    public func emit(_ type: String, json: String) -> agentrt_status {
        var t = type, j = json
        return t.withUTF8 { tb in j.withUTF8 { jb in host.pointee.emit(call, strView(tb), strView(jb)) } }
    }

    /// Calls a tool through the runtime's dispatcher; returns its JSON result.
    /// - Throws: `PluginFailure` when the runtime refused the call or the tool failed.
    public func callTool(_ name: String, arguments: String) throws(PluginFailure) -> String {
        var r = agentrt_tool_result(struct_size: UInt32(MemoryLayout<agentrt_tool_result>.size), is_error: 0,
                                    content: agentrt_str(ptr: nil, len: 0))
        var n = name, a = arguments
        let st = n.withUTF8 { nb in a.withUTF8 { ab in host.pointee.call_tool(call, strView(nb), strView(ab), &r) } }
        guard st == 0 else {
            throw PluginFailure("tool \(name) was refused: \(String(cString: agentrt_status_name(st)))", status: st)
        }
        let content = r.content.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.content.len), as: UTF8.self) } ?? "null"
        if r.is_error != 0 { throw PluginFailure("tool \(name) failed: \(content)") }
        return content
    }

    /// Writes a line to the runtime's log (levels as `AGENTRT_LOG_*`).
    public func log(_ message: String, level: Int32 = Int32(AGENTRT_LOG_INFO)) {
        var m = message
        _ = m.withUTF8 { host.pointee.log(call, level, strView($0)) }
    }

    func setResult(_ json: String) -> agentrt_status {
        var j = json
        return j.withUTF8 { host.pointee.set_result(call, strView($0)) }
    }

    func setError(_ message: String) {
        var m = message
        _ = m.withUTF8 { host.pointee.set_error(call, strView($0)) }
    }
}

@inline(__always)
func strView(_ b: UnsafeBufferPointer<UInt8>) -> agentrt_str {
    agentrt_str(ptr: UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), len: b.count)
}

/// Appends `s` as a JSON string literal.
public func appendJSONString(_ s: String, to out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out += "\""
}
