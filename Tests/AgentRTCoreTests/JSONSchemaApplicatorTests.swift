import Testing
@testable import AgentRTCore

// allOf, anyOf, oneOf, not, if/then/else, boolean schemas, and the annotation keywords.

private let combinatorCases: [SchemaCase] =
    cases(#"{"allOf": [{"type": "integer"}, {"minimum": 2}]}"#, valid: ["2", "3.0"], invalid: ["1", #""x""#, "2.5"])
    + cases(#"{"allOf": [true, true]}"#, valid: ["1"])
    + cases(#"{"allOf": [true, false]}"#, invalid: ["1"])
    + cases(#"{"anyOf": [{"type": "string"}, {"minimum": 10}]}"#, valid: [#""x""#, "10", "11", "[]"], invalid: ["5"])
    + cases(#"{"anyOf": [false, false]}"#, invalid: ["1"])
    + cases(#"{"anyOf": [false, true]}"#, valid: ["1"])
    + cases(#"{"type": "string", "anyOf": [{"maxLength": 2}, {"minLength": 4}]}"#, valid: [#""ab""#, #""abcd""#],
            invalid: [#""abc""#, "1"])
    + cases(#"{"oneOf": [{"type": "integer"}, {"minimum": 2}]}"#, valid: ["1", "2.5"], invalid: ["3", "1.5"])
    + cases(#"{"oneOf": [true, true]}"#, invalid: ["1"])
    + cases(#"{"oneOf": [true, false]}"#, valid: ["1"])
    + cases(#"{"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}"#, valid: [#"{"a": 1}"#, #"{"b": 1}"#],
            invalid: [#"{"a": 1, "b": 2}"#, "{}"])
    + cases(#"{"not": {"type": "integer"}}"#, valid: [#""x""#, "1.5"], invalid: ["1"])
    + cases(#"{"not": true}"#, invalid: ["1", "null"])
    + cases(#"{"not": false}"#, valid: ["1", "null"])
    + cases(#"{"not": {}}"#, invalid: ["{}"])
    + cases(#"{"not": {"not": {"type": "string"}}}"#, valid: [#""x""#], invalid: ["1"])
    + cases(#"{"not": {"anyOf": [{"type": "string"}, {"type": "null"}]}}"#, valid: ["1"], invalid: ["null", #""s""#])

private let conditionalCases: [SchemaCase] =
    cases(#"{"if": {"exclusiveMaximum": 0}, "then": {"minimum": -10}, "else": {"multipleOf": 2}}"#,
          valid: ["-1", "4", #""x""#], invalid: ["-100", "3"])
    + cases(#"{"if": {"const": 1}, "then": {"type": "integer"}}"#, valid: ["2", "1", #""s""#])
    + cases(#"{"if": {"type": "string"}, "then": {"minLength": 2}}"#, valid: [#""ab""#, "1"], invalid: [#""a""#])
    + cases(#"{"if": {"type": "string"}, "else": {"const": 0}}"#, valid: [#""a""#, "0"], invalid: ["1"])
    + cases(#"{"then": {"const": 1}}"#, valid: ["2"])   // "then" without "if" has no effect
    + cases(#"{"else": {"const": 1}}"#, valid: ["2"])
    + cases(#"{"if": true, "then": false}"#, invalid: ["1"])
    + cases(#"{"if": false, "else": false}"#, invalid: ["1"])
    + cases(#"{"if": false, "then": false}"#, valid: ["1"])
    + cases(#"{"if": {"properties": {"kind": {"const": "card"}}, "required": ["kind"]}, "then": {"required": ["number"]},"#
            + #" "else": {"required": ["iban"]}}"#,
            valid: [#"{"kind": "card", "number": "1"}"#, #"{"iban": "x"}"#, #"{"kind": "bank", "iban": "x"}"#],
            invalid: [#"{"kind": "card"}"#, #"{"kind": "bank"}"#, #"{"kind": "card", "iban": "x"}"#])

private let booleanCases: [SchemaCase] =
    cases("true", valid: ["1", #""x""#, "null", "[]", "{}", "false"])
    + cases("false", invalid: ["1", #""x""#, "null", "[]", "{}", "false"])
    + cases("{}", valid: ["1", "null", #"{"a": [1]}"#])
    + cases(#"{"properties": {"a": false}}"#, valid: ["{}"], invalid: [#"{"a": null}"#])
    + cases(#"{"items": true, "additionalProperties": true}"#, valid: [#"[1, "a"]"#, #"{"a": 1}"#])

private let annotationCases: [SchemaCase] =
    cases(#"{"format": "email"}"#, valid: [#""not an email""#, "1"])
    + cases(#"{"format": "date-time"}"#, valid: [#""yesterday""#])
    + cases(#"{"format": "made-up-format"}"#, valid: [#""anything""#])
    + cases(#"""
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.com/s.json",
         "title": "t", "description": "d", "$comment": "c", "default": 5, "examples": [1, "x"], "deprecated": true,
         "readOnly": false, "writeOnly": false, "contentMediaType": "application/json", "contentEncoding": "base64",
         "contentSchema": {"type": "object"}}
        """#, valid: [#""not base64 nor json""#, "1"])
    + cases(#"{"properties": {"a": {"default": 1, "type": "string"}}, "required": ["b"], "default": {"b": 1}}"#,
            valid: [#"{"b": 0}"#], invalid: ["{}"])   // defaults are never applied
    + cases(#"{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "number"}},"#
            + ##" "items": {"$ref": "#/definitions/n"}}"##, valid: ["[1]"], invalid: [#"["1"]"#])

@Suite struct JSONSchemaApplicatorTests {
    @Test(arguments: combinatorCases) func combinators(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: conditionalCases) func conditionals(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: booleanCases) func booleanSchemas(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: annotationCases) func annotations(_ c: SchemaCase) throws { try c.run() }
}
