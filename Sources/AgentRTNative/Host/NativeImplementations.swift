import AgentRTCore
import CAgentRT

/// Runs a C agent: issues a call handle, calls the run function on the worker thread, retires
/// the handle when the function returns (also when the call was abandoned long before).
struct NativeAgentImplementation: AgentImplementation {
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
struct NativeJSONTool: ToolImplementation {
    let plugin: NativePlugin
    let function: agentrt_tool_fn

    func invoke(_ call: AgentCall, arguments: JSONValue, argumentsJSON: String) -> ToolOutput {
        let token = HandleTable.shared.register(call)
        call.hostToken.store(token, ordering: .releasing)
        defer { HandleTable.shared.retire(token) }
        var a = argumentsJSON
        let status = a.withUTF8 { function(plugin.state, HostTable.handle(token), view($0)) }
        let (result, refusal, message) = call.resultState
        if status == 0 {
            if let result { return .result(result) }
            if let refusal { return .failure(AgentRTError(.invalidOutput, "tool \(plugin.name): \(refusal)")) }
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
        let known = Set(agentDescriptors.map(\.qualifiedName))
        for a in plugin.agents where !known.contains(a.descriptor.qualifiedName) {
            try register(agent: a.descriptor, implementation: NativeAgentImplementation(plugin: plugin, agent: a))
        }
        let knownTools = Set(tools.descriptors.map(\.qualifiedName))
        for t in plugin.tools where !knownTools.contains(t.descriptor.qualifiedName) {
            if let typed = t.typed {
                try tools.register(t.descriptor, implementation: NativeTypedTool(tool: typed))
            } else if let fn = t.jsonFunction {
                try tools.register(t.descriptor, implementation: NativeJSONTool(plugin: plugin, function: fn))
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
