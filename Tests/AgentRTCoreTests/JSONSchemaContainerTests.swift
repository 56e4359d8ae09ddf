import Testing
@testable import AgentRTCore

// The array and object keywords.

private let arrayCases: [SchemaCase] =
    cases(#"{"minItems": 1}"#, valid: ["[1]", #""not an array""#], invalid: ["[]"])
    + cases(#"{"maxItems": 2}"#, valid: ["[]", "[1, 2]"], invalid: ["[1, 2, 3]"])
    + cases(#"{"items": {"type": "integer"}}"#, valid: ["[]", "[1, 2]", "[1.0]", "{}"], invalid: [#"[1, "x"]"#, "[[1]]"])
    + cases(#"{"items": false}"#, valid: ["[]"], invalid: ["[1]", "[null]"])
    + cases(#"{"prefixItems": [{"type": "integer"}, {"type": "string"}]}"#,
            valid: ["[]", "[1]", #"[1, "a"]"#, #"[1, "a", null, {}]"#], invalid: [#"["a"]"#, "[1, 2]"])
    + cases(#"{"prefixItems": [{"type": "integer"}], "items": false}"#, valid: ["[]", "[1]"], invalid: ["[1, 2]"])
    + cases(#"{"prefixItems": [true, false]}"#, valid: ["[1]"], invalid: ["[1, 2]"])
    + cases(#"{"prefixItems": [{"type": "integer"}], "items": {"type": "string"}}"#,
            valid: [#"[1, "a", "b"]"#], invalid: [#"[1, "a", 2]"#, #"["a"]"#])
    + cases(#"{"contains": {"const": 5}}"#, valid: ["[5]", "[1, 5, 2]", "[5.0]", "{}"], invalid: ["[]", "[1, 2]"])
    + cases(#"{"contains": {"type": "integer"}, "minContains": 2}"#, valid: ["[1, 2]", #"[1, "a", 3]"#],
            invalid: [#"[1, "a"]"#, "[]"])
    + cases(#"{"contains": {"type": "integer"}, "maxContains": 1}"#, valid: [#"[1, "a"]"#], invalid: ["[1, 2]", "[]"])
    + cases(#"{"contains": {"type": "integer"}, "minContains": 0}"#, valid: ["[]", #"["a"]"#])
    + cases(#"{"contains": {"type": "integer"}, "minContains": 0, "maxContains": 1}"#, valid: ["[]", "[1]"],
            invalid: ["[1, 2]"])
    + cases(#"{"minContains": 2, "maxContains": 0}"#, valid: ["[]", "[1]"])   // no "contains": no effect
    + cases(#"{"contains": false}"#, invalid: ["[1]", "[]"])
    + cases(#"{"contains": true, "minContains": 2, "maxContains": 3}"#, valid: ["[1, 2]", "[1, 2, 3]"],
            invalid: ["[1]", "[1, 2, 3, 4]"])
    + cases(#"{"uniqueItems": true}"#,
            valid: ["[]", "[1, 2]", "[1, true]", "[0, false]", "[[1], [true]]", #"[{"a": 1}, {"a": 2}]"#, #"["1", 1]"#,
                    #"[{"a": {"b": 1}}, {"a": {"b": 2}}]"#, #"[{"a": false}, {"a": 0}]"#, "[null, 0]"],
            invalid: ["[1, 1]", "[1, 1.0]", "[1.0, 1e0]", #"[{"a": 1, "b": 2}, {"b": 2, "a": 1}]"#, "[[1, 2], [1, 2]]",
                      #"["x", "x"]"#, "[null, null]", #"[{"a": [1]}, {"a": [1.0]}]"#, #"[1, 2, "x", 2]"#])
    + cases(#"{"uniqueItems": false}"#, valid: ["[1, 1]"])
    + cases(#"{"prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "uniqueItems": true}"#,
            valid: ["[false, true]", #"[true, false, "a"]"#], invalid: ["[true, true]", #"[false, true, "a", "a"]"#])

private let objectCases: [SchemaCase] =
    cases(#"{"required": ["a", "b"]}"#, valid: [#"{"a": 1, "b": null, "c": 2}"#, "[]"], invalid: [#"{"a": 1}"#, "{}"])
    + cases(#"{"required": []}"#, valid: ["{}"])
    + cases(#"{"required": ["__proto__", "toString"]}"#, valid: [#"{"__proto__": 1, "toString": 2}"#], invalid: ["{}"])
    + cases(#"{"minProperties": 1}"#, valid: [#"{"a": 1}"#, "[]"], invalid: ["{}"])
    + cases(#"{"maxProperties": 1}"#, valid: ["{}", #"{"a": 1}"#], invalid: [#"{"a": 1, "b": 2}"#])
    + cases(#"{"properties": {"a": {"type": "integer"}}}"#, valid: ["{}", #"{"a": 1}"#, #"{"b": "x"}"#],
            invalid: [#"{"a": "x"}"#])
    + cases(#"{"properties": {"a": true, "b": false}}"#, valid: [#"{"a": 1}"#, "{}"], invalid: [#"{"b": 1}"#])
    + cases(#"{"properties": {"a b": {"const": 1}, "a\"q": {"const": 2}, "": {"const": 3}, "x/y~z": {"const": 4}}}"#,
            valid: [#"{"a b": 1, "a\"q": 2, "": 3, "x/y~z": 4}"#],
            invalid: [#"{"": 4}"#, #"{"a\"q": 1}"#, #"{"x/y~z": 1}"#])
    + cases(#"{"patternProperties": {"^x-": {"type": "string"}}}"#, valid: [#"{"x-a": "1", "y": 1}"#],
            invalid: [#"{"x-a": 1}"#])
    + cases(#"{"patternProperties": {"a": {"type": "integer"}, "aa": {"maximum": 5}}}"#,
            valid: [#"{"a": 10, "aa": 3}"#], invalid: [#"{"aa": 7}"#, #"{"ba": "x"}"#])
    + cases(#"{"patternProperties": {"f.*": true, "b.*": false}}"#, valid: [#"{"foo": 1}"#, "{}"],
            invalid: [#"{"bar": 1}"#, #"{"foobar": 1}"#])
    + cases(#"{"properties": {"a": {}}, "patternProperties": {"^b": {}}, "additionalProperties": false}"#,
            valid: [#"{"a": 1, "bz": 2}"#], invalid: [#"{"c": 1}"#, #"{"a": 1, "ab": 2}"#])
    + cases(#"{"additionalProperties": {"type": "boolean"}}"#, valid: [#"{"a": true}"#], invalid: [#"{"a": 1}"#])
    + cases(#"{"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}}"#,
            valid: [#"{"a": 1, "b": "x"}"#], invalid: [#"{"a": "x"}"#, #"{"b": 1}"#])
    + cases(#"{"propertyNames": {"maxLength": 3}}"#, valid: [#"{"abc": 1}"#, "{}", "[1, 2, 3, 4]"],
            invalid: [#"{"abcd": 1}"#])
    + cases(#"{"propertyNames": {"pattern": "^[a-z_]+$"}}"#, valid: [#"{"snake_case": 1}"#], invalid: [#"{"camelCase": 1}"#])
    + cases(#"{"propertyNames": false}"#, valid: ["{}"], invalid: [#"{"a": 1}"#])
    + cases(#"{"propertyNames": {"type": "number"}}"#, invalid: [#"{"1": 1}"#])
    + cases(#"{"propertyNames": {"enum": ["a", "b"]}}"#, valid: [#"{"a": 1, "b": 2}"#], invalid: [#"{"c": 1}"#])
    + cases(#"{"dependentRequired": {"card": ["billing"]}}"#,
            valid: ["{}", #"{"billing": 1}"#, #"{"card": 1, "billing": 2}"#, #"["card"]"#], invalid: [#"{"card": 1}"#])
    + cases(#"{"dependentRequired": {"a": []}}"#, valid: [#"{"a": 1}"#])
    + cases(#"{"dependentRequired": {"a\"b": ["c\nd"]}}"#, valid: [#"{"a\"b": 1, "c\nd": 2}"#], invalid: [#"{"a\"b": 1}"#])
    + cases(#"{"dependentSchemas": {"card": {"required": ["billing"]}}}"#,
            valid: ["{}", #"{"card": 1, "billing": 2}"#], invalid: [#"{"card": 1}"#])
    + cases(#"{"dependentSchemas": {"a": false}}"#, valid: [#"{"b": 1}"#], invalid: [#"{"a": 1}"#])
    + cases(#"{"dependentSchemas": {"a": {"properties": {"b": {"type": "integer"}}}}}"#,
            valid: [#"{"b": "x"}"#, #"{"a": 1, "b": 2}"#], invalid: [#"{"a": 1, "b": "x"}"#])

@Suite struct JSONSchemaContainerTests {
    @Test(arguments: arrayCases) func arrays(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: objectCases) func objects(_ c: SchemaCase) throws { try c.run() }

    @Test func uniqueItemsOnLongArrays() throws {
        // Past 16 items duplicates are found by hashing: equality must stay JSON equality.
        let s = try compileSchema(#"{"uniqueItems": true}"#)
        let distinct: [JSONValue] = (0..<40).map { .int($0) } + ["1", [1], ["k": 1], true, .null]
        #expect(s.validate(.array(distinct)).isEmpty)
        #expect(s.validate(.array(distinct + [try JSONValue.parse("7.0")])).map(\.message)
            == ["items 7 and 45 are equal, but uniqueItems requires distinct items"])
        #expect(!s.validate(.array(distinct + [["k": 1.0]])).isEmpty)
    }

    @Test func manyProperties() throws {
        // Large "properties" are looked up through an index: same results as the scan.
        let names = (0..<30).map { "p\($0)" }
        let properties = names.map { "\"\($0)\": {\"type\": \"integer\"}" }.joined(separator: ", ")
        let s = try compileSchema("{\"properties\": {\(properties)}, \"additionalProperties\": false}")
        #expect(s.validate(["p0": 1, "p29": 2, "p15": 3]).isEmpty)
        #expect(s.validate(["p3": "x"]).map(\.description) == ["/p3: expected integer, got string"])
        #expect(s.validate(["p30": 1]).count == 1)
    }
}
