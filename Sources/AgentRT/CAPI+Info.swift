import AgentRTCore
import AgentRTNative
import CAgentRT

private func agentJSON(_ a: AgentDescriptor) -> JSONValue {
    .object(JSONObject([
        ("plugin", .string(a.plugin)), ("name", .string(a.name)), ("description", .string(a.description)),
        ("input_schema", a.inputSchema ?? .null), ("thread_safe", .bool(a.threadSafe)),
            ("returns_promptly", .bool(a.returnsPromptly)),
        ("default_timeout_ms", a.defaultTimeout.map { .int($0.milliseconds) } ?? .null),
    ]))
}

private func toolJSON(_ t: ToolDescriptor) -> JSONValue {
    var o = JSONObject([("name", .string(t.qualifiedName)), ("description", .string(t.description)),
                        ("inputSchema", t.inputSchema)])
    if let out = t.outputSchema { o["outputSchema"] = out }
    if case .native(let p) = t.kind { o["prototype"] = .string(p) }
    return .object(o)
}

private func emitJSON(_ rt: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ make: (Runtime) -> JSONValue) -> Int32 {
    store(nil, out)
    return withRuntime(rt) { e in
        guard let out else { return .invalidArgument }
        out.pointee = cString(make(e.runtime).serialized())
        return .ok
    }
}

@_cdecl("agentrt_list_json")
public func agentrt_list_json(_ rt: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    emitJSON(rt, out) { r in
        let plugins = Set(r.agentDescriptors.map(\.plugin)).union(r.tools.descriptors.map(\.plugin)).sorted()
        return .object(JSONObject([
            ("plugins", .array(plugins.map { .string($0) })),
            ("agents", .array(r.agentDescriptors.map(agentJSON))),
            ("tools", .array(r.tools.descriptors.map(toolJSON))),
        ]))
    }
}

@_cdecl("agentrt_stats_json")
public func agentrt_stats_json(_ rt: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    emitJSON(rt, out) { $0.statsJSON() }
}

@_cdecl("agentrt_isolation_json")
public func agentrt_isolation_json(_ rt: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    emitJSON(rt, out) { $0.isolationReport() }
}
