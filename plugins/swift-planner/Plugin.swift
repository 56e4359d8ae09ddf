// swiftplanner — an example plugin written in Swift with AgentRTSDK.
//
// Its agent plans with tools: it counts words with its own Swift tool, asks the runtime for the
// time left, reverses the text with a second tool, and answers from their results.
import AgentRTSDK
import CAgentRT

let plugin = PluginDefinition(
    name: "swiftplanner", version: "1.0.0",
    description: "A planning agent and two text tools, written in Swift.",
    agents: [
        AgentDefinition(
            "planner", description: "Counts and reverses the words of input.text using tools.",
            inputSchema: #"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#
        ) { call, input in
            call.think("plan: count the words, then reverse them")
            let counted = try call.callTool("swiftplanner.count_words", arguments: input)
            try call.heartbeat("counted: \(counted)")
            let reversed = try call.callTool("reverse_words", arguments: input)
            return #"{"count":\#(counted),"reversed":\#(reversed),"user":"# + quoted(call.userID) + "}"
        },
    ],
    tools: [
        ToolDefinition(
            "count_words", description: "Counts the words of text.",
            inputSchema: #"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#
        ) { _, args in
            String(textField(args).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).count)
        },
        ToolDefinition(
            "reverse_words", description: "Reverses the order of the words of text.",
            inputSchema: #"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#
        ) { _, args in
            quoted(textField(args).split(separator: " ").reversed().joined(separator: " "))
        },
    ])

@_cdecl("agentrt_plugin_entry")
public func agentrtPluginEntry(_ host: UnsafePointer<agentrt_host>?) -> UnsafePointer<agentrt_plugin>? {
    plugin.export(host: host)
}

func quoted(_ s: String) -> String {
    var out = ""
    appendJSONString(s, to: &out)
    return out
}

/// The value of "text" in a small, schema-validated JSON object (escapes other than \" kept as is).
func textField(_ json: String) -> String {
    let chars = Array(json)
    let key = Array("\"text\"")
    guard let start = (0...max(0, chars.count - key.count)).first(where: { chars.count >= key.count && Array(chars[$0..<$0 + key.count]) == key })
    else { return "" }
    var rest = chars[(start + key.count)...].drop { $0 == " " || $0 == ":" }
    guard rest.first == "\"" else { return "" }
    rest = rest.dropFirst()
    var out = ""
    var escaped = false
    for ch in rest {
        if escaped { out.append(ch == "n" ? "\n" : ch); escaped = false; continue }
        if ch == "\\" { escaped = true; continue }
        if ch == "\"" { break }
        out.append(ch)
    }
    return out
}
