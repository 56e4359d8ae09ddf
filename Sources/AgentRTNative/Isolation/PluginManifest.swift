import AgentRTCore

/// What a worker process reports about the plugin it loaded: the descriptors the runtime
/// registers (the runtime never maps an isolated plugin's library itself, so it learns them
/// from the worker).
struct PluginManifest {
    var name: String
    var version: String
    var description: String
    var abiMajor: UInt16
    var abiMinor: UInt16
    var agents: [AgentDescriptor]
    var tools: [ToolDescriptor]

    init(_ p: NativePlugin) {
        name = p.name
        version = p.version
        description = p.description
        abiMajor = p.abiMajor
        abiMinor = p.abiMinor
        agents = p.agents.map(\.descriptor)
        tools = p.tools.map(\.descriptor)
    }

    func encode(into w: inout WireWriter) {
        w.str(name); w.str(version); w.str(description)
        w.u32(UInt32(abiMajor) << 16 | UInt32(abiMinor))
        w.u32(UInt32(agents.count))
        for a in agents {
            w.str(a.name); w.str(a.description)
            w.optionalStr(a.inputSchema?.serialized())
            w.bool(a.threadSafe)
            w.i64(a.defaultTimeout.map { $0.nanoseconds.asInt64 } ?? -1)
            w.bool(a.hasSessionHooks)
            w.bool(a.returnsPromptly)
        }
        w.u32(UInt32(tools.count))
        for t in tools {
            w.str(t.name); w.str(t.description)
            w.str(t.inputSchema.serialized())
            w.optionalStr(t.outputSchema?.serialized())
            switch t.kind {
            case .json, .host: w.optionalStr(nil)
            case .native(let prototype): w.optionalStr(prototype)
            }
            w.i64(t.defaultTimeout.map { $0.nanoseconds.asInt64 } ?? -1)
        }
    }

    init(from r: inout WireReader) throws(WireError) {
        name = try r.str(); version = try r.str(); description = try r.str()
        let abi = try r.u32()
        abiMajor = UInt16(abi >> 16); abiMinor = UInt16(abi & 0xFFFF)
        let plugin = name
        func schema(_ s: String?) throws(WireError) -> JSONValue? {
            guard let s else { return nil }
            do { return try JSONValue.parse(s) } catch { throw WireError(description: "a schema that is not JSON: \(error)") }
        }
        func timeout(_ ns: Int64) -> Duration? { ns < 0 ? nil : .nanoseconds(ns) }
        agents = []
        for _ in 0..<Int(try r.u32()) {
            let n = try r.str(), d = try r.str(), s = try schema(try r.optionalStr())
            let safe = try r.bool(), t = timeout(try r.i64()), hooks = try r.bool(), prompt = try r.bool()
            agents.append(AgentDescriptor(plugin: plugin, name: n, description: d, inputSchema: s, threadSafe: safe,
                                          defaultTimeout: t, hasSessionHooks: hooks, returnsPromptly: prompt))
        }
        tools = []
        for _ in 0..<Int(try r.u32()) {
            let n = try r.str(), d = try r.str()
            guard let input = try schema(try r.str()) else { throw WireError(description: "a tool without a schema") }
            let output = try schema(try r.optionalStr())
            let kind: ToolKind = (try r.optionalStr()).map { .native(prototype: $0) } ?? .json
            let t = timeout(try r.i64())
            tools.append(ToolDescriptor(plugin: plugin, name: n, description: d, inputSchema: input, outputSchema: output,
                                        kind: kind, defaultTimeout: t))
        }
    }
}

extension UInt64 {
    var asInt64: Int64 { self > UInt64(Int64.max) ? Int64.max : Int64(self) }
}
