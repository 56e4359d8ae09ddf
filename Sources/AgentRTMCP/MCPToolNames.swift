import AgentRTCore

/// How runtime tools and agents are named as MCP tools.
///
/// The MCP 2025-11-25 spec lets tool names use `A-Z a-z 0-9 _ - .` (1–128 characters,
/// case-sensitive), so a runtime tool keeps its own name, `plugin.tool`: plugin names are
/// `[a-z0-9_-]` and tool names `[A-Za-z0-9_-]`, neither contains a dot, so every runtime tool
/// name has exactly one dot. Agents are offered as `plugin.agent.NAME`: two dots, so an agent
/// can never collide with a tool of the same plugin that has the agent's name (and the plugin
/// `agent`, whose tools are `agent.x`, still has one dot). Names longer than 128 characters
/// (a 64-byte plugin and a 64-byte tool) are still served; the spec's limit is a SHOULD.
public enum MCPToolName: Sendable, Equatable {
    /// A runtime tool, by its qualified name `plugin.tool`.
    case tool(qualifiedName: String)
    /// An agent, `plugin.agent.NAME`.
    case agent(plugin: String, name: String)

    /// The word between plugin and agent name in an agent's MCP name.
    public static let agentInfix = "agent"

    /// The MCP name of a runtime tool.
    public static func name(of tool: ToolDescriptor) -> String { tool.qualifiedName }

    /// The MCP name of an agent.
    public static func name(of agent: AgentDescriptor) -> String {
        "\(agent.plugin).\(agentInfix).\(agent.name)"
    }

    /// Reads an MCP tool name back; nil when it has neither shape (one dot: a tool; two dots
    /// with `agent` in the middle: an agent).
    public init?(mcpName: String) {
        let parts = mcpName.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty:
            self = .tool(qualifiedName: mcpName)
        case 3 where !parts[0].isEmpty && parts[1].utf8.elementsEqual(Self.agentInfix.utf8) && !parts[2].isEmpty:
            self = .agent(plugin: parts[0], name: parts[2])
        default:
            return nil
        }
    }
}
