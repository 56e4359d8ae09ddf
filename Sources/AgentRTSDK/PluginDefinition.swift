public import CAgentRT
import CAgentRTPluginMagic

/// An agent of a Swift plugin: a closure from JSON input to JSON result.
public struct AgentDefinition: Sendable {
    public let name: String
    public let description: String
    public let inputSchema: String
    public let threadSafe: Bool
    public let defaultTimeoutMilliseconds: UInt32
    /// `AGENTRT_AGENT_RETURNS_PROMPTLY`: the agent never blocks, so its calls may run on the
    /// calling thread (no hand-off). See GUARDS.md, "Caller's-thread execution".
    public let returnsPromptly: Bool
    let run: @Sendable (CallContext, String) throws -> String

    public init(_ name: String, description: String = "", inputSchema: String = "", threadSafe: Bool = true,
                defaultTimeoutMilliseconds: UInt32 = 0, returnsPromptly: Bool = false,
                run: @escaping @Sendable (CallContext, String) throws -> String) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.threadSafe = threadSafe
        self.defaultTimeoutMilliseconds = defaultTimeoutMilliseconds
        self.returnsPromptly = returnsPromptly
        self.run = run
    }
}

/// A JSON tool of a Swift plugin.
public struct ToolDefinition: Sendable {
    public let name: String
    public let description: String
    public let inputSchema: String
    let run: @Sendable (CallContext, String) throws -> String

    public init(_ name: String, description: String = "", inputSchema: String = "",
                run: @escaping @Sendable (CallContext, String) throws -> String) {
        self.name = name
        self.description = description
        self.inputSchema = inputSchema
        self.run = run
    }
}

/// A Swift plugin: its agents and tools, exported as the C descriptor the runtime reads.
///
/// ```swift
/// let plugin = PluginDefinition(name: "hello", version: "1.0.0", agents: [
///     AgentDefinition("greet") { call, input in "{\"hi\":\"\(call.userID)\"}" },
/// ])
/// @_cdecl("agentrt_plugin_entry")
/// public func agentrtPluginEntry(_ host: UnsafePointer<agentrt_host>?) -> UnsafePointer<agentrt_plugin>? {
///     plugin.export(host: host)
/// }
/// ```
public final class PluginDefinition: @unchecked Sendable {
    public let name: String
    public let version: String
    public let description: String
    public let agents: [AgentDefinition]
    public let tools: [ToolDefinition]

    public init(name: String, version: String, description: String = "", agents: [AgentDefinition] = [],
                tools: [ToolDefinition] = []) {
        precondition(agents.count <= agentTrampolines.count, "a Swift plugin has at most \(agentTrampolines.count) agents")
        precondition(tools.count <= toolTrampolines.count, "a Swift plugin has at most \(toolTrampolines.count) tools")
        self.name = name
        self.version = version
        self.description = description
        self.agents = agents
        self.tools = tools
    }

    /// Builds the C descriptor once (it lives as long as the process) and remembers `host`.
    /// Returns nil if the host table is missing or from an incompatible ABI major.
    public func export(host: UnsafePointer<agentrt_host>?) -> UnsafePointer<agentrt_plugin>? {
        guard let host, host.pointee.abi_major == UInt16(AGENTRT_ABI_MAJOR) else { return nil }
        // Referencing the magic keeps its object file in every link.
        precondition(agentrt_plugin_magic.tag == AGENTRT_MAGIC_TAG)
        return SDKRegistry.install(self, host: host)
    }
}

/// The one plugin of this library (each plugin .so links its own copy of the SDK).
enum SDKRegistry {
    nonisolated(unsafe) static var host: UnsafePointer<agentrt_host>?
    nonisolated(unsafe) static var plugin: PluginDefinition?
    nonisolated(unsafe) static var descriptor: UnsafePointer<agentrt_plugin>?
    static let lock = SDKLock()

    static func install(_ p: PluginDefinition, host h: UnsafePointer<agentrt_host>) -> UnsafePointer<agentrt_plugin> {
        lock.withLock {
            if let descriptor { return descriptor }
            host = h
            plugin = p
            let agents = UnsafeMutablePointer<agentrt_agent>.allocate(capacity: max(1, p.agents.count))
            for (i, a) in p.agents.enumerated() {
                (agents + i).initialize(to: agentrt_agent(
                    struct_size: UInt32(MemoryLayout<agentrt_agent>.size),
                    flags: (a.threadSafe ? UInt32(AGENTRT_AGENT_THREAD_SAFE) : 0)
                        | (a.returnsPromptly ? UInt32(AGENTRT_AGENT_RETURNS_PROMPTLY) : 0),
                    name: permanent(a.name), description: permanent(a.description),
                    input_schema: permanent(a.inputSchema), default_timeout_ms: a.defaultTimeoutMilliseconds,
                    reserved: 0, run: agentTrampolines[i], session_open: nil, session_close: nil))
            }
            let tools = UnsafeMutablePointer<agentrt_tool>.allocate(capacity: max(1, p.tools.count))
            for (i, t) in p.tools.enumerated() {
                (tools + i).initialize(to: agentrt_tool(
                    struct_size: UInt32(MemoryLayout<agentrt_tool>.size), kind: UInt32(AGENTRT_TOOL_JSON),
                    name: permanent(t.name), description: permanent(t.description), input_schema: permanent(t.inputSchema),
                    json_fn: toolTrampolines[i], prototype: agentrt_str(ptr: nil, len: 0), native_fn: nil,
                    default_timeout_ms: 0, reserved: 0))
            }
            let d = UnsafeMutablePointer<agentrt_plugin>.allocate(capacity: 1)
            d.initialize(to: agentrt_plugin(
                struct_size: UInt32(MemoryLayout<agentrt_plugin>.size), reserved: 0,
                name: permanent(p.name), version: permanent(p.version), description: permanent(p.description),
                agents: UnsafePointer(agents), agent_count: UInt32(p.agents.count), tool_count: UInt32(p.tools.count),
                tools: UnsafePointer(tools), on_init: nil, on_shutdown: nil))
            descriptor = UnsafePointer(d)
            return descriptor!
        }
    }

    /// A string view whose bytes live forever (descriptor strings).
    static func permanent(_ s: String) -> agentrt_str {
        let bytes = Array(s.utf8)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
        p[bytes.count] = 0
        return agentrt_str(ptr: UnsafePointer(p), len: bytes.count)
    }

    static func runAgent(_ index: Int, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
        guard let host, let plugin, index < plugin.agents.count else { return agentrt_status(AGENTRT_ERR_INTERNAL) }
        return invoke(plugin.agents[index].run, host, call, input)
    }

    static func runTool(_ index: Int, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
        guard let host, let plugin, index < plugin.tools.count else { return agentrt_status(AGENTRT_ERR_INTERNAL) }
        return invoke(plugin.tools[index].run, host, call, args)
    }

    static func invoke(_ body: @Sendable (CallContext, String) throws -> String, _ host: UnsafePointer<agentrt_host>,
                       _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
        let ctx = CallContext(host: host, call: call)
        let text = input.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: input.len), as: UTF8.self) } ?? ""
        do {
            return ctx.setResult(try body(ctx, text))
        } catch let f as PluginFailure {
            ctx.setError(f.message)
            return f.status
        } catch {
            ctx.setError("\(error)")
            return agentrt_status(AGENTRT_ERR_AGENT_ERROR)
        }
    }
}
