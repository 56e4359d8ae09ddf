import Testing
@testable import AgentRTCore

// What violations say: the JSON Pointer of the offending value and the reason, as callers
// print them ("arguments of X do not match its schema: " + violations joined by "; ").

private let toolSchema = #"""
    {"type": "object", "title": "t", "description": "d",
     "properties": {
       "a": {"type": "integer", "minimum": 0, "maximum": 255},
       "b": {"type": "string", "minLength": 2, "maxLength": 3},
       "c": {"type": "array", "items": {"type": ["string", "null"]}, "minItems": 1, "maxItems": 2},
       "d": {"enum": ["x", "y", 3]},
       "e": {"const": {"k": [1]}},
       "f": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
       "my key": {"type": "boolean"},
       "a/b": {"type": "null"},
       "name": {"type": "string", "pattern": "^[a-z]+$"}
     },
     "required": ["a", "b"], "additionalProperties": false}
    """#

@Suite struct JSONSchemaMessageTests {
    @Test(arguments: [
        (#"{"b": "ab"}"#, #"(root): missing required property "a""#),
        (#"{"a": "1", "b": "ab"}"#, "/a: expected integer, got string"),
        (#"{"a": 1.5, "b": "ab"}"#, "/a: expected integer, got number 1.5"),
        (#"{"a": 300, "b": "ab"}"#, "/a: 300 is greater than maximum 255"),
        (#"{"a": -1, "b": "ab"}"#, "/a: -1 is less than minimum 0"),
        (#"{"a": 1, "b": "abcd"}"#, "/b: string is 4 characters long, longer than maxLength 3"),
        (#"{"a": 1, "b": "é"}"#, "/b: string is 1 characters long, shorter than minLength 2"),
        (#"{"a": 1, "b": "ab", "c": ["x", 2]}"#, "/c/1: expected string or null, got number 2"),
        (#"{"a": 1, "b": "ab", "c": []}"#, "/c: array has 0 items, fewer than minItems 1"),
        (#"{"a": 1, "b": "ab", "c": [null, null, null]}"#, "/c: array has 3 items, more than maxItems 2"),
        (#"{"a": 1, "b": "ab", "d": "z"}"#, #"/d: "z" is not one of the allowed values: "x", "y", 3"#),
        (#"{"a": 1, "b": "ab", "e": {"k": [2]}}"#, #"/e: expected constant {"k":[1]}, got {"k":[2]}"#),
        (#"{"a": 1, "b": "ab", "f": 0}"#, "/f: 0 is not greater than exclusiveMinimum 0"),
        (#"{"a": 1, "b": "ab", "f": 1.0}"#, "/f: 1.0 is not less than exclusiveMaximum 1"),
        (#"{"a": 1, "b": "ab", "my key": 1}"#, "/my key: expected boolean, got number 1"),
        (#"{"a": 1, "b": "ab", "a/b": 1}"#, "/a~1b: expected null, got number 1"),
        (#"{"a": 1, "b": "ab", "name": "Bob"}"#, #"/name: does not match pattern "^[a-z]+$""#),
        (#"{"a": 1, "b": "ab", "z": 1}"#,
         #"(root): unexpected property "z" (allowed: "a", "b", "c", "d", "e", "f", "my key", "a/b", "name")"#),
        (#""x""#, "(root): expected object, got string"),
    ])
    func toolSchemaViolation(instance: String, message: String) throws {
        #expect(try violations(toolSchema, instance) == [message])
    }

    @Test func everyViolationIsReported() throws {
        let found = try violations(toolSchema, #"{"a": "x", "b": 1, "q": 0, "c": [1, 2, 3]}"#)
        #expect(found == [
            // In member order: a, b, q, c.
            "/a: expected integer, got string", "/b: expected string, got number 1",
            #"(root): unexpected property "q" (allowed: "a", "b", "c", "d", "e", "f", "my key", "a/b", "name")"#,
            "/c: array has 3 items, more than maxItems 2", "/c/0: expected string or null, got number 1",
            "/c/1: expected string or null, got number 2", "/c/2: expected string or null, got number 3",
        ])
    }

    @Test(arguments: [
        (#"{"anyOf": [{"type": "string"}, {"required": ["a"]}]}"#, #"{"b": 1}"#,
         #"(root): does not match any schema in "anyOf" (0: expected string, got object; 1: missing required property "a")"#),
        (#"{"anyOf": [{"properties": {"x": {"type": "string"}}}, false]}"#, #"{"x": 1}"#,
         #"(root): does not match any schema in "anyOf" (0: /x: expected string, got number 1; 1: no value is allowed here)"#),
        (#"{"anyOf": [{"const": 1}, {"const": 2}, {"const": 3}, {"const": 4}]}"#, "5",
         "(root): does not match any schema in \"anyOf\" (0: expected constant 1, got 5; 1: expected constant 2, got 5; "
            + "2: expected constant 3, got 5; …)"),
        (#"{"oneOf": [{"type": "integer"}, {"minimum": 0}, {"maximum": 9}]}"#, "3",
         #"(root): matches more than one schema in "oneOf" (0 and 1)"#),
        (#"{"oneOf": [{"type": "string"}]}"#, "3", #"(root): does not match any schema in "oneOf" (0: expected string, got number 3)"#),
        (#"{"not": {"type": "integer"}}"#, "3", #"(root): must not match the schema in "not""#),
        (#"{"if": {"type": "integer"}, "then": {"minimum": 5}}"#, "3", "(root): 3 is less than minimum 5"),
        (#"{"propertyNames": {"maxLength": 2}}"#, #"{"abc": 1}"#,
         #"(root): property name "abc" does not match "propertyNames": string is 3 characters long, longer than maxLength 2"#),
        (#"{"dependentRequired": {"card": ["billing"]}}"#, #"{"card": 1}"#,
         #"(root): property "billing" is required when "card" is present"#),
        (#"{"patternProperties": {"^x-": {}}, "additionalProperties": false}"#, #"{"y": 1}"#,
         #"(root): unexpected property "y" (allowed: names matching "^x-")"#),
        (#"{"additionalProperties": false}"#, #"{"y": 1}"#, #"(root): unexpected property "y" (no properties are allowed)"#),
        (#"{"contains": {"type": "string"}}"#, "[1]", #"(root): no item matches the "contains" schema"#),
        (#"{"contains": {"type": "string"}, "minContains": 2}"#, #"[1, "a"]"#,
         #"(root): 1 items match the "contains" schema, fewer than minContains 2"#),
        (#"{"contains": {"type": "string"}, "maxContains": 1}"#, #"["a", "b"]"#,
         #"(root): 2 items match the "contains" schema, more than maxContains 1"#),
        (#"{"uniqueItems": true}"#, "[1, 2, 1.0]", "(root): items 0 and 2 are equal, but uniqueItems requires distinct items"),
        (#"{"multipleOf": 0.5}"#, "0.3", "(root): 0.3 is not a multiple of 0.5"),
        (#"{"minProperties": 2}"#, #"{"a": 1}"#, "(root): object has 1 properties, fewer than minProperties 2"),
        (#"{"maxProperties": 0}"#, #"{"a": 1}"#, "(root): object has 1 properties, more than maxProperties 0"),
        (##"{"items": {"$ref": "#/$defs/p"}, "$defs": {"p": {"properties": {"x~y": {"enum": []}}}}}"##, #"[{"x~y": 1}]"#,
         "/0/x~0y: 1 is not one of the allowed values: (none)"),
        ("false", "1", "(root): no value is allowed here"),
    ])
    func keywordMessages(schema: String, instance: String, message: String) throws {
        #expect(try violations(schema, instance) == [message])
    }

    @Test func violationPathIsAJSONPointer() throws {
        let s = try compileSchema(#"{"properties": {"a": {"items": {"properties": {"": {"type": "string"}}}}}}"#)
        let found = s.validate(try JSONValue.parse(#"{"a": [{}, {"": 1}]}"#))
        #expect(found.map(\.path) == ["/a/1/"])
        #expect(found.first?.description == "/a/1/: expected string, got number 1")
        #expect(JSONSchemaViolation(path: "", message: "m").description == "(root): m")
    }
}
