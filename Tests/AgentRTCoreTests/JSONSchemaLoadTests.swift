import Testing
@testable import AgentRTCore

// What JSONSchema.init refuses: keywords outside the supported set (named with their JSON
// Pointer), wrong-typed keyword values, unresolvable or remote $refs, $ref cycles that never
// descend into the value, $id/$schema outside the root, and unsupported patterns.

/// Schemas with a keyword outside the set, and the exact message.
private let unsupported: [(String, String)] = [
    (#"{"properties": {"a": {"unevaluatedProperties": false}}}"#,
     #"unsupported keyword "unevaluatedProperties" (it needs annotation results, which this validator does not collect) at /properties/a"#),
    (#"{"minimun": 3}"#, #"unsupported keyword "minimun" at the schema root"#),
    (#"{"items": {"additionalItems": false}}"#,
     #"unsupported keyword "additionalItems" (draft-07 form; write prefixItems and items) at /items"#),
    (#"{"$defs": {"x": {"nullable": true}}}"#, #"unsupported keyword "nullable" (OpenAPI form; add "null" to "type") at /$defs/x"#),
    (#"{"allOf": [{}, {"x-extension": 1}]}"#, #"unsupported keyword "x-extension" at /allOf/1"#),
    (#"{"properties": {"a/b~c": {"foo": 1}}}"#, #"unsupported keyword "foo" at /properties/a~1b~0c"#),
    (#"{"dependencies": {}}"#, #"unsupported keyword "dependencies" (draft-07 form; write dependentRequired or dependentSchemas) at the schema root"#),
    (##"{"$dynamicRef": "#x"}"##, #"unsupported keyword "$dynamicRef" (dynamic references are not supported) at the schema root"#),
    (##"{"$recursiveRef": "#"}"##, #"unsupported keyword "$recursiveRef" (draft 2019-09 recursive references are not supported) at the schema root"#),
    (#"{"$vocabulary": {}}"#, #"unsupported keyword "$vocabulary" (custom vocabularies are not supported) at the schema root"#),
    (#"{"id": "x"}"#, #"unsupported keyword "id" (draft-04 form; write $id) at the schema root"#),
    (#"{"prefixItems": [{"unevaluatedItems": false}]}"#,
     #"unsupported keyword "unevaluatedItems" (it needs annotation results, which this validator does not collect) at /prefixItems/0"#),
    (#"{"typ\u0435": "string"}"#, "unsupported keyword \"typ\u{435}\" at the schema root"),   // Cyrillic е
    (#"{"not": {"if": {"then": {"else": {"oneOf": [{"contains": {"bogus": 0}}]}}}}}"#,
     #"unsupported keyword "bogus" at /not/if/then/else/oneOf/0/contains"#),
    (#"{"dependentSchemas": {"a": {"$defs": {"b": {"zzz": 1}}}}}"#, #"unsupported keyword "zzz" at /dependentSchemas/a/$defs/b"#),
]

/// Schemas with a wrong-typed (or out-of-range) keyword value, and a fragment of the message.
private let wrongValues: [(String, String)] = [
    (#"{"minimum": "3"}"#, #""minimum" must be a number, got string "3" at /minimum"#),
    (#"{"properties": {"a": {"maxLength": -1}}}"#, #""maxLength" must be a non-negative integer, got number -1 at /properties/a/maxLength"#),
    (#"{"maxLength": 1.5}"#, "non-negative integer"), (#"{"maxLength": "2"}"#, "non-negative integer"),
    (#"{"minItems": true}"#, "non-negative integer"), (#"{"minContains": -1}"#, "non-negative integer"),
    (#"{"maxProperties": 1.5}"#, "non-negative integer"), (#"{"maxContains": null}"#, "non-negative integer"),
    (#"{"required": 3}"#, #""required" must be an array of strings, got number 3 at /required"#),
    (#"{"required": [1]}"#, "an array of strings"), (#"{"required": "a"}"#, "an array of strings"),
    (#"{"properties": []}"#, #""properties" must be an object of schemas"#),
    (#"{"properties": {"a": 3}}"#, "a schema must be an object or a boolean, got number 3 at /properties/a"),
    (#"{"items": "x"}"#, "a schema must be an object or a boolean, got string"),
    (#"{"items": [{}]}"#, #""items" must be a schema; the array (tuple) form is draft-07, write "prefixItems" instead at /items"#),
    (#"{"additionalProperties": 1}"#, "at /additionalProperties"), (#"{"enum": {}}"#, #""enum" must be an array"#),
    (#"{"type": "int"}"#, #"unknown type "int" in "type""#), (#"{"type": []}"#, "non-empty array of type names"),
    (#"{"type": 5}"#, "a type name or a non-empty array"), (#"{"type": ["string", 3]}"#, "unknown type 3"),
    (#"{"multipleOf": 0}"#, #""multipleOf" must be a number greater than 0"#), (#"{"multipleOf": -1}"#, "greater than 0"),
    (#"{"multipleOf": "1"}"#, "greater than 0"), (#"{"multipleOf": 0.1234567890123456789}"#, "at most 18 significant digits"),
    (#"{"pattern": 5}"#, #""pattern" must be a string"#), (#"{"uniqueItems": "yes"}"#, #""uniqueItems" must be a boolean"#),
    (#"{"allOf": []}"#, #""allOf" must be a non-empty array of schemas"#), (#"{"anyOf": {}}"#, "non-empty array of schemas"),
    (#"{"oneOf": [1]}"#, "at /oneOf/0"), (#"{"prefixItems": []}"#, "non-empty array of schemas"),
    (#"{"not": 1}"#, "at /not"), (#"{"if": "x"}"#, "at /if"), (#"{"contains": null}"#, "at /contains"),
    (#"{"dependentRequired": {"a": "b"}}"#, "at /dependentRequired/a"), (#"{"dependentRequired": []}"#, "an object of string arrays"),
    (#"{"dependentSchemas": []}"#, "an object of schemas"), (#"{"propertyNames": 3}"#, "at /propertyNames"),
    (#"{"$ref": 1}"#, #""$ref" must be a string"#), (#"{"$anchor": "1abc"}"#, "is not a valid name"),
    (#"{"$anchor": 5}"#, #""$anchor" must be a string"#), (#"{"$defs": []}"#, #""$defs" must be an object of schemas"#),
    (#"{"definitions": {"a": "b"}}"#, "at /definitions/a"), (#"{"examples": 1}"#, #""examples" must be an array"#),
    (#"{"deprecated": "no"}"#, #""deprecated" must be a boolean"#), (#"{"format": 1}"#, #""format" must be a string"#),
    (#"{"title": 1}"#, #""title" must be a string"#), (#"{"description": []}"#, #""description" must be a string"#),
    (#"{"$comment": 1}"#, #""$comment" must be a string"#), (#"{"exclusiveMaximum": null}"#, "must be a number"),
    (#"{"exclusiveMinimum": "1"}"#, "must be a number"), (#"{"contentSchema": 5}"#, "at /contentSchema"),
    ("3", "a schema must be an object or a boolean, got number 3 at the schema root"),
    (#""object""#, "got string"), ("null", "got null"), ("[]", "got array"),
]

/// Schemas refused for their references, identifiers or patterns.
private let structural: [(String, String)] = [
    (#"{"$ref": "https://example.com/other.json"}"#, "refers to another document"),
    (#"{"$ref": "other.json#/$defs/a"}"#, "refers to another document"),
    (#"{"$id": "urn:a", "$ref": "urn:b"}"#, "refers to another document"),
    (##"{"$ref": "#/$defs/missing"}"##, ##"$ref "#/$defs/missing" points to nothing in this schema at /$ref"##),
    (##"{"$ref": "#/allOf/01", "allOf": [{}]}"##, "points to nothing"),
    (##"{"prefixItems": [{}], "$ref": "#/prefixItems/01"}"##, "points to nothing"),
    (##"{"$ref": "#nope"}"##, ##"$ref "#nope" names no $anchor of this schema"##),
    (##"{"$defs": {"a~2": {}}, "$ref": "#/$defs/a~2"}"##, "invalid JSON Pointer escape"),
    (##"{"$ref": "#/%zz"}"##, "invalid percent-encoding"),
    (#"{"$defs": {"a": {"$anchor": "x"}, "b": {"$anchor": "x"}}}"#, #"$anchor "x" is defined twice"#),
    (#"{"$defs": {"a": {"$id": "https://example.com/a"}}}"#, #""$id" is only supported at the schema root"#),
    (#"{"$id": "https://example.com/a#frag"}"#, #""$id" may not have a fragment"#),
    (#"{"items": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}"#, #""$schema" is only supported at the schema root"#),
    (#"{"$schema": "https://example.com/my-meta-schema"}"#, "is not a published JSON Schema dialect"),
    (#"{"pattern": "(?=a)"}"#, #"pattern "(?=a)" is not a supported regular expression: lookahead groups (?= and (?! are not supported (at character 0) at /pattern"#),
    (#"{"properties": {"p": {"pattern": "a{2,1}"}}}"#, "has its bounds out of order (at character 1) at /properties/p/pattern"),
    (#"{"patternProperties": {"[z-a]": {}}}"#, "out of order (at character 1) at /patternProperties/[z-a]"),
]

/// Schemas whose subschemas apply to the same value in a cycle, and the cycle's message.
private let cycles: [(String, String)] = [
    (##"{"$ref": "#"}"##, "the schema root → the schema root"),
    (##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}}}"##,
     "/$defs/a → /$defs/b → /$defs/b/allOf/0 → /$defs/a"),
    (##"{"anyOf": [{"type": "string"}, {"$ref": "#"}]}"##, "the schema root → /anyOf/1 → the schema root"),
    (##"{"not": {"$ref": "#"}}"##, "→ /not →"), (##"{"oneOf": [{"$ref": "#"}]}"##, "/oneOf/0"),
    (##"{"if": {"$ref": "#"}}"##, "/if"), (##"{"if": {}, "then": {"$ref": "#"}}"##, "/then"),
    (##"{"else": {"$ref": "#"}}"##, "/else"), (##"{"dependentSchemas": {"a": {"$ref": "#"}}}"##, "/dependentSchemas/a"),
    (##"{"$defs": {"a": {"$ref": "#/$defs/a"}}}"##, "/$defs/a → /$defs/a"),
]

@Suite struct JSONSchemaLoadTests {
    @Test(arguments: unsupported)
    func unsupportedKeywordsAreRefused(schema: String, message: String) throws {
        #expect(try loadError(schema) == message)
    }

    @Test(arguments: wrongValues)
    func wrongTypedValuesAreRefused(schema: String, fragment: String) throws {
        let message = try #require(try loadError(schema), "\(schema) loaded")
        #expect(message.contains(fragment), "\(message)")
    }

    @Test(arguments: structural)
    func referencesIdentifiersAndPatterns(schema: String, fragment: String) throws {
        let message = try #require(try loadError(schema), "\(schema) loaded")
        #expect(message.contains(fragment), "\(message)")
    }

    @Test(arguments: cycles)
    func inPlaceCyclesAreRefused(schema: String, fragment: String) throws {
        let message = try #require(try loadError(schema), "\(schema) loaded")
        #expect(message.hasPrefix("schemas refer to each other without descending into the value"), "\(message)")
        #expect(message.contains(fragment), "\(message)")
    }

    @Test(arguments: [
        ##"{"items": {"$ref": "#"}}"##, ##"{"properties": {"a": {"$ref": "#"}}}"##, ##"{"propertyNames": {"$ref": "#"}}"##,
        ##"{"contains": {"$ref": "#"}}"##, ##"{"additionalProperties": {"$ref": "#"}}"##, ##"{"prefixItems": [{"$ref": "#"}]}"##,
        ##"{"patternProperties": {"x": {"$ref": "#"}}}"##, ##"{"allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}], "$defs": {"a": {}}}"##,
        #"{"$schema": "http://json-schema.org/draft-07/schema#"}"#, #"{"$schema": "https://json-schema.org/draft/2020-12/schema"}"#,
        #"{"$schema": "http://json-schema.org/draft-04/schema#", "minimum": 1, "exclusiveMinimum": true}"#,
        #"{"$id": "https://example.com/root.json#"}"#, "true", "false", "{}",
    ])
    func acceptableSchemasLoad(schema: String) throws {
        #expect(try loadError(schema) == nil)
    }

    @Test func schemasBuiltTooDeepInSwiftAreRefused() throws {
        // Parsed documents nest at most 256 levels; a value built in Swift can nest further.
        var schema: JSONValue = true
        for _ in 0..<(_SchemaCompiler.maximumDepth + 5) { schema = ["items": schema] }
        let error = try #require(throws: JSONSchemaError.self) { try JSONSchema(schema) }
        #expect(error.message.hasPrefix("schemas nest deeper than \(_SchemaCompiler.maximumDepth) levels"), "\(error.message)")
    }

    @Test func errorsCarryTheLocationAndDescription() throws {
        let error = try #require(throws: JSONSchemaError.self) {
            try JSONSchema(JSONValue.parse(#"{"properties": {"a": {"minimum": "3"}}}"#))
        }
        #expect(error.location == "/properties/a/minimum")
        #expect(error.description == #"invalid JSON schema: "minimum" must be a number, got string "3" at /properties/a/minimum"#)
        let unknown = try #require(throws: JSONSchemaError.self) {
            try JSONSchema(JSONValue.parse(#"{"properties": {"a": {"unevaluatedProperties": false}}}"#))
        }
        #expect(unknown.location == "/properties/a")
    }

    @Test func aToolWithAnUnsupportedSchemaIsNotRegistered() throws {
        // The schema is compiled at registration, so the refusal happens before any call.
        let rt = Runtime()
        defer { rt.shutdown() }
        let descriptor = ToolDescriptor(plugin: "t", name: "strict", inputSchema: ["type": "object", "unevaluatedProperties": false],
                                        kind: .host)
        let error = try #require(throws: AgentRTError.self) {
            try rt.tools.register(descriptor, implementation: ClosureTool { _, _ in .result("1") })
        }
        #expect(error.message.contains(#"unsupported keyword "unevaluatedProperties""#), "\(error.message)")
        #expect(error.message.contains("at the schema root"), "\(error.message)")
    }
}
