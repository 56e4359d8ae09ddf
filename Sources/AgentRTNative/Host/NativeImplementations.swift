public import AgentRTCore
public import CAgentRT
#if canImport(Glibc)
import Glibc
#endif

/// Runs a C agent: issues a call handle, calls the run function on the worker thread, retires
/// the handle when the function returns (also when the call was abandoned long before).
/// A class: the runtime holds it as `any AgentImplementation`, and copying that existential
/// copies a struct's every reference (one retain for a class).
final class NativeAgentImplementation: AgentImplementation, @unchecked Sendable {
    let plugin: NativePlugin
    let agent: NativeAgent
    let shared: AgentInstance

    init(plugin: NativePlugin, agent: NativeAgent) {
        self.plugin = plugin
        self.agent = agent
        self.shared = AgentInstance(raw: plugin.state)
    }

    var hasSessionHooks: Bool { agent.sessionOpen != nil }

    func sharedInstance() -> AgentInstance { shared }

    func openSession(userID: String, sessionID: String) throws(AgentRTError) -> AgentInstance {
        guard let open = agent.sessionOpen else { return shared }
        var out: UnsafeMutableRawPointer? = nil
        var u = userID, s = sessionID
        let status = u.withUTF8 { ub in
            s.withUTF8 { sb in
                open(plugin.state, view(ub), view(sb), &out)
            }
        }
        guard status == 0 else {
            throw AgentRTError(.agentError, "\(plugin.name).\(agent.descriptor.name) session_open returned \(HostStatus(rawValue: status)?.name ?? String(status))")
        }
        return AgentInstance(raw: out)
    }

    func closeSession(_ instance: AgentInstance) {
        agent.sessionClose?(plugin.state, instance.raw)
    }

    func run(_ call: AgentCall, instance: AgentInstance, input: String) -> HostStatus {
        let token = HandleTable.shared.register(call)
        call.hostToken.store(token, ordering: .releasing)
        defer { HandleTable.shared.retire(token) }
        var i = input
        let status = i.withUTF8 { agent.run(instance.raw, HostTable.handle(token), view($0)) }
        return HostStatus(rawValue: status) ?? .agentError
    }
}

/// Runs a C JSON tool with its own call handle.
struct NativeJSONTool: ToolImplementation, @unchecked Sendable {
    let owner: String
    let state: UnsafeMutableRawPointer?
    let function: agentrt_tool_fn

    func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput {
        let token = HandleTable.shared.register(call)
        call.hostToken.store(token, ordering: .releasing)
        defer { HandleTable.shared.retire(token) }
        var a = argumentsJSON
        let status = a.withUTF8 { function(state, HostTable.handle(token), view($0)) }
        let (result, refusal, message) = call.resultState
        if status == 0 {
            if let result { return .result(result) }
            if let refusal { return .failure(AgentRTError(.invalidOutput, "tool \(owner).\(call.name): \(refusal)")) }
            return .result("null")
        }
        return .toolError(message ?? "the tool returned \(HostStatus(rawValue: status)?.name ?? String(status))")
    }
}

/// Calls a typed C function through its prepared libffi `cif`.
struct NativeTypedTool: ToolImplementation {
    let tool: TypedTool
    var validatesOwnArguments: Bool { true }

    func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput {
        invoke(arguments: arguments)
    }

    /// Converts the arguments and calls the function (in the runtime, or in a worker process).
    func invoke(arguments: JSONValue) -> ToolOutput {
        let args: TypedTool.Arguments
        do { args = try tool.convertArguments(arguments) } catch {
            return .failure(AgentRTError(.badArguments, "\(tool.prototype.name): \(error.message)"))
        }
        do { return .result(try tool.call(args).serialized()) } catch {
            return .failure(AgentRTError(.invalidOutput, "\(tool.prototype.name): \(error.message)"))
        }
    }
}

@inline(__always)
func view(_ b: UnsafeBufferPointer<UInt8>) -> agentrt_str {
    agentrt_str(ptr: UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), len: b.count)
}

extension Runtime {
    /// Registers every agent and tool of a loaded plugin. Installing the same plugin twice is a
    /// no-op for what is already registered.
    public func install(_ plugin: NativePlugin) throws(AgentRTError) {
        if PluginUses.claim(self, plugin) {
            PluginLoader.shared.retain(plugin)
            addShutdownHook { [plugin] stillRunning in PluginLoader.shared.release(plugin, shutDown: !stillRunning) }
        }
        let known = Set(agentDescriptors.map(\.qualifiedName))
        for a in plugin.agents where !known.contains(a.descriptor.qualifiedName) {
            try register(agent: a.descriptor, implementation: NativeAgentImplementation(plugin: plugin, agent: a))
        }
        let knownTools = Set(tools.descriptors.map(\.qualifiedName))
        for t in plugin.tools where !knownTools.contains(t.descriptor.qualifiedName) {
            if let typed = t.typed {
                try tools.register(t.descriptor, implementation: NativeTypedTool(tool: typed))
            } else if let fn = t.jsonFunction {
                try tools.register(t.descriptor, implementation: NativeJSONTool(owner: plugin.name, state: plugin.state, function: fn))
            }
        }
    }

    /// Loads a plugin file (or reuses it) and installs it.
    @discardableResult
    public func load(path: String, config: String = "{}") throws(PluginLoadError) -> NativePlugin {
        let plugin = try PluginLoader.shared.load(path: path, config: config)
        do { try install(plugin) } catch {
            throw PluginLoadError(.invalidDescriptor, path: path, error.message)
        }
        return plugin
    }
}

/// Which plugins each runtime installed (so each runtime counts once per plugin).
enum PluginUses {
    private static let table = Locked<[ObjectIdentifier: Set<ObjectIdentifier>]>([:])

    /// True the first time `runtime` installs `plugin`.
    static func claim(_ runtime: Runtime, _ plugin: NativePlugin) -> Bool {
        let r = ObjectIdentifier(runtime)
        let (first, firstOfRuntime) = table.withLock { t -> (Bool, Bool) in
            let isNewRuntime = t[r] == nil
            return (t[r, default: []].insert(ObjectIdentifier(plugin)).inserted, isNewRuntime)
        }
        if firstOfRuntime {
            runtime.addShutdownHook { _ in _ = table.withLock { $0.removeValue(forKey: r) } }
        }
        return first
    }
}

/// The process's host table, for embedding hosts whose tools use the same services as plugins.
public enum NativeHost {
    public static var hostTable: UnsafePointer<agentrt_host> { HostTable.pointer }

    /// Where plugin log lines without a call (from `on_init`, `on_shutdown`) go: stderr at
    /// WARN and above by default (the CLI); an embedding host replaces it (the C API silences it
    /// unless the host sets a log callback).
    public static let processLogSink = Locked<(@Sendable (Int32, String) -> Void)?>(nil)
    public static let processLogLevel = Locked<Int32>(3)

    static func logWithoutCall(level: Int32, _ line: String) {
        if let sink = processLogSink.withLock({ $0 }) { sink(level, line); return }
        guard level >= processLogLevel.withLock({ $0 }) else { return }
        var text = "agentrt plugin: \(line)\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}

extension Runtime {
    /// Registers `host.<name>`: a C function described by a prototype, called through libffi.
    /// With `userData`, the function takes it as an extra first `void *` parameter.
    public func registerHostNativeTool(name: String, description: String, prototype: String,
                                       function: UnsafeRawPointer, userData: UnsafeMutableRawPointer?) throws(AgentRTError) {
        let proto: CPrototype
        let typed: TypedTool
        do {
            proto = try CPrototype.parse(prototype)
            typed = try TypedTool(prototype: proto, function: function, boundPointer: userData)
        } catch {
            throw AgentRTError(.badArguments, "unsupported prototype for host tool \(name): \(error)")
        }
        let d = ToolDescriptor(plugin: "host", name: name, description: description, inputSchema: proto.inputSchema,
                               outputSchema: proto.outputSchema, kind: .native(prototype: prototype))
        try tools.register(d, implementation: NativeTypedTool(tool: typed))
    }

    /// Registers `host.<name>`: a JSON tool implemented by a C callback with the plugin JSON-tool
    /// signature; `userData` is its first argument.
    public func registerHostJSONTool(name: String, description: String, inputSchema: String?,
                                     function: agentrt_tool_fn, userData: UnsafeMutableRawPointer?) throws(AgentRTError) {
        var schema: JSONValue = .object(JSONObject([("type", .string("object"))]))
        if let inputSchema, !inputSchema.isEmpty {
            do { schema = try JSONValue.parse(inputSchema) } catch {
                throw AgentRTError(.badArguments, "input schema of host tool \(name) is not valid JSON: \(error)")
            }
        }
        let d = ToolDescriptor(plugin: "host", name: name, description: description, inputSchema: schema, kind: .host)
        try tools.register(d, implementation: NativeJSONTool(owner: "host", state: userData, function: function))
    }
}
