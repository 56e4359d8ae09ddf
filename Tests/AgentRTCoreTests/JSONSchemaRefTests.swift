import Testing
@testable import AgentRTCore

// $ref (JSON Pointer, root, $anchor, root $id), $defs/definitions, and recursion.

private let refCases: [SchemaCase] =
    cases(##"{"$defs": {"pos": {"type": "integer", "minimum": 1}}, "properties": {"n": {"$ref": "#/$defs/pos"}}}"##,
          valid: [#"{"n": 1}"#, "{}"], invalid: [#"{"n": 0}"#, #"{"n": "x"}"#])
    + cases(##"{"definitions": {"s": {"type": "string"}}, "items": {"$ref": "#/definitions/s"}}"##,
            valid: [#"["a"]"#], invalid: ["[1]"])
    // Recursion through the root.
    + cases(##"{"properties": {"child": {"$ref": "#"}}, "additionalProperties": false}"##,
            valid: [#"{"child": {"child": {}}}"#, "{}"], invalid: [#"{"child": {"child": {"x": 1}}}"#, #"{"x": 1}"#])
    + cases(#"""
        {"type": "object", "required": ["value"],
         "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#"}}}}
        """#,
            valid: [#"{"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}]}"#],
            invalid: [#"{"value": 1, "children": [{"children": []}]}"#, #"{"value": 1, "children": [{"value": "2"}]}"#])
    // JSON Pointer escapes (~0 ~1) and percent-encoding in the fragment.
    + cases(#"""
        {"$defs": {"a/b": {"const": 1}, "c~d": {"const": 2}, "e%f": {"const": 3}, "g\"h": {"const": 4}, "sp ace": {"const": 5}},
         "properties": {"x": {"$ref": "#/$defs/a~1b"}, "y": {"$ref": "#/$defs/c~0d"}, "z": {"$ref": "#/$defs/e%25f"},
                        "w": {"$ref": "#/$defs/g%22h"}, "v": {"$ref": "#/$defs/sp%20ace"}}}
        """#,
            valid: [#"{"x": 1, "y": 2, "z": 3, "w": 4, "v": 5}"#],
            invalid: [#"{"x": 2}"#, #"{"y": 1}"#, #"{"z": 1}"#, #"{"w": 1}"#, #"{"v": 1}"#])
    + cases(##"{"prefixItems": [{"type": "integer"}, {"$ref": "#/prefixItems/0"}]}"##, valid: ["[1, 2]"], invalid: [#"[1, "x"]"#])
    + cases(##"{"properties": {"a": {"type": "integer"}, "b": {"$ref": "#/properties/a"}}}"##, valid: [#"{"b": 1}"#],
            invalid: [#"{"b": "x"}"#])
    + cases(##"{"$defs": {"a": {"type": "integer"}, "b": {"$ref": "#/$defs/a"}, "c": {"$ref": "#/$defs/b"}}, "$ref": "#/$defs/c"}"##,
            valid: ["5"], invalid: [#""5""#])
    // Keywords next to $ref apply too (2020-12).
    + cases(##"{"$defs": {"arr": {"type": "array"}}, "properties": {"a": {"$ref": "#/$defs/arr", "maxItems": 1}}}"##,
            valid: [#"{"a": [1]}"#], invalid: [#"{"a": [1, 2]}"#, #"{"a": "x"}"#])
    + cases(##"{"$ref": "#/$defs/t", "$defs": {"t": true}}"##, valid: ["1"])
    + cases(##"{"$ref": "#/$defs/f", "$defs": {"f": false}}"##, invalid: ["1"])
    + cases(#"{"properties": {"$ref": {"type": "string"}}}"#, valid: [#"{"$ref": "x"}"#], invalid: [#"{"$ref": 1}"#])
    // An object inside "enum" is data, not a schema.
    + cases(##"{"$defs": {"s": {"type": "string"}}, "enum": [{"$ref": "#/$defs/s"}]}"##,
            valid: [##"{"$ref": "#/$defs/s"}"##], invalid: [#""x""#])
    + cases(##"{"$ref": "#num", "$defs": {"n": {"$anchor": "num", "type": "number"}}}"##, valid: ["1"], invalid: [#""x""#])
    + cases(##"{"$anchor": "root", "items": {"$ref": "#root"}, "maxItems": 1}"##, valid: ["[[[]]]"], invalid: ["[[1, 2]]"])
    // A $ref may name this document by its root $id.
    + cases(#"{"$id": "urn:example:root", "minimum": 30, "properties": {"foo": {"$ref": "urn:example:root"}}}"#,
            valid: [#"{"foo": 31}"#, "31"], invalid: [#"{"foo": 29}"#])
    + cases(#"{"$id": "https://example.com/s#", "properties": {"foo": {"$ref": "https://example.com/s#/$defs/str"}},"#
            + #" "$defs": {"str": {"type": "string"}}}"#, valid: [#"{"foo": "a"}"#], invalid: [#"{"foo": 1}"#])
    + cases(##"{"$defs": {"": {"$defs": {"": {"type": "number"}}}}, "allOf": [{"$ref": "#/$defs//$defs/"}]}"##,
            valid: ["1"], invalid: [#""a""#])
    // Mutual recursion that descends into the value each time is fine.
    + cases(#"""
        {"$defs": {"list": {"type": "array", "items": {"$ref": "#/$defs/item"}},
                   "item": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/list"}]}},
         "$ref": "#/$defs/item"}
        """#, valid: ["[1, [2, [3]]]", "4", "[]"], invalid: [#"[1, ["x"]]"#, "1.5"])
    + cases(#"""
        {"$defs": {"int": {"type": "integer"}},
         "allOf": [{"properties": {"foo": {"$ref": "#/$defs/int"}}}, {"additionalProperties": {"$ref": "#/$defs/int"}}]}
        """#, valid: [#"{"foo": 1}"#], invalid: [#"{"foo": "a"}"#])
    + cases(##"{"propertyNames": {"$ref": "#/$defs/lower"}, "$defs": {"lower": {"pattern": "^[a-z]+$"}}}"##,
            valid: [#"{"abc": 1}"#], invalid: [#"{"aBc": 1}"#])

@Suite struct JSONSchemaRefTests {
    @Test(arguments: refCases) func refs(_ c: SchemaCase) throws { try c.run() }

    @Test func deepRecursionIsBoundedByTheValue() throws {
        // A 200-level nested value through a recursive $ref validates without trouble.
        let s = try compileSchema(##"{"type": "array", "items": {"$ref": "#"}, "maxItems": 1}"##)
        var value: JSONValue = []
        for _ in 0..<200 { value = [value] }
        #expect(s.validate(value).isEmpty)
        var bad: JSONValue = [1]
        for _ in 0..<200 { bad = [bad] }
        let found = s.validate(bad)
        #expect(found.count == 1 && found[0].path == String(repeating: "/0", count: 201), "\(found)")
    }

    @Test func programmaticValuesDeeperThanTheLimitAreRefused() throws {
        // A JSONValue built in Swift can nest deeper than any parsed one; past the limit the value
        // is refused rather than the stack risked.
        let s = try compileSchema(##"{"items": {"$ref": "#"}}"##)
        var value: JSONValue = []
        for _ in 0..<(_SchemaValidator.maximumDepth + 10) { value = [value] }
        let found = s.validate(value)
        #expect(found.count == 1 && found[0].message.contains("nest more than"), "\(found.map(\.message))")
        #expect(!s.isValid(value))
    }
}
