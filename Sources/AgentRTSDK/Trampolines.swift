import CAgentRT

// C cannot call a Swift closure, so each agent and tool slot gets its own nonisolated C-callable
// function that forwards to the closure registered at that index (at most 16 of each per plugin).

private func agentTrampoline0(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(0, call, input)
}
private func toolTrampoline0(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(0, call, args)
}
private func agentTrampoline1(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(1, call, input)
}
private func toolTrampoline1(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(1, call, args)
}
private func agentTrampoline2(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(2, call, input)
}
private func toolTrampoline2(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(2, call, args)
}
private func agentTrampoline3(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(3, call, input)
}
private func toolTrampoline3(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(3, call, args)
}
private func agentTrampoline4(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(4, call, input)
}
private func toolTrampoline4(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(4, call, args)
}
private func agentTrampoline5(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(5, call, input)
}
private func toolTrampoline5(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(5, call, args)
}
private func agentTrampoline6(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(6, call, input)
}
private func toolTrampoline6(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(6, call, args)
}
private func agentTrampoline7(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(7, call, input)
}
private func toolTrampoline7(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(7, call, args)
}
private func agentTrampoline8(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(8, call, input)
}
private func toolTrampoline8(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(8, call, args)
}
private func agentTrampoline9(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(9, call, input)
}
private func toolTrampoline9(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(9, call, args)
}
private func agentTrampoline10(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(10, call, input)
}
private func toolTrampoline10(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(10, call, args)
}
private func agentTrampoline11(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(11, call, input)
}
private func toolTrampoline11(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(11, call, args)
}
private func agentTrampoline12(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(12, call, input)
}
private func toolTrampoline12(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(12, call, args)
}
private func agentTrampoline13(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(13, call, input)
}
private func toolTrampoline13(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(13, call, args)
}
private func agentTrampoline14(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(14, call, input)
}
private func toolTrampoline14(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(14, call, args)
}
private func agentTrampoline15(_ inst: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ input: agentrt_str) -> agentrt_status {
    SDKRegistry.runAgent(15, call, input)
}
private func toolTrampoline15(_ state: UnsafeMutableRawPointer?, _ call: OpaquePointer?, _ args: agentrt_str) -> agentrt_status {
    SDKRegistry.runTool(15, call, args)
}

let agentTrampolines: [agentrt_agent_run_fn] = [
    agentTrampoline0,
    agentTrampoline1,
    agentTrampoline2,
    agentTrampoline3,
    agentTrampoline4,
    agentTrampoline5,
    agentTrampoline6,
    agentTrampoline7,
    agentTrampoline8,
    agentTrampoline9,
    agentTrampoline10,
    agentTrampoline11,
    agentTrampoline12,
    agentTrampoline13,
    agentTrampoline14,
    agentTrampoline15,
]

let toolTrampolines: [agentrt_tool_fn] = [
    toolTrampoline0,
    toolTrampoline1,
    toolTrampoline2,
    toolTrampoline3,
    toolTrampoline4,
    toolTrampoline5,
    toolTrampoline6,
    toolTrampoline7,
    toolTrampoline8,
    toolTrampoline9,
    toolTrampoline10,
    toolTrampoline11,
    toolTrampoline12,
    toolTrampoline13,
    toolTrampoline14,
    toolTrampoline15,
]
