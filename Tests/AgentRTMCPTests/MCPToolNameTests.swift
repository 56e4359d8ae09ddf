import AgentRTCore
import AgentRTMCP
import Testing

@Suite("MCP tool names")
struct MCPToolNameTests {
    @Test("plugin.tool is a tool, plugin.agent.NAME an agent; anything else is no name of ours")
    func readBack() {
        #expect(MCPToolName(mcpName: "basics.add") == .tool(qualifiedName: "basics.add"))
        #expect(MCPToolName(mcpName: "textkit.agent.planner") == .agent(plugin: "textkit", name: "planner"))
        // A plugin named `agent` has tools `agent.x`: one dot, still a tool.
        #expect(MCPToolName(mcpName: "agent.x") == .tool(qualifiedName: "agent.x"))
        for bad in ["add", "basics.", ".add", "a.b.c", "a..c", "a.agent.", "a.agent.b.c", ""] {
            #expect(MCPToolName(mcpName: bad) == nil, "\(bad)")
        }
    }

    @Test("an agent and a tool of the same name in one plugin get different MCP names")
    func noCollision() {
        let tool = ToolDescriptor(plugin: "p", name: "summarize", inputSchema: ["type": "object"], kind: .json)
        let agent = AgentDescriptor(plugin: "p", name: "summarize")
        #expect(MCPToolName.name(of: tool) == "p.summarize")
        #expect(MCPToolName.name(of: agent) == "p.agent.summarize")
        #expect(MCPToolName(mcpName: MCPToolName.name(of: agent)) == .agent(plugin: "p", name: "summarize"))
    }
}
