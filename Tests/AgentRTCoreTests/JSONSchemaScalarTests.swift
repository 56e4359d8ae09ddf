import Testing
@testable import AgentRTCore

// type, enum, const, the numeric keywords and the string-length keywords.

private let typeCases: [SchemaCase] =
    cases(#"{"type": "integer"}"#, valid: ["1", "1.0", "-0", "1e3", "-5", "123456789012345678901234567890", "2.50e1"],
          invalid: ["1.5", "1e-3", #""1""#, "true", "null", "[]", "{}"])
    + cases(#"{"type": "number"}"#, valid: ["0", "1.5", "-2e-9", "1e400"], invalid: [#""0""#, "false", "null"])
    + cases(#"{"type": "string"}"#, valid: [#""""#, #""x""#], invalid: ["0", "null", #"["x"]"#])
    + cases(#"{"type": "boolean"}"#, valid: ["true", "false"], invalid: ["0", "1", #""true""#, "null"])
    + cases(#"{"type": "null"}"#, valid: ["null"], invalid: ["0", "false", #""""#, "[]", "{}"])
    + cases(#"{"type": "array"}"#, valid: ["[]", "[1]"], invalid: ["{}", #""[]""#])
    + cases(#"{"type": "object"}"#, valid: ["{}", #"{"a": 1}"#], invalid: ["[]", "null", #""{}""#])
    + cases(#"{"type": ["integer", "string"]}"#, valid: ["3", #""x""#, "2.0"], invalid: ["2.5", "null", "[]"])
    + cases(#"{"type": ["null", "object"]}"#, valid: ["null", "{}"], invalid: ["[]", "0"])
    + cases(#"{"type": ["string"]}"#, valid: [#""s""#], invalid: ["1"])

private let enumCases: [SchemaCase] =
    cases(#"{"enum": [1, "two", [3], {"four": 4}, null, true]}"#,
          valid: ["1", "1.0", #""two""#, "[3]", "[3.0]", #"{"four": 4}"#, #"{"four": 4e0}"#, "null", "true"],
          invalid: ["2", #""Two""#, "[3, 3]", #"{"four": 4, "five": 5}"#, "false", "0", #""1""#, "[]"])
    + cases(#"{"enum": [false]}"#, valid: ["false"], invalid: ["0", "0.0", "null"])
    + cases(#"{"enum": [0]}"#, valid: ["0", "0.0", "-0"], invalid: ["false", "null"])
    + cases(#"{"enum": [[1]]}"#, valid: ["[1]", "[1.0]"], invalid: ["[true]"])
    + cases(#"{"enum": []}"#, invalid: ["1", "null", "{}", #""""#])
    + cases(#"{"enum": ["a\nb", "nul\u0000x"]}"#, valid: [#""a\nb""#, #""nul\u0000x""#], invalid: [#""a\\nb""#, #""nulx""#])

private let constCases: [SchemaCase] =
    cases(#"{"const": 2}"#, valid: ["2", "2.0", "20e-1"], invalid: [#""2""#, "3", "[2]"])
    + cases(#"{"const": null}"#, valid: ["null"], invalid: ["0", "false", #""""#, "[]"])
    + cases(#"{"const": {"a": [1, {"b": true}]}}"#, valid: [#"{"a": [1, {"b": true}]}"#, #"{"a": [1.0, {"b": true}]}"#],
            invalid: [#"{"a": [{"b": true}, 1]}"#, #"{"a": [1, {"b": 1}]}"#, #"{"a": [1, {"b": true}], "c": 0}"#])
    + cases(#"{"const": {"x": 1, "y": 2}}"#, valid: [#"{"y": 2, "x": 1}"#], invalid: [#"{"x": 1}"#])
    // 2^53 + 1: a Double cannot tell it from 2^53; exact comparison can.
    + cases(#"{"const": 9007199254740993}"#, valid: ["9007199254740993", "9007199254740993.0"],
            invalid: ["9007199254740992", "9007199254740994"])
    + cases(#"{"const": true}"#, valid: ["true"], invalid: ["1", "1.0"])
    + cases(#"{"const": 0}"#, valid: ["0", "-0.0"], invalid: ["false", #""""#, "[]", "{}"])

private let boundCases: [SchemaCase] =
    cases(#"{"minimum": 1.5}"#, valid: ["1.5", "2", "1.50000000000000000001", #""ignored""#],
          invalid: ["1.49999999999999999999", "-3"])
    + cases(#"{"maximum": 3}"#, valid: ["3", "3.0", "-100", "null"], invalid: ["3.0000000001", "4"])
    + cases(#"{"exclusiveMinimum": 0}"#, valid: ["0.0000001", "1e-300"], invalid: ["0", "-0.0", "-1"])
    + cases(#"{"exclusiveMaximum": 1e2}"#, valid: ["99.999"], invalid: ["100", "100.0", "1e2"])
    + cases(#"{"minimum": -18446744073709551615}"#, valid: ["-18446744073709551600", "0"], invalid: ["-18446744073709551616"])
    + cases(#"{"maximum": 18446744073709551615}"#, valid: ["18446744073709551615", "18446744073709551600"],
            invalid: ["18446744073709551616"])
    + cases(#"{"exclusiveMaximum": 9.727837981879871e+26}"#, valid: ["9.727837981879870e+26"],
            invalid: ["9.727837981879871e+26"])
    + cases(#"{"minimum": 5, "exclusiveMinimum": true}"#, valid: ["5.1"], invalid: ["5", "4"])   // draft-4 form
    + cases(#"{"maximum": 5, "exclusiveMaximum": false}"#, valid: ["5"], invalid: ["5.5"])
    + cases(#"{"minimum": 1, "maximum": 1}"#, valid: ["1", "1.0"], invalid: ["0.999", "1.001"])

private let multipleOfCases: [SchemaCase] =
    cases(#"{"multipleOf": 2}"#, valid: ["10", "0", "-4", "4.0", "1e3", #""x""#], invalid: ["7", "2.5"])
    + cases(#"{"multipleOf": 1.5}"#, valid: ["0", "4.5", "-4.5", "3"], invalid: ["35", "1"])
    + cases(#"{"multipleOf": 0.0001}"#, valid: ["0.0075", "1", "12.3456"], invalid: ["0.00751", "0.00001"])
    // 4.35 / 0.01 is 434.99999999999994 in Double arithmetic.
    + cases(#"{"multipleOf": 0.01}"#, valid: ["19.99", "0.07", "4.35"], invalid: ["0.005"])
    + cases(#"{"type": "integer", "multipleOf": 0.123456789}"#, invalid: ["1e308"])
    + cases(#"{"type": "integer", "multipleOf": 0.5}"#, valid: ["1e308"])
    + cases(#"{"multipleOf": 1e-8}"#, valid: ["12391239123"])
    + cases(#"{"multipleOf": 3}"#, valid: ["123456789012345678901234567890"], invalid: ["123456789012345678901234567891"])
    + cases(#"{"multipleOf": 7}"#, valid: ["7e100", "-7e-0"], invalid: ["1e100"])
    + cases(#"{"multipleOf": 1e-400}"#, valid: ["1.5", "1e-400"], invalid: ["1e-401"])
    + cases(#"{"multipleOf": 1e20}"#, valid: ["2e20", "1e30"], invalid: ["1e19", "100000000000000000001"])

private let lengthCases: [SchemaCase] =
    // Code points: not UTF-8 bytes (💩 is 4), not grapheme clusters (e + U+0301 is one).
    cases(#"{"minLength": 2}"#, valid: [#""ab""#, #""e\u0301""#, #""💩💩""#, "12"],
          invalid: [#""""#, #""a""#, #""💩""#, #""é""#])
    + cases(#"{"maxLength": 2}"#, valid: [#""💩💩""#, #""e\u0301""#, #""""#, "[1, 2, 3]"],
            invalid: [#""abc""#, #""e\u0301\u0301""#, #""🇫🇷🇩🇪""#])
    + cases(#"{"minLength": 2.0}"#, valid: [#""ab""#], invalid: [#""a""#])
    + cases(#"{"maxLength": 0}"#, valid: [#""""#], invalid: [#"" ""#])

@Suite struct JSONSchemaScalarTests {
    @Test(arguments: typeCases) func type(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: enumCases) func enumeration(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: constCases) func constant(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: boundCases) func bounds(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: multipleOfCases) func multipleOf(_ c: SchemaCase) throws { try c.run() }
    @Test(arguments: lengthCases) func lengths(_ c: SchemaCase) throws { try c.run() }

    @Test func multipleOfIsExactWhereDoubleIsNot() throws {
        // The reason for decimal arithmetic: in Double, 4.35 / 0.01 is not integral and
        // 0.0075 leaves a remainder modulo 0.0001.
        #expect((4.35 / 0.01).rounded() != 4.35 / 0.01)
        #expect(0.0075.truncatingRemainder(dividingBy: 0.0001) != 0)
        #expect(try violations(#"{"multipleOf": 0.01}"#, "4.35").isEmpty)
        #expect(try violations(#"{"multipleOf": 0.0001}"#, "0.0075").isEmpty)
        #expect(try violations(#"{"multipleOf": 0.01}"#, "0.015") == ["(root): 0.015 is not a multiple of 0.01"])
    }

    @Test func int64Boundaries() throws {
        let s = try compileSchema(#"{"type": "integer", "minimum": -9223372036854775808, "maximum": 9223372036854775807}"#)
        for (literal, valid) in [("9223372036854775807", true), ("9223372036854775808", false), ("9223372036854775807.0", true),
                                 ("9.223372036854775808e18", false), ("-9223372036854775808", true),
                                 ("-9223372036854775809", false), ("-9.223372036854775808e18", true), ("1e3", true), ("2.5", false)] {
            #expect(s.validate(try JSONValue.parse(literal)).isEmpty == valid, "\(literal)")
        }
    }
}
