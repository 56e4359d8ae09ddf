import AgentRTCore
import CAgentRT

/// Reads and validates the descriptor a plugin's entry returned, copying everything it keeps.
/// Every rule of PLUGIN_ABI.md that can be checked statically is checked here, before any
/// other plugin function (init, session hooks, agents) runs.
struct DescriptorReader {
    let path: String

    struct Parsed {
        var name = "", version = "", description = ""
        var agents: [NativeAgent] = []
        var tools: [NativeTool] = []
        var onInit: agentrt_init_fn?
        var onShutdown: agentrt_shutdown_fn?
    }

    /// Upper bounds that turn garbage counts and lengths into errors instead of huge reads.
    static let maxItems: UInt32 = 4096
    static let maxStringBytes = 1 << 20

    func fail(_ problem: String) -> PluginLoadError { PluginLoadError(.invalidDescriptor, path: path, problem) }

    mutating func read(_ raw: UnsafeRawPointer) throws(PluginLoadError) -> Parsed {
        let size = raw.load(as: UInt32.self)
        let expected = MemoryLayout<agentrt_plugin>.stride
        guard Int(size) == expected else {
            throw fail("agentrt_plugin.struct_size is \(size), expected \(expected) for plugin ABI 1.0 (set it to sizeof(agentrt_plugin))")
        }
        let d = raw.load(as: agentrt_plugin.self)
        var out = Parsed()
        out.name = try string(d.name, "plugin name")
        if let why = NameRules.checkPluginName(out.name) { throw fail("plugin name \"\(out.name)\" \(why)") }
        out.version = try string(d.version, "plugin \"\(out.name)\" version")
        out.description = try string(d.description, "plugin \"\(out.name)\" description")
        out.onInit = d.on_init
        out.onShutdown = d.on_shutdown

        try forEach(d.agents.map(UnsafeRawPointer.init), count: d.agent_count, what: "agent",
                    structName: "agentrt_agent", expected: MemoryLayout<agentrt_agent>.stride) { (i, p) throws(PluginLoadError) in
            out.agents.append(try agent(p.load(as: agentrt_agent.self), index: i, plugin: out.name))
        }
        var seen = Set<String>()
        for a in out.agents where !seen.insert(a.descriptor.name).inserted {
            throw fail("two agents are named \"\(a.descriptor.name)\"; agent names must be unique")
        }
        try forEach(d.tools.map(UnsafeRawPointer.init), count: d.tool_count, what: "tool",
                    structName: "agentrt_tool", expected: MemoryLayout<agentrt_tool>.stride) { (i, p) throws(PluginLoadError) in
            out.tools.append(try tool(p.load(as: agentrt_tool.self), index: i, plugin: out.name))
        }
        seen.removeAll()
        for t in out.tools where !seen.insert(t.descriptor.name).inserted {
            throw fail("two tools are named \"\(t.descriptor.name)\"; tool names must be unique")
        }
        return out
    }

    /// Walks an array of size-prefixed structs. ABI 1.0 is the first version, so every element
    /// must be exactly its 1.0 size (C's sizeof), which is then also the array's stride; a later
    /// minor reading an older plugin will walk with the first element's smaller size.
    func forEach(_ base: UnsafeRawPointer?, count: UInt32, what: String, structName: String, expected: Int,
                 _ body: (Int, UnsafeRawPointer) throws(PluginLoadError) -> Void) throws(PluginLoadError) {
        if count == 0 { return }
        guard let base else { throw fail("\(what)_count is \(count) but the \(what)s array is NULL") }
        guard count <= Self.maxItems else { throw fail("\(what)_count is \(count), more than the limit of \(Self.maxItems)") }
        for i in 0..<Int(count) {
            let p = base + i * expected
            let size = p.load(as: UInt32.self)
            guard Int(size) == expected else {
                if i > 0 && size == 0 {
                    throw fail("\(what)[\(i)] has struct_size 0: \(what)_count is \(count) but the array seems to hold only \(i) \(what)(s)")
                }
                throw fail("\(what)[\(i)].struct_size is \(size), expected \(expected) (set it to sizeof(\(structName)))")
            }
            try body(i, p)
        }
    }

    func agent(_ a: agentrt_agent, index: Int, plugin: String) throws(PluginLoadError) -> NativeAgent {
        let name = try string(a.name, "agent[\(index)] name")
        if name.isEmpty && a.name.ptr == nil { throw fail("agent[\(index)] has a NULL name") }
        if let why = NameRules.checkAgentOrPluginName(name) { throw fail("agent[\(index)] name \"\(name)\" \(why)") }
        guard let run = a.run else { throw fail("agent \"\(name)\" has no run function") }
        if (a.session_open == nil) != (a.session_close == nil) {
            throw fail("agent \"\(name)\" sets only one of session_open/session_close; set both or neither")
        }
        if a.flags & ~(UInt32(AGENTRT_AGENT_THREAD_SAFE) | UInt32(AGENTRT_AGENT_RETURNS_PROMPTLY)) != 0 {
            throw fail("agent \"\(name)\" has unknown flags 0x\(String(a.flags, radix: 16))")
        }
        let description = try string(a.description, "agent \"\(name)\" description")
        let schemaText = try string(a.input_schema, "agent \"\(name)\" input_schema")
        var schema: JSONValue? = nil
        if !schemaText.isEmpty {
            schema = try jsonSchema(schemaText, what: "agent \"\(name)\" input_schema")
        }
        let descriptor = AgentDescriptor(
            plugin: plugin, name: name, description: description, inputSchema: schema,
            threadSafe: a.flags & UInt32(AGENTRT_AGENT_THREAD_SAFE) != 0,
            defaultTimeout: a.default_timeout_ms == 0 ? nil : .milliseconds(Int64(a.default_timeout_ms)),
            hasSessionHooks: a.session_open != nil,
            returnsPromptly: a.flags & UInt32(AGENTRT_AGENT_RETURNS_PROMPTLY) != 0)
        return NativeAgent(descriptor: descriptor, run: run, sessionOpen: a.session_open, sessionClose: a.session_close)
    }

    func tool(_ t: agentrt_tool, index: Int, plugin: String) throws(PluginLoadError) -> NativeTool {
        let name = try string(t.name, "tool[\(index)] name")
        if name.isEmpty && t.name.ptr == nil { throw fail("tool[\(index)] has a NULL name") }
        if let why = NameRules.checkToolName(name) { throw fail("tool[\(index)] name \"\(name)\" \(why)") }
        let description = try string(t.description, "tool \"\(name)\" description")
        let timeout: Duration? = t.default_timeout_ms == 0 ? nil : .milliseconds(Int64(t.default_timeout_ms))
        switch Int32(bitPattern: t.kind) {
        case Int32(AGENTRT_TOOL_JSON):
            guard let fn = t.json_fn else { throw fail("JSON tool \"\(name)\" has no json_fn") }
            let schemaText = try string(t.input_schema, "tool \"\(name)\" input_schema")
            let schema: JSONValue = schemaText.isEmpty
                ? .object(JSONObject([("type", .string("object"))]))
                : try jsonSchema(schemaText, what: "tool \"\(name)\" input_schema")
            let d = ToolDescriptor(plugin: plugin, name: name, description: description, inputSchema: schema,
                                   kind: .json, defaultTimeout: timeout)
            return NativeTool(descriptor: d, jsonFunction: fn, typed: nil)
        case Int32(AGENTRT_TOOL_NATIVE):
            guard let fn = t.native_fn else { throw fail("native tool \"\(name)\" has no native_fn") }
            let text = try string(t.prototype, "tool \"\(name)\" prototype")
            let proto: CPrototype
            let typed: TypedTool
            do {
                proto = try CPrototype.parse(text)
                typed = try TypedTool(prototype: proto, function: unsafeBitCast(fn, to: UnsafeRawPointer.self))
            } catch {
                throw fail("native tool \"\(name)\" has an unsupported prototype: \(error)")
            }
            let d = ToolDescriptor(plugin: plugin, name: name, description: description, inputSchema: proto.inputSchema,
                                   outputSchema: proto.outputSchema, kind: .native(prototype: text), defaultTimeout: timeout)
            return NativeTool(descriptor: d, jsonFunction: nil, typed: typed)
        default:
            throw fail("tool \"\(name)\" has unknown kind \(t.kind) (expected AGENTRT_TOOL_JSON or AGENTRT_TOOL_NATIVE)")
        }
    }

    func jsonSchema(_ text: String, what: String) throws(PluginLoadError) -> JSONValue {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch { throw fail("\(what) is not valid JSON: \(error)") }
        do { _ = try JSONSchema(value) } catch { throw fail("\(what) is not a usable JSON Schema: \(error)") }
        return value
    }

    func string(_ s: agentrt_str, _ what: String) throws(PluginLoadError) -> String {
        if s.len == 0 { return "" }
        guard let p = s.ptr else { throw fail("\(what) has length \(s.len) but a NULL pointer") }
        guard s.len <= Self.maxStringBytes else { throw fail("\(what) is \(s.len) bytes long (limit \(Self.maxStringBytes))") }
        let bytes = UnsafeRawBufferPointer(start: p, count: s.len)
        guard let str = String(validating: bytes, as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return str
    }
}
