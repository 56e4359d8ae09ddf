import AgentRTCore
import MCP

/// The MCP tools a runtime offers: every tool of its dispatcher (`plugin.tool`) and every
/// registered agent (`plugin.agent.NAME`), built from the runtime's descriptors on each
/// `tools/list`, so tools registered later are listed too.
struct MCPToolCatalog: Sendable {
    let runtime: Runtime

    /// What an MCP tool name resolves to.
    enum Target: Sendable {
        case tool(ToolDescriptor)
        case agent(AgentDescriptor)
        /// No tool or agent of that name; the text says why.
        case unknown(String)
    }

    /// Every tool then every agent, each group sorted by name. Host tools (`host.*`) are
    /// listed too: they are tools of the runtime like any other.
    func tools() -> [Tool] {
        let tools = runtime.tools.descriptors.sorted { $0.qualifiedName < $1.qualifiedName }.map(Self.tool(for:))
        let agents = runtime.agentDescriptors.map(Self.tool(for:))
        return tools + agents
    }

    func resolve(_ mcpName: String) -> Target {
        switch MCPToolName(mcpName: mcpName) {
        case .tool(let qualified)?:
            if let d = runtime.tools.descriptors.first(where: { $0.qualifiedName.utf8.elementsEqual(qualified.utf8) }) {
                return .tool(d)
            }
            return .unknown("unknown tool \"\(mcpName)\": no loaded plugin has a tool of that name (see tools/list)")
        case .agent(let plugin, let name)?:
            if let d = runtime.agentDescriptors.first(where: {
                $0.plugin.utf8.elementsEqual(plugin.utf8) && $0.name.utf8.elementsEqual(name.utf8)
            }) {
                return .agent(d)
            }
            return .unknown("unknown tool \"\(mcpName)\": no loaded plugin has an agent \(plugin).\(name) (see tools/list)")
        case nil:
            return .unknown("unknown tool \"\(mcpName)\": names are plugin.tool for tools and plugin.agent.NAME for agents")
        }
    }

    static func tool(for d: ToolDescriptor) -> Tool {
        Tool(name: MCPToolName.name(of: d),
             description: d.description.isEmpty ? "Tool \(d.qualifiedName)." : d.description,
             inputSchema: MCPValues.value(d.inputSchema),
             annotations: annotations(for: d),
             outputSchema: MCPStructuredResult.outputSchema(d.outputSchema))
    }

    static func tool(for d: AgentDescriptor) -> Tool {
        let about = d.description.isEmpty ? "Runs agent \(d.qualifiedName)." : d.description
        return Tool(name: MCPToolName.name(of: d),
                    title: "Agent \(d.qualifiedName)",
                    description: about + " (An agent run: send a progressToken to receive its events as progress.)",
                    inputSchema: d.inputSchema.map(MCPValues.value) ?? .object(["type": .string("object")]),
                    annotations: .init(title: "Agent \(d.qualifiedName)", openWorldHint: true))
    }

    /// Only what the runtime knows: a display title. Plugins declare no behaviour hints
    /// (read-only, idempotent, open-world) in the plugin ABI, and a typed C function may still
    /// write anywhere, so no hint is claimed (the spec's defaults apply).
    static func annotations(for d: ToolDescriptor) -> Tool.Annotations {
        .init(title: d.qualifiedName)
    }
}
