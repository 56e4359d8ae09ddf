import AgentRTCore
import Foundation
import MCP

/// Conversions between the runtime's JSON (text and `JSONValue`) and the SDK's `Value`.
///
/// Both sides are JSON, so the bridge is JSON text: the runtime serialises, Foundation decodes
/// into `Value` (and back). Numbers keep their value (integers as `Int`, others as `Double`).
enum MCPValues {
    /// The SDK value of a runtime JSON value.
    static func value(_ json: JSONValue) -> Value { value(jsonText: json.serialized()) ?? .null }

    /// The SDK value of JSON text; nil when the text is not JSON.
    static func value(jsonText: String) -> Value? {
        try? JSONDecoder().decode(Value.self, from: Data(jsonText.utf8))
    }

    /// JSON text of an SDK value (compact, keys sorted, so equal values serialise equally).
    static func jsonText(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value), let s = String(data: data, encoding: .utf8) else { return "null" }
        return s
    }

    /// The arguments of a `tools/call` as the JSON object text the runtime takes.
    static func argumentsJSON(_ arguments: [String: Value]?) -> String {
        jsonText(.object(arguments ?? [:]))
    }

    /// Whether a JSON Schema describes an object (`type: "object"`); MCP requires an object
    /// `outputSchema` and an object `structuredContent`.
    static func isObjectSchema(_ schema: JSONValue) -> Bool {
        guard case .object(let o) = schema, let t = o["type"] else { return false }
        return t.stringValue.map { $0.utf8.elementsEqual("object".utf8) } ?? false
    }
}

/// How results become MCP structured content.
///
/// MCP's `structuredContent` must be a JSON object. A result that is an object is sent as it
/// is; any other result (a typed tool's integer, a string, an array) is wrapped as
/// `{"result": value}`, and a typed tool's non-object output schema is wrapped the same way,
/// so `structuredContent` always matches the advertised `outputSchema`. The text block carries
/// the same JSON as `structuredContent`, as the spec recommends for older clients.
enum MCPStructuredResult {
    /// The member that holds a non-object result.
    static let wrapperKey = "result"

    /// The advertised output schema for a runtime output schema (nil when unknown).
    static func outputSchema(_ schema: JSONValue?) -> Value? {
        guard let schema else { return nil }
        if MCPValues.isObjectSchema(schema) { return MCPValues.value(schema) }
        return .object([
            "type": .string("object"),
            "properties": .object([wrapperKey: MCPValues.value(schema)]),
            "required": .array([.string(wrapperKey)]),
            "additionalProperties": .bool(false),
        ])
    }

    /// A successful result from its JSON text. `schema` is the runtime's output schema, when
    /// known: a non-object schema means the result is always wrapped (even a null result).
    static func success(resultJSON: String, schema: JSONValue?) -> CallTool.Result {
        let value = MCPValues.value(jsonText: resultJSON) ?? .string(resultJSON)
        let wrap: Bool
        if let schema { wrap = !MCPValues.isObjectSchema(schema) } else { wrap = value.objectValue == nil }
        let structured: Value = wrap ? .object([wrapperKey: value]) : value
        return CallTool.Result(content: [.text(text: MCPValues.jsonText(structured), annotations: nil, _meta: nil)],
                               structuredContent: Optional<Value>.some(structured), isError: false)
    }

    /// A tool error (`isError: true`) whose text is `message`.
    static func error(_ message: String) -> CallTool.Result {
        CallTool.Result(content: [.text(text: message, annotations: nil, _meta: nil)], isError: true)
    }

    /// The text of a tool's own error: its JSON content, or the string itself when the error is
    /// a JSON string (the common `set_error("…")` case).
    static func ownErrorText(_ contentJSON: String) -> String {
        if case .string(let s)? = MCPValues.value(jsonText: contentJSON) { return s }
        return contentJSON
    }

    /// The text of a runtime refusal or failure: its code and message, e.g.
    /// `bad_arguments: argument "a": expected integer`.
    static func errorText(_ e: AgentRTError) -> String { "\(e.code.rawValue): \(e.message)" }
}
