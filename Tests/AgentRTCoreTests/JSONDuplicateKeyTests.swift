import Testing
@testable import AgentRTCore

// An object may not repeat a key: a C tool reads the raw text (and may take the first value)
// while the runtime validated the parsed one (formerly the last). Both parse and isValid refuse.

/// Texts with a repeated key, with the key and the byte offset of its second occurrence.
private let duplicates: [(text: String, key: String, offset: Int)] = [
    (#"{"a":1,"a":2}"#, "a", 7),
    (#"{"a":1,"b":2,"a":3}"#, "a", 13),
    (#"{ "x" : { "b" : 1 , "b" : 2 } }"#, "b", 20),
    (#"[{"ok":1},{"k":1,"k":1}]"#, "k", 17),
    (#"{"a":1,"\u0061":2}"#, "a", 7),           // the same key once unescaped
    (#"{"é":1,"\u00e9":2}"#, "é", 8),
    (#"{"":1,"":2}"#, "", 6),
    (#"{"a":1,"a":}"#, "a", 7),                 // reported before the later syntax error
    (#"{"a":{"a":1},"a":2}"#, "a", 13),
]

/// Texts that must stay valid: repeats only in different objects, or keys that differ by bytes.
private let distinct: [String] = [
    #"[{"a":1},{"a":2}]"#, #"{"a":{"a":1}}"#, #"{"a":1,"A":2}"#, #"{"\u00C5":1,"A\u030A":2}"#,
    #"{"é":1,"e\u0301":2}"#, #"{"a":1,"a ":2}"#, #"{"a\u0000":1,"a":2}"#,
]

@Suite struct JSONDuplicateKeyTests {
    @Test(arguments: duplicates)
    func refused(text: String, key: String, offset: Int) throws {
        let error = try #require(throws: JSONError.self) { try JSONValue.parse(text) }
        var quoted = ""
        JSONValue.appendQuoted(key, to: &quoted)
        #expect(error.message == "duplicate key \(quoted) in object (keys must be unique)", "\(error)")
        #expect(error.offset == offset, "\(error)")
        #expect(!JSONValue.isValid(text))
        let syntax = try #require(throws: JSONError.self) { try JSONValue.checkSyntax(text) }
        #expect(syntax.offset == error.offset && syntax.message == error.message)
    }

    @Test(arguments: distinct)
    func accepted(text: String) throws {
        #expect(throws: Never.self) { try JSONValue.parse(text) }
        #expect(JSONValue.isValid(text))
        #expect(throws: Never.self) { try JSONValue.checkSyntax(text) }
    }

    @Test(arguments: [8, 16, 17, 40, 300])
    func largeObjects(keys: Int) throws {
        // Small objects are checked by a scan, large ones by a set: both must find the repeat.
        let members = (0..<keys).map { "\"key\($0)\":\($0)" }
        let unique = "{" + members.joined(separator: ",") + "}"
        #expect(JSONValue.isValid(unique))
        #expect(try JSONValue.parse(unique).objectValue?.count == keys)
        for repeated in [0, keys / 2, keys - 1] {
            let text = "{" + (members + ["\"key\(repeated)\":0"]).joined(separator: ",") + "}"
            #expect(!JSONValue.isValid(text), "key\(repeated) of \(keys)")
            let error = try #require(throws: JSONError.self) { try JSONValue.parse(text) }
            #expect(error.message.hasPrefix("duplicate key \"key\(repeated)\""))
            #expect(error.offset == unique.utf8.count)   // the repeated key's opening quote
        }
    }

    @Test func nestedObjectsKeepSeparateKeySets() throws {
        // The validator keeps one stack of keys; an inner object must not see its parent's keys,
        // and the parent must see its own keys again after the inner object closes.
        #expect(JSONValue.isValid(#"{"a":{"b":1,"c":{"a":1,"b":2}},"b":{"a":[{"a":1}]}}"#))
        #expect(!JSONValue.isValid(#"{"a":{"b":1,"c":{"a":1}},"a":2}"#))
        let deep = String(repeating: #"{"k":"#, count: 200) + "1" + String(repeating: "}", count: 200)
        #expect(JSONValue.isValid(deep))
    }

    @Test func longKeysAreShortenedInTheMessage() throws {
        let key = String(repeating: "k", count: 500)
        let error = try #require(throws: JSONError.self) { try JSONValue.parse("{\"\(key)\":1,\"\(key)\":2}") }
        #expect(error.message.count < 120 && error.message.contains("kkk..."), "\(error.message)")
    }

    @Test func programmaticObjectsStillReplace() {
        // Only JSON text is strict; building an object in Swift keeps last-wins assignment.
        let object = JSONObject([("a", 1), ("b", 2), ("a", 3)])
        #expect(object.keys == ["a", "b"] && object["a"] == 3)
    }
}
