import Testing
@testable import AgentRTCore

/// One schema, one instance and whether the instance is valid (both given as JSON text).
struct SchemaCase: Sendable, CustomTestStringConvertible {
    let schema: String
    let instance: String
    let valid: Bool

    var testDescription: String { "\(schema) \(valid ? "accepts" : "refuses") \(instance)" }

    /// Checks `validate` and `isValid` agree with `valid` (and with each other).
    func run(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let compiled = try JSONSchema(JSONValue.parse(schema))
        let value = try JSONValue.parse(instance)
        let violations = compiled.validate(value)
        #expect(violations.isEmpty == valid, "\(schema) against \(instance): \(violations.map(\.description))",
                sourceLocation: sourceLocation)
        #expect(compiled.isValid(value) == valid, "isValid disagrees for \(schema) against \(instance)",
                sourceLocation: sourceLocation)
    }
}

/// Cases for one schema: the instances it must accept and those it must refuse.
func cases(_ schema: String, valid: [String] = [], invalid: [String] = []) -> [SchemaCase] {
    valid.map { SchemaCase(schema: schema, instance: $0, valid: true) }
        + invalid.map { SchemaCase(schema: schema, instance: $0, valid: false) }
}

/// Compiles a schema given as JSON text.
func compileSchema(_ json: String) throws -> JSONSchema {
    try JSONSchema(JSONValue.parse(json))
}

/// The `description` of every violation of `instance` (JSON text) against `schema` (JSON text).
func violations(_ schema: String, _ instance: String) throws -> [String] {
    try compileSchema(schema).validate(JSONValue.parse(instance)).map(\.description)
}

/// The message with which `schema` (JSON text) is refused at load, or nil if it loads.
func loadError(_ schema: String) throws -> String? {
    let value = try JSONValue.parse(schema)
    do {
        _ = try JSONSchema(value)
        return nil
    } catch {
        return error.message
    }
}
