import AgentRTCore
import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

/// The `agentrt_host` table every plugin receives: one per process, filled with nonisolated
/// global functions (a `@convention(c)` closure defined in main-actor code would trap when a
/// plugin calls it from another thread). Each function resolves its call handle through
/// `HandleTable`; misuse yields a status, never a trap.
enum HostTable {
    nonisolated(unsafe) static let pointer: UnsafePointer<agentrt_host> = {
        let p = UnsafeMutablePointer<agentrt_host>.allocate(capacity: 1)
        p.initialize(to: agentrt_host(
            struct_size: UInt32(MemoryLayout<agentrt_host>.size),
            abi_major: UInt16(AGENTRT_ABI_MAJOR), abi_minor: UInt16(AGENTRT_ABI_MINOR),
            user_id: hostUserID, session_id: hostSessionID, run_id: hostRunID, metadata: hostMetadata,
            is_cancelled: hostIsCancelled, remaining_ms: hostRemainingMs, heartbeat: hostHeartbeat,
            emit: hostEmit, call_tool: hostCallTool, set_result: hostSetResult, set_error: hostSetError,
            log: hostLog,
            json_get_raw: hostJSONGetRaw, json_get_string: hostJSONGetString, json_get_int64: hostJSONGetInt64,
            json_get_double: hostJSONGetDouble, json_get_bool: hostJSONGetBool))
        return UnsafePointer(p)
    }()

    /// The handle value a plugin receives for `token`.
    static func handle(_ token: UInt64) -> OpaquePointer? { OpaquePointer(bitPattern: UInt(token)) }
}

/// What late activity on a stale handle is counted as.
private enum Late { case none, event, toolCall, result }

@inline(__always)
private func withCall(_ handle: OpaquePointer?, late: Late = .none, _ body: (any HostServices) -> HostStatus) -> agentrt_status {
    guard let handle else { return HostStatus.invalidArgument.rawValue }
    switch HandleTable.shared.lookup(UInt64(UInt(bitPattern: handle))) {
    case .live(let c): return body(c).rawValue
    case .stale(let counters):
        // Activity after the call ended (a leaked thread): dropped, and counted.
        switch late {
        case .none: break
        case .event: counters?.lateEvents.add(1, ordering: .relaxed)
        case .toolCall: counters?.lateToolCalls.add(1, ordering: .relaxed)
        case .result: counters?.lateResults.add(1, ordering: .relaxed)
        }
        return HostStatus.staleHandle.rawValue
    case .invalid: return HostStatus.invalidHandle.rawValue
    }
}

/// Borrowed bytes of a view, or nil when the view is malformed (NULL with a length, absurd length).
@inline(__always)
private func bytes(_ s: agentrt_str) -> UnsafeRawBufferPointer? {
    if s.len == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
    guard let p = s.ptr, s.len <= Int.max / 2 else { return nil }
    return UnsafeRawBufferPointer(start: p, count: s.len)
}

private func text(_ s: agentrt_str) -> String? {
    guard let b = bytes(s) else { return nil }
    // ASCII (event types, tool names, most arguments) needs no UTF-8 validation; the generic
    // validating initializer also looks up type metadata on every call.
    var high: UInt8 = 0
    for c in b { high |= c }
    if high < 0x80 { return String(decoding: b, as: UTF8.self) }
    return String(validating: b, as: UTF8.self)
}

private func put(_ view: UnsafeRawBufferPointer, _ out: UnsafeMutablePointer<agentrt_str>?) -> HostStatus {
    guard let out else { return .invalidArgument }
    out.pointee = agentrt_str(ptr: view.baseAddress?.assumingMemoryBound(to: CChar.self), len: view.count)
    return .ok
}

private func hostUserID(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    withCall(h) { c in put(c.identityView(.user), out) }
}

private func hostSessionID(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    withCall(h) { c in put(c.identityView(.session), out) }
}

private func hostRunID(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    withCall(h) { c in put(c.identityView(.run), out) }
}

private func hostMetadata(_ h: OpaquePointer?, _ key: agentrt_str, _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    withCall(h) { c in
        guard out != nil, let k = text(key) else { return .invalidArgument }
        guard let v = c.metadataView(k) else { return .notFound }
        return put(v, out)
    }
}

private func hostIsCancelled(_ h: OpaquePointer?) -> agentrt_status {
    withCall(h) { $0.checkCancelled() }
}

private func hostRemainingMs(_ h: OpaquePointer?, _ out: UnsafeMutablePointer<Int64>?) -> agentrt_status {
    withCall(h) { c in
        guard let out else { return .invalidArgument }
        let (ms, status) = c.remainingMilliseconds()
        out.pointee = ms
        return status
    }
}

private func hostHeartbeat(_ h: OpaquePointer?, _ details: agentrt_str) -> agentrt_status {
    withCall(h, late: .event) { c in
        guard let d = text(details) else { return .invalidArgument }
        return c.heartbeat(details: d)
    }
}

private func hostEmit(_ h: OpaquePointer?, _ type: agentrt_str, _ data: agentrt_str) -> agentrt_status {
    withCall(h, late: .event) { c in
        guard let t = text(type), let d = bytes(data) else { return .invalidArgument }
        return c.emit(type: t, dataJSON: d)
    }
}

private func hostCallTool(_ h: OpaquePointer?, _ name: agentrt_str, _ args: agentrt_str,
                          _ out: UnsafeMutablePointer<agentrt_tool_result>?) -> agentrt_status {
    withCall(h, late: .toolCall) { c in
        guard let out, out.pointee.struct_size >= UInt32(MemoryLayout<agentrt_tool_result>.size) else { return .invalidArgument }
        guard let n = text(name) else { return .invalidArgument }
        guard let a = text(args) else { return .invalidJSON }
        let (status, result) = c.callTool(n, argumentsJSON: a.isEmpty ? "{}" : a)
        guard let result else { return status }
        let view = c.retain(result.content)
        out.pointee.is_error = result.isError ? 1 : 0
        out.pointee.content = agentrt_str(ptr: view.baseAddress?.assumingMemoryBound(to: CChar.self), len: view.count)
        return status
    }
}

private func hostSetResult(_ h: OpaquePointer?, _ json: agentrt_str) -> agentrt_status {
    withCall(h, late: .result) { c in
        guard let b = bytes(json) else { return .invalidArgument }
        return c.setResult(b)
    }
}

private func hostSetError(_ h: OpaquePointer?, _ message: agentrt_str) -> agentrt_status {
    withCall(h) { c in
        guard let b = bytes(message) else { return .invalidArgument }
        return c.setError(String(decoding: b, as: UTF8.self))
    }
}

private func hostLog(_ h: OpaquePointer?, _ level: Int32, _ message: agentrt_str) -> agentrt_status {
    guard let b = bytes(message) else { return HostStatus.invalidArgument.rawValue }
    let m = String(decoding: b, as: UTF8.self)
    if h == nil {
        guard (0...4).contains(level) else { return HostStatus.invalidArgument.rawValue }
        NativeHost.logWithoutCall(level: level, LogLine.sanitize(m))
        return HostStatus.ok.rawValue
    }
    return withCall(h) { $0.log(level: level, m) }
}

// MARK: ABI 1.1 JSON accessors

private enum Located {
    case value(JSONPointerReader, Range<Int>)
    case failure(HostStatus)
}

private func lookup(_ json: agentrt_str, _ pointer: agentrt_str) -> Located {
    guard let doc = bytes(json), let ptr = bytes(pointer) else { return .failure(.invalidArgument) }
    let reader = JSONPointerReader(bytes: doc)
    do { return .value(reader, try reader.find(ptr)) } catch {
        switch error {
        case .invalidJSON: return .failure(.invalidJSON)
        case .invalidPointer: return .failure(.invalidArgument)
        case .notFound: return .failure(.notFound)
        }
    }
}

private func view(of reader: JSONPointerReader, _ r: Range<Int>) -> agentrt_str {
    agentrt_str(ptr: reader.bytes.baseAddress.map { ($0 + r.lowerBound).assumingMemoryBound(to: CChar.self) }, len: r.count)
}

func hostJSONGetRaw(_ json: agentrt_str, _ pointer: agentrt_str, _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    switch lookup(json, pointer) {
    case .failure(let s): return s.rawValue
    case .value(let reader, let r):
        out.pointee = view(of: reader, r)
        return HostStatus.ok.rawValue
    }
}

func hostJSONGetString(_ h: OpaquePointer?, _ json: agentrt_str, _ pointer: agentrt_str,
                       _ out: UnsafeMutablePointer<agentrt_str>?) -> agentrt_status {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    switch lookup(json, pointer) {
    case .failure(let s): return s.rawValue
    case .value(let reader, let r):
        guard reader.bytes[r.lowerBound] == UInt8(ascii: "\"") else { return HostStatus.typeMismatch.rawValue }
        let inner = (r.lowerBound + 1)..<(r.upperBound - 1)
        if !inner.contains(where: { reader.bytes[$0] == UInt8(ascii: "\\") }) {
            out.pointee = view(of: reader, inner)
            return HostStatus.ok.rawValue
        }
        // Escapes: decoded into memory owned by the call.
        guard h != nil else { return HostStatus.unsupported.rawValue }
        guard let decoded = reader.decodeString(r) else { return HostStatus.invalidJSON.rawValue }
        return withCall(h) { c in
            let v = c.retain(String(decoding: decoded, as: UTF8.self))
            out.pointee = agentrt_str(ptr: v.baseAddress?.assumingMemoryBound(to: CChar.self), len: v.count)
            return .ok
        }
    }
}

private func numberText(_ reader: JSONPointerReader, _ r: Range<Int>) -> String? {
    let first = reader.bytes[r.lowerBound]
    guard first == UInt8(ascii: "-") || (first >= 0x30 && first <= 0x39) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(rebasing: reader.bytes[r]), as: UTF8.self)
}

func hostJSONGetInt64(_ json: agentrt_str, _ pointer: agentrt_str, _ out: UnsafeMutablePointer<Int64>?) -> agentrt_status {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    switch lookup(json, pointer) {
    case .failure(let s): return s.rawValue
    case .value(let reader, let r):
        guard let t = numberText(reader, r) else { return HostStatus.typeMismatch.rawValue }
        if let v = Int64(t) { out.pointee = v; return HostStatus.ok.rawValue }
        let plainDigits = t.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
        if plainDigits { return HostStatus.tooLarge.rawValue }
        guard let d = Double(t), d.rounded() == d else { return HostStatus.typeMismatch.rawValue }
        guard d >= -9.223372036854775808e18 && d < 9.223372036854775808e18 else { return HostStatus.tooLarge.rawValue }
        out.pointee = Int64(d)
        return HostStatus.ok.rawValue
    }
}

func hostJSONGetDouble(_ json: agentrt_str, _ pointer: agentrt_str, _ out: UnsafeMutablePointer<Double>?) -> agentrt_status {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    switch lookup(json, pointer) {
    case .failure(let s): return s.rawValue
    case .value(let reader, let r):
        guard let t = numberText(reader, r), let d = Double(t) else { return HostStatus.typeMismatch.rawValue }
        out.pointee = d
        return HostStatus.ok.rawValue
    }
}

func hostJSONGetBool(_ json: agentrt_str, _ pointer: agentrt_str, _ out: UnsafeMutablePointer<Int32>?) -> agentrt_status {
    guard let out else { return HostStatus.invalidArgument.rawValue }
    switch lookup(json, pointer) {
    case .failure(let s): return s.rawValue
    case .value(let reader, let r):
        switch reader.bytes[r.lowerBound] {
        case UInt8(ascii: "t"): out.pointee = 1
        case UInt8(ascii: "f"): out.pointee = 0
        default: return HostStatus.typeMismatch.rawValue
        }
        return HostStatus.ok.rawValue
    }
}
