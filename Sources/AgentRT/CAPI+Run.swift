import AgentRTCore
import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

/// Builds a RunRequest from C arguments, or throws the misuse (its status and message).
private func request(_ plugin: UnsafePointer<CChar>?, _ agent: UnsafePointer<CChar>?, _ user: UnsafePointer<CChar>?,
                     _ input: UnsafePointer<CChar>?, _ options: UnsafePointer<agentrt_run_options>?)
    throws(AgentRTError) -> RunRequest {
    guard let p = swiftString(plugin), let a = swiftString(agent) else {
        throw AgentRTError(.badArguments, "plugin and agent must be non-NULL UTF-8 strings")
    }
    guard let u = swiftString(user) else { throw AgentRTError(.invalidContext, "user_id is NULL or not UTF-8") }
    // Checked here too (the runtime checks every input) so that agentrt_run_async can refuse a
    // malformed input as a misuse, with a status, instead of through its callback. Checked as
    // bytes, so the message is the parser's (byte offset, depth limit, lone surrogate, invalid
    // UTF-8, duplicate key); valid JSON is valid UTF-8, so the String below decodes losslessly.
    var i = "{}"
    if let input {
        let bytes = UnsafeRawBufferPointer(start: input, count: strlen(input))
        do { try JSONValue.checkSyntax(bytes: bytes) } catch {
            throw AgentRTError(.badArguments, "input_json is not valid JSON: \(error)")
        }
        i = String(decoding: bytes, as: UTF8.self)
    }
    var r = RunRequest(plugin: p, agent: a, userID: u, input: i)
    r.inputCheckedAsJSON = true
    if let options {
        guard Int(options.pointee.struct_size) >= MemoryLayout<agentrt_run_options>.size else {
            throw AgentRTError(.badArguments, "agentrt_run_options.struct_size is too small")
        }
        let o = options.pointee
        guard o.flags & ~(AGENTRT_RUN_ON_CALLER_THREAD | AGENTRT_RUN_HAND_OFF) == 0,
              o.flags != AGENTRT_RUN_ON_CALLER_THREAD | AGENTRT_RUN_HAND_OFF else {
            throw AgentRTError(.badArguments, "agentrt_run_options.flags 0x\(String(o.flags, radix: 16)) has unknown or conflicting bits")
        }
        if o.flags & AGENTRT_RUN_ON_CALLER_THREAD != 0 { r.onCallerThread = true }
        if o.flags & AGENTRT_RUN_HAND_OFF != 0 { r.onCallerThread = false }
        if o.timeout_ms > 0 { r.timeout = .milliseconds(Int64(o.timeout_ms)) }
        if o.heartbeat_timeout_ms > 0 { r.heartbeatTimeout = .milliseconds(Int64(o.heartbeat_timeout_ms)) }
        if let s = o.session_id {
            guard let sid = swiftString(s) else { throw AgentRTError(.invalidContext, "session_id is not UTF-8") }
            r.sessionID = sid
        }
        if let m = o.metadata_json {
            guard let text = swiftString(m), case .object(let obj)? = try? JSONValue.parse(text) else {
                throw AgentRTError(.badArguments, "metadata_json must be a JSON object of strings")
            }
            for (k, v) in obj {
                guard case .string(let s) = v else {
                    throw AgentRTError(.badArguments, "metadata_json value of \"\(k)\" is not a string")
                }
                r.metadata[k] = s
            }
        }
    }
    return r
}

/// The status a C host sees: input the runtime refused as `bad_arguments` is a misuse of the call.
private func misuseStatus(_ e: AgentRTError) -> HostStatus {
    e.code == .badArguments ? .invalidArgument : e.code.status
}

@_cdecl("agentrt_run")
public func agentrt_run(_ rt: OpaquePointer?, _ plugin: UnsafePointer<CChar>?, _ agent: UnsafePointer<CChar>?,
                        _ user: UnsafePointer<CChar>?, _ input: UnsafePointer<CChar>?,
                        _ options: UnsafePointer<agentrt_run_options>?,
                        _ outResult: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                        _ outError: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                        _ outRunID: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outResult)
    store(nil, outError)
    store(nil, outRunID)
    return withRuntime(rt, outError: outError) { e in
        let r: RunRequest
        do throws(AgentRTError) { r = try request(plugin, agent, user, input, options) } catch {
            store(error.message, outError)
            return misuseStatus(error)
        }
        let result = e.runtime.runBlocking(r)
        store(result.runID.isEmpty ? nil : result.runID, outRunID)
        switch result.outcome {
        case .success(let json):
            store(json, outResult)
            return .ok
        case .failure(let err):
            store(err.message, outError)
            return misuseStatus(err)
        }
    }
}

/// Carries a C callback and its user data into Swift closures.
private struct CCompletion: @unchecked Sendable {
    let callback: agentrt_run_callback
    let userData: UnsafeMutableRawPointer?
}

@_cdecl("agentrt_run_async")
public func agentrt_run_async(_ rt: OpaquePointer?, _ plugin: UnsafePointer<CChar>?, _ agent: UnsafePointer<CChar>?,
                              _ user: UnsafePointer<CChar>?, _ input: UnsafePointer<CChar>?,
                              _ options: UnsafePointer<agentrt_run_options>?, _ callback: agentrt_run_callback?,
                              _ userData: UnsafeMutableRawPointer?,
                              _ outRunID: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    store(nil, outRunID)
    return withRuntime(rt) { e in
        guard let callback else { return .invalidArgument }
        let r: RunRequest
        do throws(AgentRTError) { r = try request(plugin, agent, user, input, options) } catch { return misuseStatus(error) }
        let c = CCompletion(callback: callback, userData: userData)
        let id = e.runtime.runDetached(r) { result in
            let (status, text): (HostStatus, String) = switch result.outcome {
            case .success(let json): (.ok, json)
            case .failure(let err): (misuseStatus(err), err.message)
            }
            result.runID.withCString { rid in text.withCString { t in c.callback(c.userData, status.rawValue, rid, t) } }
        }
        store(id.isEmpty ? nil : id, outRunID)
        return .ok
    }
}

@_cdecl("agentrt_cancel")
public func agentrt_cancel(_ rt: OpaquePointer?, _ runID: UnsafePointer<CChar>?) -> Int32 {
    withRuntime(rt) { e in
        guard let id = swiftString(runID) else { return .invalidArgument }
        return e.runtime.cancel(runID: id, reason: "cancelled by the host") ? .ok : .notFound
    }
}
