import Testing
@testable import AgentRTCore

/// Parses raw bytes (for inputs a Swift String cannot hold, like invalid UTF-8).
private func parseBytes(_ bytes: [UInt8]) -> Result<JSONValue, JSONError> {
    bytes.withUnsafeBytes { raw in Result { () throws(JSONError) in try JSONValue.parse(bytes: raw) } }
}

private func isValidBytes(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { JSONValue.isValid(bytes: $0) }
}

/// Texts already in compact canonical form: they must serialize back unchanged.
private let canonicalTexts = [
    "null", "true", "false", "0", "-0", "12", "-3.25", "1e10", "2.5E-3", "-1.0e+2",
    "\"\"", "\"hello\"", "\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\"", "\"é😀\u{2028}\"",
    "[]", "{}", "[1,[2,[3,{}]],\"x\"]", "{\"b\":1,\"a\":[true,null],\"c\":{\"d\":\"e\"}}",
    "18446744073709551615", "-9223372036854775808", "123456789012345678901234567890",
]

/// Malformed inputs paired with a fragment the error message must contain.
private let rejections: [(String, String)] = [
    ("", "end of input"), ("   ", "end of input"), ("[1, 2] x", "after the JSON value"),
    ("1 2", "after the JSON value"), ("{} {}", "after the JSON value"),
    ("01", "leading zeros"), ("-01", "leading zeros"), ("00.5", "leading zeros"),
    ("1.", "decimal point"), ("1.e5", "decimal point"), (".5", "expected a value"), ("+1", "expected a value"),
    ("1e", "exponent"), ("1e+", "exponent"), ("-", "after '-'"), ("-Infinity", "after '-'"),
    ("NaN", "invalid literal \"NaN\""), ("Infinity", "invalid literal \"Infinity\""), ("nan", "invalid literal"),
    ("tru", "invalid literal \"tru\""), ("nul", "invalid literal"), ("True", "invalid literal"), ("undefined", "invalid literal"),
    ("// c\n1", "comments"), ("/* c */ 1", "comments"), ("[1 /* c */]", "comments"), ("{\"a\":1 // c\n}", "comments"),
    ("[1,]", "trailing comma in array"), ("[1, ]", "trailing comma in array"), ("{\"a\":1,}", "trailing comma in object"),
    ("[,1]", "expected a value"), ("{,}", "expected a string key"),
    ("\"a\u{01}b\"", "control character 0x01"), ("\"a\nb\"", "control character 0x0A"), ("\"\t\"", "control character 0x09"),
    ("\"\\x\"", "invalid escape sequence '\\x'"), ("\"\\'\"", "invalid escape"), ("\"\\U0041\"", "invalid escape"),
    ("\"\\u12G4\"", "4 hex digits"), ("\"\\u12\"", "4 hex digits"),
    ("\"\\uD800\"", "lone surrogate \\uD800"), ("\"\\uDBFF\\u0041\"", "lone surrogate"), ("\"\\uD800\\uD800\"", "lone surrogate"),
    ("\"\\uDC00\"", "lone surrogate \\uDC00"), ("\"\\uDE00\\uD83D\"", "lone surrogate"),
    ("\"abc", "unterminated string"), ("\"abc\\", "unterminated string"), ("'a'", "expected a value"),
    ("{a:1}", "expected a string key"), ("{\"a\" 1}", "expected ':'"), ("{\"a\":1 \"b\":2}", "expected ',' or '}'"),
    ("[1 2]", "expected ',' or ']'"), ("[1", "end of input"), ("{\"a\":", "end of input"), ("{\"a\"", "end of input"),
    ("\u{FEFF}1", "expected a value"), ("[1]]", "after the JSON value"), ("\u{0B}1", "expected a value"),
]

/// Byte sequences that are not valid UTF-8 (or not allowed outside strings).
private let invalidUTF8: [[UInt8]] = [
    [0x22, 0xC3, 0x28, 0x22],              // bad continuation
    [0x22, 0xC0, 0xAF, 0x22],              // overlong '/'
    [0x22, 0xE0, 0x80, 0xAF, 0x22],        // overlong 3-byte
    [0x22, 0xED, 0xA0, 0x80, 0x22],        // UTF-8-encoded surrogate
    [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
    [0x22, 0xE2, 0x82, 0x22],              // truncated sequence
    [0x22, 0x80, 0x22],                    // stray continuation
    [0x22, 0xFF, 0x22], [0x22, 0xF8, 0x88, 0x80, 0x80, 0x80, 0x22],
    [0x22, 0xE2, 0x82],                    // truncated at end of input
]

@Suite struct JSONTests {
    // MARK: Parsing and round trips

    @Test(arguments: canonicalTexts)
    func roundTrip(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == text)
        #expect(try JSONValue.parse(value.prettyPrinted()) == value)
        #expect(try JSONValue.parse(value.prettyPrinted(indent: 0)) == value)
    }

    @Test func whitespaceAndStructure() throws {
        let value = try JSONValue.parse(" \t\r\n{ \"a\" : [ 1 , 2.5 , \"x\" ] , \"b\" : null }\n ")
        #expect(value == ["a": [1, 2.5, "x"], "b": nil])
        #expect(value.serialized() == "{\"a\":[1,2.5,\"x\"],\"b\":null}")
    }

    @Test(arguments: rejections)
    func rejects(input: String, fragment: String) throws {
        let error = try #require(throws: JSONError.self) { try JSONValue.parse(input) }
        #expect(error.message.contains(fragment), "\(error)")
        #expect(error.description.hasPrefix("invalid JSON at byte \(error.offset): "))
        #expect(!JSONValue.isValid(input))
    }

    @Test(arguments: invalidUTF8)
    func rejectsInvalidUTF8(bytes: [UInt8]) throws {
        guard case .failure(let error) = parseBytes(bytes) else {
            Issue.record("accepted invalid UTF-8 \(bytes)")
            return
        }
        #expect(error.message.contains("UTF-8") || error.message.contains("unterminated"), "\(error)")
        #expect(!isValidBytes(bytes))
    }

    @Test func rejectsNonASCIIOutsideStrings() throws {
        guard case .failure(let error) = parseBytes([0x5B, 0xC3, 0xA9, 0x5D]) else { Issue.record("accepted"); return }
        #expect(error.offset == 1)
        #expect(error.message.contains("byte 0xC3"))
    }

    @Test func errorOffsetAndDescription() throws {
        let error = try #require(throws: JSONError.self) { try JSONValue.parse("{\"a\":1 \"b\":2}") }
        #expect(error.offset == 7)
        #expect(error.description.hasPrefix("invalid JSON at byte 7: expected ',' or '}' after object member"))
        let control = try #require(throws: JSONError.self) { try JSONValue.parse("[\"ab\ncd\"]") }
        #expect(control.offset == 4)
    }

    @Test func depthLimit() throws {
        let limit = JSONValue.maximumDepth
        #expect(limit == 256)
        let ok = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(JSONValue.isValid(ok))
        _ = try JSONValue.parse(ok)
        let tooDeep = "[" + ok + "]"
        let error = try #require(throws: JSONError.self) { try JSONValue.parse(tooDeep) }
        #expect(error.message.contains("depth"))
        #expect(error.offset == limit)
        #expect(!JSONValue.isValid(tooDeep))
        let objects = String(repeating: "{\"a\":", count: limit + 1) + "1" + String(repeating: "}", count: limit + 1)
        #expect(throws: JSONError.self) { try JSONValue.parse(objects) }
        // Huge nesting must fail cleanly, never overflow the stack.
        let huge = String(repeating: "[", count: 200_000)
        #expect(throws: JSONError.self) { try JSONValue.parse(huge) }
        #expect(!JSONValue.isValid(huge))
    }

    @Test(arguments: [
        ("\"\\u00e9\"", "é"), ("\"\\u00E9\"", "é"), ("\"\\uD83D\\uDE00\"", "😀"), ("\"\\ud83d\\ude00!\"", "😀!"),
        ("\"\\u0000\"", "\u{0}"), ("\"\\u20AC\"", "€"), ("\"\\uFFFF\"", "\u{FFFF}"), ("\"\\uDBFF\\uDFFF\"", "\u{10FFFF}"),
        ("\"\\/\\\"\\\\\\b\\f\\n\\r\\t\"", "/\"\\\u{8}\u{C}\n\r\t"), ("\"é😀 raw\"", "é😀 raw"), ("\"a\\u0041b\"", "aAb"),
    ])
    func unicodeEscapes(json: String, expected: String) throws {
        let value = try JSONValue.parse(json)
        #expect(value.stringValue == expected)
        #expect(try JSONValue.parse(value.serialized()) == value)
    }

    // MARK: Numbers

    @Test func bigIntegers() throws {
        let umax = try #require(JSONValue.parse("18446744073709551615").numberValue)
        #expect(umax.uint64 == UInt64.max && umax.int64 == nil && umax.isInteger)
        let imin = try #require(JSONValue.parse("-9223372036854775808").numberValue)
        #expect(imin.int64 == Int64.min && imin.uint64 == nil)
        let imax = try #require(JSONValue.parse("9223372036854775807").numberValue)
        #expect(imax.int64 == Int64.max && imax.uint64 == UInt64(Int64.max))
        let twoTo64 = try #require(JSONValue.parse("18446744073709551616").numberValue)
        #expect(twoTo64.int64 == nil && twoTo64.uint64 == nil && twoTo64.isInteger)
        #expect(twoTo64.double == 18446744073709551616.0)
        #expect(try JSONValue.parse("-9223372036854775809").int64Value == nil)
        let negZero = try #require(JSONValue.parse("-0").numberValue)
        #expect(negZero.int64 == 0 && negZero.uint64 == 0)
        #expect(JSONValue.int(UInt64.max).serialized() == "18446744073709551615")
        #expect(JSONValue.int(Int64.min).serialized() == "-9223372036854775808")
        #expect(JSONNumber(UInt64.max).text == "18446744073709551615")
    }

    @Test func nonIntegerLiterals() throws {
        let n = try #require(JSONValue.parse("1.0").numberValue)
        #expect(!n.isInteger && n.int64 == nil && n.double == 1.0 && n.isIntegral)
        #expect(try JSONValue.parse("1e3").int64Value == nil)
        #expect(try JSONValue.parse("1e400").doubleValue == nil)   // overflows Double
        #expect(try JSONValue.parse("1e-400").doubleValue == 0)
        #expect(try JSONValue.parse("-2.5e-3").doubleValue == -0.0025)
    }

    @Test func doubleFormatting() throws {
        #expect(JSONValue.double(1.0).serialized() == "1.0")
        #expect(JSONValue.double(-0.0).serialized() == "-0.0")
        #expect(JSONValue.double(0.1).serialized() == "0.1")
        #expect(JSONValue.double(.nan) == .null)
        #expect(JSONValue.double(.infinity).serialized() == "null")
        #expect(JSONValue.double(-.infinity).serialized() == "null")
        for d in [1e300, Double.leastNonzeroMagnitude, 1.7976931348623157e308, 123456.789, 1e-7, -3.0, 2.5e16] {
            let text = JSONValue.double(d).serialized()
            #expect(JSONValue.isValid(text), "\(text)")
            #expect(try JSONValue.parse(text).doubleValue == d)
        }
        #expect(JSONNumber(literal: "1.5e3")?.double == 1500)
        #expect(JSONNumber(literal: "01") == nil && JSONNumber(literal: "1 ") == nil && JSONNumber(literal: "") == nil)
    }

    @Test func numbersCompareByValue() throws {
        #expect(try JSONValue.parse("1") == JSONValue.parse("1.0"))
        #expect(try JSONValue.parse("100") == JSONValue.parse("1e2"))
        #expect(try JSONValue.parse("0.5") == JSONValue.parse("5e-1"))
        #expect(try JSONValue.parse("0") == JSONValue.parse("-0.0"))
        #expect(try JSONValue.parse("18446744073709551616") != JSONValue.parse("18446744073709551617"))
        #expect(try JSONValue.parse("1.5") != JSONValue.parse("1.25"))
        let set: Set<JSONValue> = [1, 1.0, try JSONValue.parse("10e-1"), 2]
        #expect(set.count == 2)
        let a = try #require(JSONNumber(literal: "9223372036854775808"))
        let b = try #require(JSONNumber(literal: "9.223372036854775807e18"))
        #expect(a.compare(b) == 1 && b.compare(a) == -1)
        #expect(try #require(JSONNumber(literal: "-0.001")).compare(#require(JSONNumber(literal: "-0.01"))) == 1)
    }

    // MARK: Objects, literals, accessors

    @Test func objectBehaviour() throws {
        var object = JSONObject()
        for i in 0..<20 { object["k\(i)"] = .int(i) }   // crosses the index threshold
        #expect(object.count == 20 && object["k13"] == 13)
        object["k3"] = "x"
        object["k5"] = nil
        #expect(object.count == 19 && object.keys[3] == "k3" && object["k3"] == "x" && object["k5"] == nil)
        #expect(object["k19"] == 19 && object.removeValue(forKey: "k19") == 19 && object["k19"] == nil)
        let pairs = Array(object.prefix(2).map(\.key))
        #expect(pairs == ["k0", "k1"])
        let x: JSONObject = ["a": 1, "b": 2]
        let y = JSONObject([("b", 2), ("a", 1)])
        #expect(x == y && x.hashValue == y.hashValue)   // member order is not significant
        #expect(JSONObject([("a", 1), ("a", 2)]).count == 1)
    }

    @Test func literalsAndAccessors() throws {
        let value: JSONValue = ["s": "str", "i": 42, "d": 1.5, "b": true, "n": nil, "a": [1, "two"], "o": ["k": false]]
        #expect(value["s"]?.stringValue == "str" && value["i"]?.int64Value == 42 && value["d"]?.doubleValue == 1.5)
        #expect(value["b"]?.boolValue == true && value["n"]?.isNull == true && value["a"]?.arrayValue?.count == 2)
        #expect(value["o"]?["k"] == false && value["missing"] == nil && JSONValue.string("x")["k"] == nil)
        #expect(value["i"]?.stringValue == nil && value["s"]?.int64Value == nil)
        let names = [JSONValue.null, true, 1, "s", [], [:]].map(\.typeName)
        #expect(names == ["null", "boolean", "number", "string", "array", "object"])
        #expect(value.serialized() == "{\"s\":\"str\",\"i\":42,\"d\":1.5,\"b\":true,\"n\":null,\"a\":[1,\"two\"],\"o\":{\"k\":false}}")
    }

    // MARK: Serialization

    @Test func prettyPrinting() {
        let value: JSONValue = ["a": [1, 2], "b": [:], "c": [], "d": ["e": "f"]]
        #expect(value.prettyPrinted() == """
            {
              "a": [
                1,
                2
              ],
              "b": {},
              "c": [],
              "d": {
                "e": "f"
              }
            }
            """)
        #expect(JSONValue.array([1]).prettyPrinted(indent: 4) == "[\n    1\n]")
        #expect(JSONValue.string("x").prettyPrinted() == "\"x\"")
    }

    @Test func quoting() {
        var out = "prefix:"
        JSONValue.appendQuoted("a\"b\\c\n\r\t\u{8}\u{C}\u{0}\u{1F}\u{7F}é😀/", to: &out)
        #expect(out == "prefix:\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0000\\u001f\u{7F}é😀/\"")
        var empty = ""
        JSONValue.appendQuoted("", to: &empty)
        #expect(empty == "\"\"")
    }

    // MARK: isValid agrees with parse

    @Test func validatorAgreesWithParserOnCorpus() {
        let texts = canonicalTexts + rejections.map(\.0) + [" 1 ", "[ ]", "{ }", "\"\\u0041\"", "[1,{\"a\":[]}]"]
        for text in texts {
            let parsed = (try? JSONValue.parse(text)) != nil
            #expect(JSONValue.isValid(text) == parsed, "\(text)")
        }
        for bytes in invalidUTF8 + [[0x22, 0xC3, 0xA9, 0x22], [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22]] {
            let parsed = if case .success = parseBytes(bytes) { true } else { false }
            #expect(isValidBytes(bytes) == parsed, "\(bytes)")
        }
    }

    @Test func validatorAgreesWithParserOnRandomInputs() throws {
        // Deterministic fuzzing over a JSON-ish alphabet; also checks that every
        // accepted input survives serialize → parse.
        let alphabet = Array("{}[],:\"\\ 0123456789-+.eEtrufalsn/u\u{1}é".utf8) + [0xC3, 0xFF]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var accepted = 0
        for _ in 0..<20_000 {
            let length = Int(next() % 12)
            let bytes = (0..<length).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            let result = parseBytes(bytes)
            if case .success(let value) = result {
                accepted += 1
                #expect(try JSONValue.parse(value.serialized()) == value)
            }
            let parsed = if case .success = result { true } else { false }
            #expect(isValidBytes(bytes) == parsed, "\(bytes)")
        }
        #expect(accepted > 0)
    }
}
