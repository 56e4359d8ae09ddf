import AgentRTCore
import MCP

/// One runtime tool called for an MCP client.
struct MCPToolCall: Sendable {
    let runtime: Runtime
    let user: MCPUser

    /// Calls `tool` with the client's arguments. Every outcome is a tool result: the tool's
    /// own error (`isError` from the tool) carries its message; the runtime's refusals (bad
    /// arguments, timeout, open breaker, overload, unknown tool) carry `code: message`, so the
    /// model calling the tool can read what went wrong and try again.
    func call(_ tool: ToolDescriptor, arguments: [String: Value]?) async -> CallTool.Result {
        let runtime = runtime, user = user
        let name = tool.qualifiedName
        let args = MCPValues.argumentsJSON(arguments)
        // `callTool` parks its thread until the tool ends (or its deadline): a native thread.
        let result = await BlockingCall.run(
            name: "agentrt-mcp-tool",
            refused: .failure(AgentRTError(.overloaded, "no thread could be started for the tool call"))) {
            runtime.callTool(userID: user.userID, sessionID: user.sessionID, name: name, argumentsJSON: args)
        }
        switch result {
        case .success(let r) where r.isError:
            return MCPStructuredResult.error("tool \(name) failed: \(MCPStructuredResult.ownErrorText(r.content))")
        case .success(let r):
            return MCPStructuredResult.success(resultJSON: r.content, schema: tool.outputSchema)
        case .failure(let e):
            return MCPStructuredResult.error(MCPStructuredResult.errorText(e))
        }
    }
}
