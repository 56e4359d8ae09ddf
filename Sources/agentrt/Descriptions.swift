import AgentRTCore
import AgentRTNative

/// Renders plugins, agents and tools for `load` and `tools`, as text or JSON.
enum Descriptions {
    static func json(_ p: LoadedPlugin) -> JSONValue {
        .object(JSONObject([
            ("name", .string(p.name)), ("version", .string(p.version)), ("description", .string(p.description)),
            ("path", .string(p.path)), ("abi", .string(p.abi)),
            ("isolation", .string(p.isolation.rawValue)), ("workers", .int(Int64(p.workers))),
            ("agents", .array(p.agents.map { json($0) })),
            ("tools", .array(p.tools.map { json($0) })),
        ]))
    }

    static func json(_ a: AgentDescriptor) -> JSONValue {
        .object(JSONObject([
            ("name", .string(a.name)), ("description", .string(a.description)),
            ("input_schema", a.inputSchema ?? .null), ("thread_safe", .bool(a.threadSafe)),
            ("returns_promptly", .bool(a.returnsPromptly)),
            ("default_timeout_ms", a.defaultTimeout.map { .int($0.milliseconds) } ?? .null),
            ("session_hooks", .bool(a.hasSessionHooks)),
        ]))
    }

    static func json(_ t: ToolDescriptor) -> JSONValue {
        var kind: JSONValue = "json"
        var proto: JSONValue = .null
        switch t.kind {
        case .json: kind = "json"
        case .native(let p): kind = "native"; proto = .string(p)
        case .host: kind = "host"
        }
        return .object(JSONObject([
            ("name", .string(t.qualifiedName)), ("description", .string(t.description)), ("kind", kind),
            ("prototype", proto), ("inputSchema", t.inputSchema), ("outputSchema", t.outputSchema ?? .null),
        ]))
    }

    static func text(_ p: LoadedPlugin) -> String {
        var s = "\(p.name) \(p.version)  (plugin ABI \(p.abi))  \(p.path)\n"
        if !p.description.isEmpty { s += "  \(p.description)\n" }
        s += p.isolation == .process ? "  isolation: process (\(p.workers) worker processes)\n" : "  isolation: in-process\n"
        s += "  agents (\(p.agents.count)):\n"
        for a in p.agents {
            let timeout = a.defaultTimeout.map { "\($0.milliseconds) ms" } ?? "runtime default"
            s += "    \(a.name) — \(a.description)\n"
            s += "      thread-safe: \(a.threadSafe ? "yes" : "no (calls serialised)")   default timeout: \(timeout)"
            if a.returnsPromptly { s += "   returns promptly (runs on the calling thread)" }
            s += a.hasSessionHooks ? "   per-session state: yes\n" : "\n"
            s += "      input schema: \(a.inputSchema?.serialized() ?? "(none)")\n"
        }
        s += "  tools (\(p.tools.count)):\n"
        for t in p.tools { s += text(t, indent: "    ") }
        return s
    }

    static func text(_ t: ToolDescriptor, indent: String) -> String {
        var s = "\(indent)\(t.qualifiedName) — \(t.description)\n"
        if case .native(let p) = t.kind { s += "\(indent)  prototype: \(p)\n" }
        s += "\(indent)  input schema: \(t.inputSchema.serialized())\n"
        if let o = t.outputSchema { s += "\(indent)  output schema: \(o.serialized())\n" }
        return s
    }
}
