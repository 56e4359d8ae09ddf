import CAgentRT
public import AgentRTCore
#if canImport(Glibc)
import Glibc
#endif

/// A loaded, validated and initialised plugin. It is never unloaded: `dlclose` while a call, a
/// leaked plugin thread or an abandoned call may still run code of the library would be
/// undefined behaviour, so the library stays mapped for the life of the process.
public final class NativePlugin: @unchecked Sendable {
    /// The path it was first loaded from.
    public let path: String
    public let name: String
    public let version: String
    public let description: String
    /// The ABI version the plugin was built for.
    public let abiMajor: UInt16
    public let abiMinor: UInt16
    public let agents: [NativeAgent]
    public let tools: [NativeTool]
    /// The plugin's own state from `on_init` (or nil).
    public let state: UnsafeMutableRawPointer?
    let shutdown: agentrt_shutdown_fn?
    let fileID: FileID

    init(path: String, name: String, version: String, description: String, abiMajor: UInt16, abiMinor: UInt16,
         agents: [NativeAgent], tools: [NativeTool], state: UnsafeMutableRawPointer?,
         shutdown: agentrt_shutdown_fn?, fileID: FileID) {
        self.path = path
        self.name = name
        self.version = version
        self.description = description
        self.abiMajor = abiMajor
        self.abiMinor = abiMinor
        self.agents = agents
        self.tools = tools
        self.state = state
        self.shutdown = shutdown
        self.fileID = fileID
    }

    /// The agent named `name`, if any.
    public func agent(named name: String) -> NativeAgent? { agents.first { $0.descriptor.name == name } }
    /// The tool named `name` (short name), if any.
    public func tool(named name: String) -> NativeTool? { tools.first { $0.descriptor.name == name } }
}

/// One agent of a native plugin: its descriptor and its entry points.
public struct NativeAgent: @unchecked Sendable {
    public let descriptor: AgentDescriptor
    let run: agentrt_agent_run_fn
    let sessionOpen: agentrt_session_open_fn?
    let sessionClose: agentrt_session_close_fn?
}

/// One tool of a native plugin.
public struct NativeTool: @unchecked Sendable {
    public let descriptor: ToolDescriptor
    let jsonFunction: agentrt_tool_fn?
    /// The prepared libffi call for typed tools.
    public let typed: TypedTool?
}

/// Identity of a file on disk: the same device and inode is the same plugin.
struct FileID: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
}
