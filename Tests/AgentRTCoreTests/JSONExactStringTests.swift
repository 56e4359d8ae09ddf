import Testing
@testable import AgentRTCore

// Strings compare by exact code points everywhere: Swift's String == says "e\u{301}" == "é"
// (canonical equivalence), JSON and JSON Schema do not.

/// Each pair is canonically equivalent (so Swift's `==` holds) but a different code point sequence.
private let lookAlikes: [(String, String)] = [
    ("\u{E9}", "e\u{301}"),      // é precomposed / decomposed
    ("\u{C5}", "A\u{30A}"),      // Å precomposed / decomposed
    ("\u{C5}", "\u{212B}"),      // Å / ANGSTROM SIGN
    ("K", "\u{212A}"),           // K / KELVIN SIGN
    ("\u{1E69}", "s\u{323}\u{307}"),  // ṩ / s + dot below + dot above
]

/// JSON text escaping every scalar, so both spellings survive into the documents below.
private func escaped(_ s: String) -> String {
    var out = "\""
    for unit in s.utf16 { out += "\\u" + String(unit, radix: 16).leftPadded(4) }
    return out + "\""
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

private let schemaCases: [SchemaCase] = lookAlikes.flatMap { (a, b) -> [SchemaCase] in
    let (qa, qb) = (escaped(a), escaped(b))
    return cases(#"{"const": \#(qa)}"#, valid: [qa], invalid: [qb])
        + cases(#"{"enum": [\#(qa), "other"]}"#, valid: [qa], invalid: [qb])
        + cases(#"{"uniqueItems": true}"#, valid: ["[\(qa), \(qb)]"], invalid: ["[\(qa), \(qa)]"])
        + cases(#"{"properties": {\#(qa): {"type": "integer"}}, "additionalProperties": false}"#,
                valid: ["{\(qa): 1}"], invalid: ["{\(qb): 1}", "{\(qa): \"x\"}"])
        + cases(#"{"required": [\#(qa)]}"#, valid: ["{\(qa): 0}"], invalid: ["{\(qb): 0}"])
        + cases(#"{"propertyNames": {"const": \#(qa)}}"#, valid: ["{\(qa): 0}"], invalid: ["{\(qb): 0}"])
        + cases(#"{"const": {\#(qa): 1}}"#, valid: ["{\(qa): 1}"], invalid: ["{\(qb): 1}"])
        + cases(#"{"dependentRequired": {\#(qa): ["z"]}}"#, valid: ["{\(qb): 1}"], invalid: ["{\(qa): 1}"])
}

@Suite struct JSONExactStringTests {
    @Test(arguments: schemaCases) func schemaKeywordsCompareCodePoints(_ c: SchemaCase) throws { try c.run() }

    @Test func swiftEqualityWouldMergeThem() {
        for (a, b) in lookAlikes {
            #expect(a == b, "the premise: Swift String == uses canonical equivalence")
            #expect(JSONValue.string(a) != JSONValue.string(b))
            #expect(Set<JSONValue>([.string(a), .string(b)]).count == 2)
        }
    }

    @Test func objectKeysAreDistinctByBytes() throws {
        for (a, b) in lookAlikes {
            let text = "{\(escaped(a)): 1, \(escaped(b)): 2}"
            let object = try #require(JSONValue.parse(text).objectValue)
            #expect(object.count == 2, "\(text)")
            #expect(object[a] == 1 && object[b] == 2)
            #expect(JSONValue.isValid(text))
            var built = JSONObject()
            built[a] = 1
            built[b] = 2
            #expect(built.count == 2 && built[a] == 1 && built[b] == 2)
            built[b] = nil
            #expect(built.count == 1 && built[a] == 1 && built.contains(key: a) && !built.contains(key: b))
            #expect(JSONObject([(a, 1)]) != JSONObject([(b, 1)]))
        }
    }

    @Test func largeObjectsUseTheSameExactKeys() {
        // Past the index threshold, lookups go through a dictionary: it must not merge keys either.
        var object = JSONObject()
        for i in 0..<20 { object["k\(i)"] = .int(i) }
        object["\u{E9}"] = "precomposed"
        object["e\u{301}"] = "decomposed"
        #expect(object.count == 22)
        #expect(object["\u{E9}"] == "precomposed" && object["e\u{301}"] == "decomposed")
    }

    @Test func patternLiteralsCompareCodePoints() throws {
        #expect(try violations(#"{"pattern": "^\u00e9$"}"#, #""e\u0301""#) == [#"(root): does not match pattern "^é$""#])
        #expect(try violations(#"{"pattern": "^\u00e9$"}"#, #""\u00e9""#).isEmpty)
    }
}
